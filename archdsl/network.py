"""The Python API: a spec loaded once, analysed (and later built) as often as needed."""
from __future__ import annotations

import os

from . import ast as A
from . import passes
from .analysis import Analysis, analyze, collapse
from .errors import ArchError, UsageError, did_you_mean
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
        return torch_backend().build(self.analysed(), device=device, dtype=dtype, memory_format=memory_format)

    def source(self, path: str | None = None) -> str:
        """Standalone PyTorch source of the network (`archdsl build -o model.py`)."""
        from .backends.pysource import emit_source

        return emit_source(self.analysed(), source=path)


class TorchMissing(ArchError, ModuleNotFoundError):
    """A build where PyTorch is not installed: an ImportError (name "torch"), and an ArchError
    that the command line prints as one sentence saying how to install it."""

    phase = "dependency"

    def __init__(self):
        super().__init__("building a PyTorch module needs PyTorch, which is not installed: pip install 'archdsl[torch]'")
        self.name = "torch"


def torch_backend():
    """backends/torch.py, imported; TorchMissing, saying how to install torch, where it is missing."""
    try:
        from .backends import torch as backend
    except ModuleNotFoundError as err:
        if err.name is None or err.name.split(".")[0] != "torch":
            raise
        raise TorchMissing() from None
    return backend


def load(spec: str | os.PathLike, set: dict | None = None) -> Network:
    """Load a spec from a path, a library spec by its name ("resnet50", see `archdsl list`), or
    spec text (anything else that is not a file: "input 8 ; fc 2").

    `set` overrides constants (`let`), as `--set NAME=VALUE` does: values are ints, floats, words,
    tuples (sizes) or text in the spec's own syntax ("160x160x3").
    """
    spec = os.fspath(spec)
    path = _resolve(spec)
    if path is None:
        text, path = spec, "<spec>"
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    program = parse(text, path)
    overrides = {name: _override(name, value) for name, value in (set or {}).items()}
    return Network(expand(program, overrides), path)


def _resolve(spec: str) -> str | None:
    """The file `spec` names: a path, else the name of a library spec; None for spec text.

    A name or path that is neither raises UsageError, with the library spec it may mean."""
    from . import library

    if "\n" in spec:
        return None
    if os.path.isfile(spec):
        return spec
    bare = library.is_bare_name(spec)
    if bare and (found := library.find(spec)) is not None:
        return str(found)
    if not bare and not spec.endswith(".arch") and any(c.isspace() for c in spec):
        return None  # one line of spec text: "input 8 ; fc 2"
    if os.path.isdir(spec):
        raise UsageError(f"{spec} is a folder, not a spec")
    stem = os.path.basename(spec).removesuffix(".arch")
    close = did_you_mean(stem, library.names())
    hint = f"{close} (a library spec: `archdsl list` shows them all)" if close else None
    if bare:
        raise UsageError(f"no spec '{spec}': it is neither a file nor a spec of the library",
                         hint=hint or "`archdsl list` shows the spec library")
    raise UsageError(f"no such file: {spec}", hint=hint)


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
