"""Which in-place-capable layers (activations, and `add` into its first branch) really run in place."""
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
