"""`freeze PATH`: marks every layer at or under PATH as not trained; `checkpoint PATH`: marks
every layer at or under PATH as part of one activation-checkpointed block."""
from __future__ import annotations

from ...errors import ExpandError, Span, did_you_mean
from ...ir import Graph
from ...ops import OPS


def _matching(graph: Graph, paths: list[tuple[str, Span]]):
    """(node, the path of `paths` that is its name or a dotted prefix of it), for every node one
    matches; each node looks its prefixes up, so that many paths cost no more than one. A path
    that matches nothing is an error."""
    if not paths:
        return []
    nodes = graph.nodes
    wanted, hit = {path for path, _ in paths}, set()
    found = []
    for node in nodes:
        prefix = ""
        for part in node.name.split("."):
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix in wanted:
                found.append((node, prefix))
                hit.add(prefix)
    for path, span in paths:
        if path not in hit:
            known = set(graph.groups) | {n.name for n in nodes}
            raise ExpandError(f"nothing is named '{path}'", span, did_you_mean(path, known), code="E0108")
    return found


def apply_freezes(graph: Graph, paths: list[tuple[str, Span]]) -> None:
    for node, _ in _matching(graph, paths):
        node.frozen = True


def apply_checkpoints(graph: Graph, paths: list[tuple[str, Span]]) -> None:
    """A block is checkpointed whole: its layers must follow one another (nothing outside it runs
    between them), and a block inside a checkpointed one is not checkpointed again."""
    spans = dict(paths)
    members: dict[str, list[int]] = {}
    for node, path in _matching(graph, paths):
        if node.checkpoint and node.checkpoint != path:
            inner, outer = sorted((node.checkpoint, path), key=len, reverse=True)
            raise ExpandError(f"'{inner}' is inside '{outer}', which is checkpointed already", spans[inner],
                              f"checkpoint either '{outer}' or the blocks inside it", code="E0312")
        node.checkpoint = path
        members.setdefault(path, []).append(node.id)
    for path, ids in members.items():
        if len(ids) == 1 and graph.nodes[ids[0]].name == path and OPS[graph.nodes[ids[0]].op].lowering.call != "module":
            raise ExpandError(f"'{path}' is a {graph.nodes[ids[0]].op}, not a block or a layer with a module", spans[path],
                              "checkpoint the block around it", code="E0312")
        if ids[-1] - ids[0] + 1 != len(ids):
            between = graph.nodes[next(i for i in range(ids[0], ids[-1]) if i not in set(ids))].name
            raise ExpandError(f"'{path}' cannot be checkpointed as one block: '{between}' runs between its layers",
                              spans[path], code="E0312")
