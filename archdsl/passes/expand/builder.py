"""The graph as it grows: nodes and groups, each full name used once."""
from __future__ import annotations

from ...errors import ExpandError, LimitError, Span
from ...ir import Graph, GroupInfo, Node
from ...limits import MAX_NAME, MAX_NODES
from ...ops import Op
from .scopes import Scope


class Builder:
    def __init__(self, name: str):
        self.graph = Graph(name=name)
        self.names: dict[str, int] = {}  # full name -> node id
        self.blame = lambda: None  # the loop or block call to point at when the layer limit is hit
        self.frames: tuple = ()  # the block calls and `for` loops in progress, innermost first (errors.Frame)

    def add(self, op: Op, attrs: dict, inputs: tuple, span: Span, name: str) -> int:
        nodes = self.graph.nodes
        if len(nodes) >= MAX_NODES:
            raise LimitError(f"the spec expands to more than {MAX_NODES:,} layers", self.blame() or span, "check the repetition counts", code="E0607")
        _check_name(name, span)
        if name in self.names or name in self.graph.groups:
            other = nodes[self.names[name]] if name in self.names else None
            if other is None or not (_stateless(op) and other.op == op.name and other.attrs == attrs):
                first = other.span if other is not None else self.graph.groups[name].span
                raise ExpandError(f"the name '{name}' is already used (at {first})", span,
                                  "only a layer without weights may be applied twice under one name", code="E0105")
        node = Node(len(nodes), name, op.name, attrs, inputs, span, trace=self.frames)
        nodes.append(node)
        self.names.setdefault(name, node.id)
        return node.id

    def open_group(self, scope: Scope, label: str | None, where, kind: str, current: int, barrier=False, text="",
                   block="", args=()) -> Scope:
        """A new scope. `text` describes a block call; other groups are described by their layers.
        `block` and `args`: a block call's definition and arguments (GroupInfo)."""
        path = scope.child_name(label)
        if path in self.graph.groups or path in self.names:
            raise ExpandError(f"the name '{path}' is already used", where.span, "give each group its own name", code="E0105")
        _check_name(path, where.span)
        self.graph.groups[path] = GroupInfo(path, text, kind, where.span, block, args)
        return Scope(prefix=path + ".", input=current if barrier else scope.input, parent=scope, barrier=barrier)


def _check_name(name: str, span: Span) -> None:
    if len(name) > MAX_NAME:
        raise LimitError(f"the layer name is {len(name)} characters long; the limit is {MAX_NAME}", span, code="E0611")


def _stateless(op: Op) -> bool:
    return type(op).params is Op.params
