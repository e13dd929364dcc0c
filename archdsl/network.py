"""The Python API: a spec loaded once, analysed (and later built) as often as needed."""
from __future__ import annotations

import os

from . import ast as A
from . import passes
from .analysis import Analysis, analyze, collapse
from .errors import ArchError, LimitError, ShapeError, UsageError, Warning_, did_you_mean, quote
from .files import read_spec
from .ir import Graph
from .ops.base import fmt_size, slide_order
from .parser import parse
from .passes.expand import expand
from .passes.expand.expander import batch_first_hint


class Network:
    """A parsed and expanded spec. `Network.analyze()` is what `archdsl analyze` prints.

    The passes run once, on the first call that needs them; every analysis, build, source file
    and diagram of the network reads that one analysed graph."""

    def __init__(self, graph: Graph, path: str, input: str | None = None):
        self.graph = graph
        self.path = path
        self.input = input  # the --input size that replaced the spec's, as written ("160x160x3"), or None
        # with --input, the spec's shape assertions (written for its own input) warn instead of failing
        self._assertions, graph.assertions = (graph.assertions, []) if input is not None else ([], graph.assertions)

    @property
    def name(self) -> str:
        return self.graph.name

    def __repr__(self) -> str:
        """`<Network vgg16 (specs/vgg16.arch): input 224x224x3, 40 layers, 138,357,544 params>`"""
        head = f"<Network {self.name} ({self.path}): input {fmt_size(slide_order(self.graph.nodes[0].attrs['shape']))}"
        try:
            params = f"{sum(node.figures['params'] for node in self.analysed().nodes):,} params"
        except ArchError as err:
            params = f"does not analyse: {err.message}"
        layers = len(self.graph.nodes) - 1
        return f"{head}, {layers:,} layer{'s' if layers != 1 else ''}, {params}>"

    def analysed(self) -> Graph:
        """The graph, annotated by every pass (passes/__init__.py)."""
        fresh = not self.graph.analysed
        try:
            graph = passes.run(self.graph)
        except ShapeError as err:
            self._explain(err)
            raise
        if fresh and self._assertions:
            self._check_assertions(graph)
        return graph

    def _check_assertions(self, graph: Graph) -> None:
        """`[55x55x96]` after `--input`: the first assertion that no longer holds, as one warning."""
        nodes = graph.nodes
        rank = len(nodes[0].shape)
        failed = [(a, slide_order(nodes[a.node].shape, rank)) for a in self._assertions
                  if tuple(a.dims) != slide_order(nodes[a.node].shape, rank)]
        if failed:
            (first, got), more = failed[0], len(failed) - 1
            rest = f"; {more} more assertion{'s' if more != 1 else ''} of the spec {'do' if more != 1 else 'does'} not hold either" if more else ""
            graph.warnings.append(Warning_(
                f"{nodes[first.node].name} gives [{fmt_size(got)}], not the [{fmt_size(first.dims)}] the spec asserts "
                f"for `{self._written_input()}` (the input is {self.input}){rest}",
                first.span, "with --input (load(input=...)), shape assertions are checked but do not stop the analysis", code="W0002"))

    def _written_input(self) -> str:
        span = self.graph.nodes[0].span
        return span.source.line(span.line)[span.column - 1:span.end_column - 1 if span.end_line == span.line else None].strip()

    def _explain(self, err: ShapeError) -> None:
        """A shape error of an input written batch first (`input 1x64x56x56`) says how archdsl writes
        inputs; one after `--input`, without a hint of its own, says which input the spec was written for."""
        node = self.graph.nodes[0]
        hint = batch_first_hint(slide_order(node.attrs["shape"]), "input" if self.input is None else "--input")
        if hint is not None:
            err.hint = hint
        elif self.input is not None and err.hint is None:
            err.hint = f"the spec was written for `{self._written_input()}`; --input {self.input} changes every shape after it"

    def analyze(self, batch: int = 1, dtype: str = "float32", depth: int | None = None, optimizer: str = "sgd",
                device: str = "cpu", convention: str = "archdsl", amp: str | None = None) -> Analysis:
        """`convention`: whose counting `macs` and `flops` follow, archdsl's own or another tool's
        (fvcore, torchinfo, ptflops, ptflops-aten, thop, flopcounter; docs/conventions.md).
        `amp`: bf16 or fp16, the memory figures of a forward under torch.autocast (float32 weights)."""
        result = analyze(self.analysed(), batch=batch, dtype=dtype, optimizer=optimizer, device=device,
                         convention=convention, amp=amp)
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
        super().__init__("building a PyTorch module needs PyTorch, which is not installed: pip install 'archdsl[torch]'",
                         code="E0702")
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


