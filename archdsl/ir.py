"""The intermediate representation: named nodes in topological order, inputs by node id.

A node's `name` is its module path (`layer1.0.conv1`): the analysis row name and, in a built
module, the `state_dict` prefix. Parameter-free layers may share a name when they are the same
module applied twice (ResNet's `relu`).

The expander fills the first fields of each node; the analysis passes (passes/__init__.py) fill
the rest, as torch.fx keeps pass results in `node.meta`. Reports and backends read an analysed
graph and never run a pass themselves.
"""

from typing import NamedTuple

from .errors import Span


class GraphInvariantError(Exception):
    """A pass broke an invariant of the IR: a bug in archdsl, not in the spec."""


class Node:
    """One layer. The expander fills the first nine fields; the passes fill the rest (a plain
    class: see Graph's docstring)."""

    __slots__ = ("id", "name", "op", "attrs", "inputs", "span", "frozen", "trace", "checkpoint",
                 "shape", "resolved", "inplace", "strided", "rf", "figures", "once", "grad", "saved",
                 "amp_saved", "recomputed", "backward_macs")

    def __init__(self, id: int, name: str, op: str, attrs: dict, inputs: tuple[int, ...], span: Span,
                 frozen: bool = False, trace: tuple = (), checkpoint: str = ""):
        self.id, self.name, self.op, self.attrs, self.inputs, self.span = id, name, op, attrs, inputs, span
        self.frozen = frozen
        self.trace = trace  # the block calls and loops it was expanded through, innermost first (errors.Frame)
        self.checkpoint = checkpoint  # the checkpointed block it belongs to (`checkpoint NAME`), if any
        # ---- filled by the passes
        self.shape: tuple | None = None  # output shape, PyTorch order without the batch (passes/shapes.py)
        self.resolved: dict | None = None  # attributes as the op resolved them for its inputs (passes/shapes.py)
        self.inplace = False  # overwrites its first input (passes/inplace.py)
        self.strided: tuple | None = None  # strides of an output that is a non-contiguous view (passes/inplace.py)
        self.rf: object = None  # receptive field (passes/receptive_field.py)
        self.figures: dict = {}  # one sample's figures, by name (figures.py)
        self.once: dict = {}  # the part of a figure a forward does once, whatever the batch (figures.py)
        self.grad = False  # its output requires grad in a training forward (passes/memory.py)
        self.saved: tuple = ()  # what it keeps for backward: (elements, per_sample, dtype) (passes/memory.py)
        self.amp_saved: dict = {}  # the same under autocast, by device (passes/memory.py)
        self.recomputed = False  # a checkpointed layer that its block's backward runs again (passes/memory.py)
        self.backward_macs = 0  # multiply-adds of its backward, one sample (passes/memory.py)

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.name!r}, {self.op!r}, inputs={self.inputs}, shape={self.shape})"


class GroupInfo(NamedTuple):
    """A named part of the network (a block call, a named group or a repetition)."""

    path: str
    label: str  # what the spec wrote, e.g. "bottleneck 128 /2"
    kind: str  # block | group
    span: Span
    block: str = ""  # a block call: the name of the definition it calls
    args: tuple = ()  # a block call: (parameter, value, given) in the definition's order; tensors left out


class ShapeAssertion(NamedTuple):
    node: int
    dims: tuple[int, ...]  # as written, slide order (HxWxC)
    span: Span


class Hierarchy(NamedTuple):
    """The block structure: which group holds each node and each group ("" is the network)."""

    node_parent: list[str]  # by node id
    group_parent: dict[str, str]


class Graph:
    """The network: its nodes in topological order and what the passes found.

    Node and Graph are plain classes with slots, and the immutable records NamedTuples, rather than
    dataclasses: Python 3.11 compiles each generated dataclass method on every start, about 1 ms a
    class, and `archdsl analyze` is a command people wait for (docs/benchmarks.md)."""

    __slots__ = ("name", "nodes", "outputs", "groups", "assertions", "warnings", "records", "passes_run",
                 "storages", "registration", "amp_storages", "_hierarchy")

    def __init__(self, name: str):
        self.name = name
        self.nodes: list[Node] = []
        self.outputs: list[int] = []
        self.groups: dict[str, GroupInfo] = {}
        self.assertions: list[ShapeAssertion] = []
        self.warnings: list = []  # filled by the passes
        self.records: dict = {}  # what the `network` statement records (`top1=76.13`)
        self.passes_run: list[str] = []
        self.storages: object = None  # where each tensor lives, training and eval (passes/memory.py)
        # a scope's children registered first, in this order (`register`): scope path -> child names
        self.registration: dict[str, tuple[str, ...]] = {}
        self.amp_storages: dict = {}  # the same under autocast, by device, made when asked
        self._hierarchy: Hierarchy | None = None

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self.nodes)} nodes>"

    @property
    def analysed(self) -> bool:
        from .passes import PASS_NAMES

        return self.passes_run == list(PASS_NAMES)

    def consumers(self) -> list[list[int]]:
        readers: list[list[int]] = [[] for _ in self.nodes]
        for node in self.nodes:
            for i in node.inputs:
                readers[i].append(node.id)
        return readers

    def hierarchy(self) -> Hierarchy:
        """Built once: a node or group belongs to the longest group path that prefixes its name."""
        if self._hierarchy is None:
            def parent(path: str) -> str:
                while "." in path:
                    path = path.rsplit(".", 1)[0]
                    if path in self.groups:
                        return path
                return ""

            group_parent = {path: parent(path) for path in self.groups}
            self._hierarchy = Hierarchy([parent(node.name) for node in self.nodes], group_parent)
        return self._hierarchy

    def lint(self) -> None:
        """Invariants every pass may rely on; tests run it after every pass. Raises
        GraphInvariantError."""
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise GraphInvariantError(f"{self.name}: {message}")

        need(bool(self.nodes) and self.nodes[0].op == "input", "node 0 is the input")
        for index, node in enumerate(self.nodes):
            need(node.id == index, f"node {node.name} has id {node.id} at {index}")
            need(all(0 <= i < index for i in node.inputs), f"node {node.name} reads a later node")
            need(bool(node.name), "every node has a name")
        need(bool(self.outputs) and all(0 <= o < len(self.nodes) for o in self.outputs), "the outputs are nodes")
        done = set(self.passes_run)
        from .figures import COUNTED
        from .ops import OPS

        for node in self.nodes:
            op = OPS.get(node.op)
            need(op is not None, f"{node.name}: unknown op {node.op}")
            need(op.min_inputs <= len(node.inputs) <= op.max_inputs, f"{node.name}: {len(node.inputs)} inputs")
            if "shapes" in done:
                need(isinstance(node.shape, tuple) and all(isinstance(v, int) and v > 0 for v in node.shape),
                     f"{node.name}: shape {node.shape}")
                need(isinstance(node.resolved, dict), f"{node.name}: no resolved attributes")
            if "storage" in done:
                need(not node.inplace or op.inplace, f"{node.name}: {node.op} cannot run in place")
            if "figures" in done:
                need(set(node.figures) == {f.name for f in COUNTED}, f"{node.name}: figures {sorted(node.figures)}")
                need(all(isinstance(v, int) and v >= 0 for v in node.figures.values()), f"{node.name}: figures {node.figures}")
            if "receptive_field" in done:
                need((node.rf is None) == (len(self.nodes[0].shape) == 1), f"{node.name}: receptive field {node.rf}")
