"""Every figure archdsl counts, declared once (docs/conventions.md defines each).

A `Figure` is counted per node for one sample by the figures pass; rows, totals, `--depth`
collapsing, JSON, CSV, Markdown and the table read this registry and nothing else. A `Total`
is a network-wide figure derived from the summed ones and the run's settings.
"""

from math import prod
from operator import attrgetter, itemgetter
from typing import Callable, NamedTuple

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


class Counts(NamedTuple):
    """The multiply-adds another tool counts for one layer, one sample, as the layer's op declares
    them (`Op.counts`; docs/conventions.md, "Other tools' conventions"). Each is in MACs, what the
    tool reports at batch 1: fvcore's `FlopCountAnalysis(...).total()` (one per multiply-add),
    torchinfo's `total_mult_adds`, ptflops' `get_model_complexity_info` with its pytorch and its
    aten backend, thop's `profile`, and FlopCounterMode's FLOPs halved (it counts two per
    multiply-add). archdsl's own convention is the op's `macs`."""

    fvcore: int
    torchinfo: int
    ptflops: int
    ptflops_aten: int
    thop: int
    flopcounter: int


# whose convention `macs` and `flops` follow (`--convention`); archdsl's is torchvision's published figures
CONVENTIONS = ("archdsl", *(name.replace("_", "-") for name in Counts._fields))
NOTHING = Counts(0, 0, 0, 0, 0, 0)  # what no tool counts (views, merges, most activations)


class Counted(NamedTuple):
    """What a figure's rule sees: the node, its op, its resolved attributes, its input and output
    shapes, whether its (first) input is a strided view, the node's figures counted so far, and
    the convention of `--convention`. Made by `counted`."""

    node: object
    op: object
    resolved: dict  # node.resolved
    ins: list
    out: tuple  # node.shape
    strided_input: tuple | None = None  # the strides of a strided (first) input
    figures: dict | None = None  # the figures counted before this one (node.figures)
    convention: str = "archdsl"
    once: dict | None = None  # the once-per-forward parts counted before this one (node.once)


def counted(node, op, ins: list, strided_input: tuple | None = None, figures: dict | None = None,
            convention: str = "archdsl", once: dict | None = None) -> Counted:
    return Counted(node, op, node.resolved, ins, node.shape, strided_input, figures, convention, once)


