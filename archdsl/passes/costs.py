"""Per-node figures for one sample: parameters, MACs, other work, activations (docs/conventions.md)."""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ..ir import Graph
from ..ops import OPS


@dataclass(frozen=True, slots=True)
class Cost:
    params: int
    trainable_params: int
    macs: int
    other_ops: int
    activations: int  # elements of the tensor this node creates (0 for views, no-ops and in-place)
    inplace: bool


def in_place(graph: Graph) -> list[bool]:
    """Which in-place-capable layers (activations, and `add` into its first branch) really run in place.

    A layer overwrites its (first) input only when nothing else reads that tensor: every node from
    it back to the layer that created the storage has exactly one reader, none of them is the
    network input or an output, and none keeps its output for the backward pass (a relu after a
    sigmoid, or after another relu, must not overwrite what autograd saved).
    """
    readers = graph.consumers()
    outputs = set(graph.outputs)
    result = [False] * len(graph.nodes)
    for node in graph.nodes:
        op = OPS[node.op]
        if not op.inplace:
            continue
        nxt, cur = node.id, node.inputs[0]
        safe = True
        while True:
            prev = graph.nodes[cur]
            if cur == 0 or cur in outputs or readers[cur] != [nxt] or OPS[prev.op].saves_output:
                safe = False
                break
            if OPS[prev.op].creates_output and not result[cur]:
                break
            nxt, cur = cur, prev.inputs[0]
        result[node.id] = safe
    return result


def node_costs(graph: Graph, shapes: list[tuple], resolved: list[dict]) -> list[Cost]:
    inplace = in_place(graph)
    costs = []
    for node in graph.nodes:
        op = OPS[node.op]
        ins = [shapes[i] for i in node.inputs]
        out, r = shapes[node.id], resolved[node.id]
        params = op.params(r, ins, out)
        creates = op.creates_output and not inplace[node.id]
        costs.append(Cost(
            params=params,
            trainable_params=0 if node.frozen else params,
            macs=op.macs(r, ins, out),
            other_ops=op.other_ops(r, ins, out),
            activations=prod(out) if creates else 0,
            inplace=inplace[node.id],
        ))
    return costs
