"""Storage: which layers run in place, and which outputs are strided views (a crop's slice)."""
from __future__ import annotations

from ..ir import Graph
from ..ops import OPS


def mark_in_place(graph: Graph) -> None:
    """A layer overwrites its (first) input only when nothing else reads that tensor: every node
    from it back to the layer that created the storage has exactly one reader, none of them is the
    network input or an output, and none keeps its output for the backward pass (a relu after a
    sigmoid, or after another relu, must not overwrite what autograd saved).
    """
    readers = graph.consumers()
    outputs = set(graph.outputs)
    nodes = graph.nodes
    for node in nodes:
        node.inplace = False
        if not OPS[node.op].inplace:
            continue
        nxt, cur = node.id, node.inputs[0]
        safe = True
        while True:
            prev = nodes[cur]
            if cur == 0 or cur in outputs or readers[cur] != [nxt] or OPS[prev.op].saves_output:
                safe = False
                break
            if OPS[prev.op].creates_output and not prev.inplace:
                break
            nxt, cur = cur, prev.inputs[0]
        node.inplace = safe


def mark_strided(graph: Graph) -> None:
    """A crop returns a slice of its input, which is not contiguous; views and in-place layers
    keep their input's layout; every other layer writes a new, contiguous tensor. A layer whose
    op `copies_strided_input` (flatten, fc's flatten, groupnorm) then copies its input first."""
    nodes = graph.nodes
    for node in nodes:
        op = OPS[node.op]
        if not node.inputs:
            node.strided = False
        elif op.strided_output is not None:
            node.strided = op.strided_output(node.resolved, nodes[node.inputs[0]].shape) or nodes[node.inputs[0]].strided
        elif node.inplace or not (op.creates_output or op.copies_strided_input):
            node.strided = nodes[node.inputs[0]].strided
        else:
            node.strided = False


def storage(graph: Graph) -> None:
    mark_in_place(graph)
    mark_strided(graph)
