"""The intermediate representation: named nodes in topological order, inputs by node id.

A node's `name` is its module path (`layer1.0.conv1`): the analysis row name and, in a built
module, the `state_dict` prefix. Parameter-free layers may share a name when they are the same
module applied twice (ResNet's `relu`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span


@dataclass(slots=True)
class Node:
    id: int
    name: str
    op: str
    attrs: dict
    inputs: tuple[int, ...]
    span: Span
    frozen: bool = False


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A named part of the network (a block call, a named group or a repetition)."""

    path: str
    label: str  # what the spec wrote, e.g. "bottleneck 128 /2"
    kind: str  # block | group
    span: Span


@dataclass(frozen=True, slots=True)
class ShapeAssertion:
    node: int
    dims: tuple[int, ...]  # as written, slide order (HxWxC)
    span: Span


@dataclass(slots=True)
class Graph:
    name: str
    nodes: list[Node] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    groups: dict[str, GroupInfo] = field(default_factory=dict)
    assertions: list[ShapeAssertion] = field(default_factory=list)

    def consumers(self) -> list[list[int]]:
        readers: list[list[int]] = [[] for _ in self.nodes]
        for node in self.nodes:
            for i in node.inputs:
                readers[i].append(node.id)
        return readers

    def lint(self) -> None:
        """Invariants every pass may rely on; tests run it after expansion."""
        assert self.nodes and self.nodes[0].op == "input", "node 0 is the input"
        for index, node in enumerate(self.nodes):
            assert node.id == index, f"node {node.name} has id {node.id} at {index}"
            assert all(0 <= i < index for i in node.inputs), f"node {node.name} reads a later node"
            assert node.name, "every node has a name"
        assert self.outputs and all(0 <= o < len(self.nodes) for o in self.outputs)
