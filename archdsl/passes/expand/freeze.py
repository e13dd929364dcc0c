"""`freeze PATH`: marks every layer at or under PATH as not trained."""
from __future__ import annotations

from ...errors import ExpandError, Span, did_you_mean
from ...ir import Graph


def apply_freezes(graph: Graph, paths: list[tuple[str, Span]]) -> None:
    """A node is frozen when its name or a dotted prefix of it is a frozen path: each node looks
    its prefixes up, so that many paths cost no more than one (`freeze a, a, a, ...`)."""
    nodes = graph.nodes
    wanted, hit = {path for path, _ in paths}, set()
    for node in nodes:
        prefix = ""
        for part in node.name.split("."):
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix in wanted:
                node.frozen = True
                hit.add(prefix)
    for path, span in paths:
        if path not in hit:
            known = set(graph.groups) | {n.name for n in nodes}
            raise ExpandError(f"nothing is named '{path}'", span, did_you_mean(path, known), code="E0108")