def load(spec: str | os.PathLike, set: dict | None = None, input: str | tuple | int | None = None,
         lib=()) -> Network:
    """Load a spec from a path, a library spec by its name ("resnet50", see `archdsl list`), or
    spec text (anything with a newline, or one line with a space that is not a file: "input 8 ; fc 2").

    `set` overrides constants (`let`), as `--set NAME=VALUE` does: values are ints, floats, words,
    tuples (sizes) or text in the spec's own syntax ("160x160x3"). `input` replaces the size of the
    spec's `input` statement, as `--input` does: "160x160x3" or (160, 160, 3), channels last and
    without a batch dimension; every shape is inferred from it, so it is fixed here. `lib`: folders
    `use` may read besides the spec's own (as `--lib`; ARCHDSL_PATH adds more).

    A file is read as untrusted input (archdsl/files.py): a regular file of at most the size
    limit, in UTF-8.
    """
    spec = os.fspath(spec)
    path = _resolve(spec)
    if path is None:
        return load_text(spec, "<spec>", set=set, input=input, lib=lib)
    return load_text(read_spec(path), path, set=set, input=input, lib=lib)


def load_text(text: str, path: str = "<spec>", set: dict | None = None, input: str | tuple | int | None = None,
              lib=()) -> Network:
    """Load spec text; `path` is its name in messages (`<stdin>` for `archdsl analyze -`)."""
    program = parse(text, path)
    overrides = {name: _override(name, value) for name, value in (set or {}).items()}
    if input is None:
        return Network(expand(program, overrides, lib=lib), path)
    size = _input_text(input)
    return Network(expand(program, overrides, input=_input_override(size), lib=lib), path, input=size)


def resolve_path(spec: str) -> str:
    """The file a command-line SPEC names: a path, else a library spec's name. Never spec text:
    anything else is "no such file", with the .arch files nearby or the library spec it may mean."""
    path = _resolve(spec, text=False)
    assert path is not None
    return path


def _resolve(spec: str, text: bool = True) -> str | None:
    """The file `spec` names: a path, else the name of a library spec; None for spec text
    (only where `text`).

    A name or path that is neither raises UsageError, with the file or library spec it may mean."""
    if text and "\n" in spec:
        return None
    if os.path.exists(spec):
        if os.path.isdir(spec):
            raise UsageError(f"{spec} is a folder, not a spec", code="E0002")
        return spec
    from . import library  # only here: a spec named by its path needs no library lookup
    bare = library.is_bare_name(spec)
    if bare and (found := library.find(spec)) is not None:
        return str(found)
    if text and not bare and not spec.endswith(".arch") and any(c.isspace() for c in spec):
        return None  # one line of spec text: "input 8 ; fc 2"
    shown = quote(spec)
    hint = _nearby(spec)
    if hint is None:
        close = did_you_mean(os.path.basename(spec).removesuffix(".arch"), library.names())
        hint = f"{close} (a library spec: `archdsl list` shows them all)" if close else None
    if bare:
        raise UsageError(f"no spec '{shown}': it is neither a file nor a spec of the library",
                         hint=hint or "`archdsl list` shows the spec library", code="E0001")
    raise UsageError(f"no such file: {shown}", hint=hint, code="E0001")


def _nearby(spec: str) -> str | None:
    """'did you mean ...?' over the .arch files in the folder `spec` names (or would be in)."""
    folder, name = os.path.split(spec)
    try:
        with os.scandir(folder or ".") as entries:
            files = [e.name for e in entries if e.name.endswith(".arch")][:1000]
    except OSError:
        return None
    stem = name.removesuffix(".arch")
    close = did_you_mean(stem, [f.removesuffix(".arch") for f in files])
    if close is None:
        return None
    best = close.split("'")[1] + ".arch"
    return f"did you mean {os.path.join(folder, best)}?"


def build(spec: str | os.PathLike, set: dict | None = None, input: str | tuple | int | None = None, **options):
    """`archdsl.build("specs/resnet50.arch", device="cuda")`: load(spec, set, input).build(**options)."""
    return load(spec, set=set, input=input).build(**options)


def _input_text(value) -> str:
    return "x".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value).strip()


def _input_override(text: str) -> A.Expr:
    """An `--input` value, parsed as the size of an `input` statement (`160x160x3`, `784`)."""
    try:
        program = parse(f"input {text}\n", "--input")
    except ArchError:
        program = None
    if program is None or len(program.body) != 1 or not isinstance(program.body[0], A.Input):
        raise UsageError(f"--input {text}: write a size such as 224x224x3 (HxWxC), 8000x1 (LxC) or 784",
                         hint="channels last and without a batch dimension, as the spec's `input` writes it", code="E0901")
    return program.body[0].value


def _override(name: str, value) -> A.Expr:
    """A `--set` value, parsed by the spec's own grammar (so `160x160x3` and `relu` work)."""
    if not isinstance(value, str):
        value = "x".join(map(str, value)) if isinstance(value, tuple) else ("yes" if value is True else "no" if value is False else repr(value))
    try:
        program = parse(f"let {name} = {value}\n", f"--set {name}")
    except LimitError as err:  # 1e999, a number past the limit
        raise UsageError(f"--set {quote(name)}={quote(value)}: {err.message}", code="E0901") from None
    except Exception:
        raise UsageError(f"--set {quote(name)}={quote(value)}: the value is not a number, size or word", code="E0901") from None
    line = f"let {name} = {value}"
    if (len(program.body) != 1 or not isinstance(program.body[0], A.Let)
            or line[program.body[0].value.span.end_column - 1:].strip(") \t")):  # a comment after it: `10 # x`
        raise UsageError(f"--set {quote(name)}={quote(value)}: the value is not a number, size or word", code="E0901")
    return program.body[0].value
