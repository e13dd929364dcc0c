"""The Python API: a spec loaded once, analysed (and later built) as often as needed."""
from __future__ import annotations

import os

from . import ast as A
from . import passes
from .analysis import Analysis, analyze, collapse
from .errors import ArchError, UsageError
from .ir import Graph
from .parser import parse
from .passes.expand import expand


class Network:
    """A parsed and expanded spec. `Network.analyze()` is what `archdsl analyze` prints.

    The passes run once, on the first call that needs them; every analysis, build, source file
    and diagram of the network reads that one analysed graph."""

    def __init__(self, graph: Graph, path: str):
        self.graph = graph
        self.path = path

    @property
    def name(self) -> str:
        return self.graph.name

    def analysed(self) -> Graph:
        """The graph, annotated by every pass (passes/__init__.py)."""
        return passes.run(self.graph)

    def analyze(self, batch: int = 1, dtype: str = "float32", depth: int | None = None) -> Analysis:
        result = analyze(self.analysed(), batch=batch, dtype=dtype)
        return result if depth is None else collapse(result, self.graph, depth)

    def _repr_svg_(self) -> str | None:
        """The diagram `archdsl graph` draws, for Jupyter; None (the text repr) without Graphviz's
        `dot` program or when the spec does not analyse."""
        from .backends import dot

        try:
            return dot.svg(self.analyze())
        except ArchError:
            return None

    def build(self, device: str = "cpu", dtype: str = "float32", memory_format: str | None = None):
        """A torch.nn.Module (a torch.fx.GraphModule) whose submodules carry the analysis' names.

        `device`: cpu, cuda or meta (instant, allocates nothing); `dtype`: float32, float16,
        bfloat16 or float64; `memory_format`: None or channels_last. Imports torch.
        """
        from .backends.torch import build

        return build(self.analysed(), device=device, dtype=dtype, memory_format=memory_format)

    def source(self, path: str | None = None) -> str:
        """Standalone PyTorch source of the network (`archdsl build -o model.py`)."""
        from .backends.pysource import emit_source

        return emit_source(self.analysed(), source=path)


def load(spec: str | os.PathLike, set: dict | None = None) -> Network:
    """Load a spec from a path, or from text when `spec` contains a newline or does not exist.

    `set` overrides constants (`let`), as `--set NAME=VALUE` does: values are ints, floats, words,
    tuples (sizes) or text in the spec's own syntax ("160x160x3").
    """
    spec = os.fspath(spec)
    if "\n" not in spec and os.path.exists(spec):
        with open(spec, encoding="utf-8") as f:
            text, path = f.read(), spec
    elif "\n" in spec or not spec.endswith(".arch"):
        text, path = spec, "<spec>"
    else:
        raise UsageError(f"no such file: {spec}")
    program = parse(text, path)
    overrides = {name: _override(name, value) for name, value in (set or {}).items()}
    return Network(expand(program, overrides), path)


def build(spec: str | os.PathLike, set: dict | None = None, **options):
    """`archdsl.build("specs/resnet50.arch", device="cuda")`: load(spec, set).build(**options)."""
    return load(spec, set=set).build(**options)


def _override(name: str, value) -> A.Expr:
    """A `--set` value, parsed by the spec's own grammar (so `160x160x3` and `relu` work)."""
    if not isinstance(value, str):
        value = "x".join(map(str, value)) if isinstance(value, tuple) else ("yes" if value is True else "no" if value is False else repr(value))
    try:
        program = parse(f"let {name} = {value}\n", f"--set {name}")
    except Exception:
        raise UsageError(f"--set {name}={value}: the value is not a number, size or word") from None
    if len(program.body) != 1 or not isinstance(program.body[0], A.Let):
        raise UsageError(f"--set {name}={value}: the value is not a number, size or word")
    return program.body[0].value