class Settings(NamedTuple):
    """What a training step or an inference is run with: the memory figures depend on it."""

    batch: int = 1
    dtype: str = "float32"  # the parameters' and activations' dtype
    optimizer: str = "sgd"  # sgd | momentum | adam | adamw
    device: str = "cpu"  # cpu | cuda (dropout masks, the caching allocator's rounding, autocast's lists)
    amp: str | None = None  # bf16 | fp16: a forward under torch.autocast (docs/conventions.md, "Mixed precision")

    def block(self, nbytes: int) -> int:
        """A tensor's bytes as the device holds them: CUDA's caching allocator rounds every
        allocation up to a multiple of 512 bytes."""
        return -(-nbytes // 512) * 512 if self.device == "cuda" else nbytes

    def tensor_bytes(self, elements: int, per_sample: bool, dtype: str) -> int:
        """The bytes of a tensor of `elements` (one sample's when `per_sample`, else the whole
        batch's) in `dtype` (`bytes`), as the device holds it at this batch."""
        return self.block(elements * (self.batch if per_sample else 1) * self.bytes(dtype))

    def bytes(self, dtype: str) -> int:
        """Bytes per element of a saved tensor's dtype (ops/base.py, `New`)."""
        if dtype == "int64":
            return 8
        if dtype == "mask" and self.device == "cuda":
            return 1  # CUDA's fused dropout keeps a bool mask
        if dtype == "low":
            return 2  # bfloat16 or float16
        if dtype == "stat" and self.amp:
            return 4  # normalisation statistics stay float32 under autocast
        return DTYPE_BYTES[self.dtype]


OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
AMP = ("bf16", "fp16")


class Figure(NamedTuple):
    name: str  # the JSON/CSV key and the Row attribute
    doc: str  # anchor in docs/conventions.md
    count: Callable[[Counted], int] | None = None  # one sample, one node (figures already counted are in node.figures)
    # or: the figure of one node at the run's settings (memory figures), from what the passes left on it
    at: Callable[[object, Settings], int] | None = None
    per_sample: bool = True  # scales with --batch (figures with `count` only)
    # the part of one sample's count that a forward does once, whatever the batch (not scaled)
    once: Callable[[Counted], int] | None = None
    combine: str = "sum"  # how a collapsed block's row combines its layers' values: sum | max
    column: str = ""  # its column in the table and in Markdown ("": none)
    style: str = "human"  # how report/table.py writes a cell: count | human | params | activations | bytes
    conventional: bool = False  # it follows --convention (counted again for a convention other than archdsl)


def _params(c: Counted) -> int:
    return c.op.params(c.resolved, c.ins, c.out)


def _macs(c: Counted) -> int:
    if c.convention == "archdsl":
        return c.op.macs(c.resolved, c.ins, c.out) + c.op.macs_once(c.resolved)
    return getattr(c.op.counts(c.resolved, c.ins, c.out, c.strided_input), c.convention.replace("-", "_"))


def _once(c: Counted) -> int:
    """The MACs of one sample's count that a forward does once, whatever the batch (`macs_once`;
    under another tool's convention the op's `counts_once`)."""
    if c.convention == "archdsl":
        return c.op.macs_once(c.resolved)
    return getattr(c.op.counts_once(c.resolved), c.convention.replace("-", "_"))


def _activations(c: Counted) -> int:
    own = prod(c.out) if c.op.creates_output and not c.node.inplace else 0
    return own + (prod(c.ins[0]) if _copies(c) else 0)


def copies_input(graph, node) -> bool:
    """Whether an analysed node copies its strided (first) input before reading it."""
    from .ops import OPS

    if not node.inputs:
        return False
    src = graph.nodes[node.inputs[0]]
    return _copies(counted(node, OPS[node.op], [src.shape], src.strided))


def _copies(c: Counted) -> bool:
    """Whether the layer copies its strided input (a crop's slice) first. A reshape views it when
    the strides of its dimensions (size 1 aside) nest; a contiguous copy is made whenever the
    slice cut something, as PyTorch does at every batch above 1."""
    if c.strided_input is None or not c.op.copies_strided_input:
        return False
    mode = c.op.strided_input(c.resolved)
    if mode == "contiguous":
        return True
    if mode == "rows":  # the last dimension stays: the others must nest
        return flat_view_stride(c.ins[0][:-1], c.strided_input[:-1]) is None
    return flat_view_stride(c.ins[0], c.strided_input) is None


def flat_view_stride(shape: tuple, strides: tuple) -> int | None:
    """The stride of a strided tensor flattened as a view, or None where the flatten must copy:
    the strides of its dimensions (size 1 aside) must nest."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    if any(s != s2 * n2 for (_, s), (n2, s2) in zip(dims, dims[1:])):
        return None
    return dims[-1][1] if dims else 1


def _saved_bytes(node, s: Settings) -> int:
    saved = node.amp_saved[s.device] if s.amp else node.saved  # under autocast: made by analysis.analyze
    nbytes = 0
    for n, per_sample, dtype in saved:
        nbytes += s.tensor_bytes(n, per_sample, dtype)
    return nbytes


def _grad_bytes(node, s: Settings) -> int:
    return node.figures["trainable_params"] * DTYPE_BYTES[s.dtype]


def _optimizer_bytes(node, s: Settings) -> int:
    """What torch.optim holds after a step: momentum one buffer per parameter, Adam/AdamW two
    and a float32 `step` per parameter tensor (on the host: not counted on CUDA)."""
    trainable = node.figures["trainable_params"]
    if not trainable or s.optimizer == "sgd":
        return 0
    if s.optimizer == "momentum":
        return trainable * DTYPE_BYTES[s.dtype]
    from .ops import OPS

    steps = OPS[node.op].param_tensors(node.resolved) if s.device != "cuda" else 0
    return 2 * trainable * DTYPE_BYTES[s.dtype] + 4 * steps


FIGURES: tuple[Figure, ...] = (
    Figure("params", "parameters", _params, per_sample=False, column="params", style="params"),
    Figure("trainable_params", "parameters", lambda c: 0 if c.node.frozen else c.figures["params"], per_sample=False),
    Figure("macs", "macs-and-flops", _macs, once=_once, column="MACs", conventional=True),
    Figure("flops", "macs-and-flops", lambda c: 2 * c.figures["macs"],  # FlopCounterMode: two per multiply-add
           once=lambda c: 2 * c.once.get("macs", 0), conventional=True),
    Figure("other_ops", "other-work", lambda c: c.op.other_ops(c.resolved, c.ins, c.out)),
    Figure("activations", "activations", _activations, column="activations", style="activations"),
    Figure("indices", "activations", lambda c: c.op.indices(c.resolved, c.ins, c.out)),  # int64, eval forward
    Figure("saved_bytes", "saved-for-backward", at=_saved_bytes, column="saved", style="bytes"),
    Figure("grad_bytes", "training-memory", at=_grad_bytes),
    Figure("optimizer_bytes", "training-memory", at=_optimizer_bytes),
    # a training step's multiply-adds: the backward's (passes/memory.py), and the forward of checkpointed layers run again
    Figure("backward_macs", "training-step-macs", at=lambda node, s: node.backward_macs * s.batch),
    Figure("recomputed_macs", "training-step-macs", at=lambda node, s: node.figures["macs"] * s.batch if node.recomputed else 0),
)
BY_NAME = {f.name: f for f in FIGURES}
COUNTED = tuple(f for f in FIGURES if f.count is not None)  # per sample, by the figures pass
AT_SETTINGS = tuple(f for f in FIGURES if f.at is not None)
CONVENTIONAL = tuple(f for f in COUNTED if f.conventional)
COLUMNS = tuple(f for f in FIGURES if f.column)


class Total(NamedTuple):
    name: str
    doc: str
    value: Callable[[dict, object], int]  # (summed figures, the Analysis) -> value


TOTALS: tuple[Total, ...] = (
    Total("frozen_params", "parameters", lambda t, a: t["params"] - t["trainable_params"]),
    Total("activation_bytes", "bytes", lambda t, a: t["activations"] * DTYPE_BYTES[a.dtype]),
    Total("param_bytes", "bytes", lambda t, a: t["params"] * DTYPE_BYTES[a.dtype]),
    Total("layers", "layers", lambda t, a: len(a.graph.nodes) - 1),
    Total("index_bytes", "activations", lambda t, a: 8 * t["indices"]),
    Total("buffer_bytes", "training-memory", lambda t, a: _memory().buffer_bytes(a.graph, a.settings)),
    Total("inference_peak_bytes", "peaks", lambda t, a: _memory().inference_peak(a.graph, a.settings)),
    Total("train_peak_bytes", "peaks", lambda t, a: _memory().train_peak(a.graph, a.settings)),
    Total("train_step_macs", "training-step-macs", lambda t, a: t["macs"] + t["backward_macs"] + t["recomputed_macs"]),
)


def _memory():
    from . import memory

    return memory


def count(node, op, ins: list, strided_input: tuple | None = None) -> dict:
    """A node's figures for one sample, in the registry's order."""
    figures, once = node.figures, node.once = {}, {}
    c = counted(node, op, ins, strided_input, figures, once=once)
    for name, rule, once_rule in _COUNT_RULES:
        figures[name] = rule(c)
        if once_rule is not None and (part := once_rule(c)):
            once[name] = part
    return figures


_COUNT_RULES = tuple((f.name, f.count, f.once) for f in COUNTED)


def total(graph, name: str) -> int:
    """One sample's figure summed over an analysed graph (what a backend states, e.g. its parameters)."""
    return sum(map(itemgetter(name), map(attrgetter("figures"), graph.nodes)))


def scaled(figures: dict, batch: int, once: dict | None = None) -> dict:
    """One sample's counted figures for a batch; `once`: the parts a forward does once (not scaled)."""
    once = once or {}
    return {f.name: (figures[f.name] - once.get(f.name, 0)) * batch + once.get(f.name, 0) if f.per_sample
            else figures[f.name] for f in COUNTED}


def recount(graph, node, convention: str) -> tuple[dict, dict]:
    """An analysed node's counted figures (one sample) with those that follow the convention
    (`conventional`) counted by `convention`, and the parts of them a forward does once."""
    if convention == "archdsl":
        return node.figures, node.once
    from .ops import OPS

    nodes = graph.nodes
    figures = dict(node.figures)
    once = {k: v for k, v in node.once.items() if k not in {f.name for f in CONVENTIONAL}}
    c = counted(node, OPS[node.op], [nodes[i].shape for i in node.inputs],
                nodes[node.inputs[0]].strided if node.inputs else None, figures, convention, once)
    for figure in CONVENTIONAL:
        figures[figure.name] = figure.count(c)
        if figure.once is not None and (part := figure.once(c)):
            once[figure.name] = part
    return figures, once


def at_settings(node, settings: Settings, counted: tuple[dict, dict] | None = None) -> dict:
    """A node's figures for a run: the counted ones (`counted`: figures and their once-per-forward
    parts, default node.figures and node.once) scaled to the batch, the memory ones at the settings."""
    counted, once = (node.figures, node.once) if counted is None else counted
    out = dict(counted) if settings.batch == 1 else scaled(counted, settings.batch, once)
    for name, rule in _AT_RULES:
        out[name] = rule(node, settings)
    return out


_AT_RULES = tuple((f.name, f.at) for f in AT_SETTINGS)


def combine(a: dict, b: dict) -> dict:
    return {f.name: a[f.name] + b[f.name] if f.combine == "sum" else max(a[f.name], b[f.name]) for f in FIGURES}
