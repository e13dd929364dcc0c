"""`freeze PATH`: marks every layer at or under PATH as not trained."""
from __future__ import annotations

from ...errors import ExpandError, Span, did_you_mean
from ...ir import Graph


def apply_freezes(graph: Graph, paths: list[tuple[str, Span]]) -> None:
    nodes = graph.nodes
    for path, span in paths:
        hit = False
        for node in nodes:
            if node.name == path or node.name.startswith(path + "."):
                node.frozen = hit = True
        if not hit:
            known = set(graph.groups) | {n.name for n in nodes}
            raise ExpandError(f"nothing is named '{path}'", span, did_you_mean(path, known))
