"""Every node's figures for one sample, by the registry of archdsl/figures.py."""
from __future__ import annotations

from ..figures import count
from ..ir import Graph
from ..ops import OPS


def count_figures(graph: Graph) -> None:
    nodes = graph.nodes
    for node in nodes:
        count(node, OPS[node.op], [nodes[i].shape for i in node.inputs], nodes[node.inputs[0]].strided if node.inputs else None)
