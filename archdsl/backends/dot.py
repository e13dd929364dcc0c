"""IR + analysis -> a graphviz diagram: one node per layer (or per collapsed block), blocks as
clusters, merges as merges, shortcuts drawn as shortcuts.

Formatting only: every figure on the diagram (shapes, parameters, MACs, descriptions) is a row of
the analysis, or of `collapse` for `depth` and for a block's sums. The `graphviz` package is
imported when a diagram is built, never when archdsl is; `dot` is run only to write SVG, PNG or
PDF (`.dot` is the DOT source, written without it).
"""
from __future__ import annotations

import heapq
import html
import math
import os
import zlib

from ..analysis import Analysis, collapse
from ..figures import combine
from ..errors import ArchError
from ..ops import OPS
from ..report.table import human, shape_text

FORMATS = ("svg", "png", "pdf", "dot")

MISSING_DOT = (
    "writing {fmt} needs the `dot` program of Graphviz, which is not installed: install it with "
    "`apt-get install graphviz`, `brew install graphviz` or `conda install -c conda-forge graphviz`, "
    "or write `-o FILE.dot` (DOT source), which works without it"
)

FONT = "Helvetica"

# Fill and border per op family (ops/base.py lists the families): fixed, so a diagram looks the same
# from run to run and from spec to spec.
FAMILY_COLORS = {
    "input": ("#ffffff", "#444444"),
    "conv": ("#d6e6f5", "#4a7ab0"),
    "pool": ("#f8d9d2", "#b45a47"),
    "linear": ("#e2d9f0", "#7b62a8"),
    "norm": ("#e0eed8", "#6a9a55"),
    "activation": ("#fdf1cc", "#b89a3a"),
    "merge": ("#fde0c0", "#c07a2c"),
    "shape": ("#eeeeee", "#888888"),
    "block": ("#dde3ec", "#5a6b84"),
    "group": ("#dde3ec", "#5a6b84"),
}
_SPARE = [("#d5efec", "#3f8f86"), ("#f3dcea", "#a05586"), ("#e8e4d4", "#8a7d50"), ("#dbe9f0", "#4e8aa4")]

SKIP_COLOR = "#c0392b"
CLUSTER_FILLS = ("#f4f6f9", "#e9edf3", "#dfe4ec", "#f4f6f9", "#e9edf3", "#dfe4ec")


class GraphError(ArchError):
    phase = "graph"


def family_colors(family: str) -> tuple[str, str]:
    """Fill and border of an op family; a family not in the table gets a fixed spare pair."""
    if family in FAMILY_COLORS:
        return FAMILY_COLORS[family]
    return _SPARE[zlib.crc32(family.encode()) % len(_SPARE)]


def _family(op: str) -> str:
    return OPS[op].family if op in OPS else op


class _Item:
    """One drawn node: a layer, a block collapsed into one node, or (compact) a layer with the
    batch norms and activations folded into it."""

    __slots__ = ("ident", "path", "row", "op", "collapsed", "description", "brief", "folded", "members", "own_params")

    def __init__(self, ident: str, path: str, row, op: str, collapsed: bool, brief: str):
        self.ident, self.path, self.row, self.op, self.collapsed = ident, path, row, op, collapsed
        self.description = row.description
        self.brief = brief  # the description without options that do not change what it computes
        self.folded: list[str] = []  # the briefs of the layers folded into it (compact)
        self.members: list[str] = []  # their names and descriptions, for the tooltip
        self.own_params = row.params  # the layer's own, without what is folded into it

    def fold(self, name: str, row, brief: str) -> None:
        self.folded.append(brief)
        self.members.append(f"{name}: {row.description}")
        self.row = self.row._replace(output_shape=row.output_shape, figures=combine(self.row.figures, row.figures),
                           layers=self.row.layers + 1)


FOLDED = ("norm", "activation")  # what --compact folds into the layer before it
WRAP_RANKS = {"TB": 24, "LR": 12}  # --compact: the layers a column (a row, in LR) of the wrapped diagram aims at


def build(analysis: Analysis, *, depth: int | None = None, stats: bool = False, rankdir: str = "TB",
          compact: bool = False):
    """The diagram of the analysed network as a `graphviz.Digraph`. `analysis` is the full
    analysis (one row per node, not collapsed); `depth` collapses blocks below that depth into
    one node each; `compact` folds batch norms and activations into the layer before them and
    wraps the top level into side-by-side columns (rows with `rankdir="LR"`)."""
    import graphviz

    graph = analysis.graph
    if len(analysis.rows) != len(graph.nodes) or analysis.depth is not None:
        raise ValueError("build() takes the full analysis of the graph (one row per node), not a collapsed one")
    if rankdir not in ("TB", "LR"):
        raise GraphError(f"--rankdir must be TB or LR, not {rankdir}", code="E0901")
    folded = {}
    if depth is not None:
        folded = {r.name: r for r in collapse(analysis, graph, depth).rows if r.name in graph.groups}
    hierarchy = graph.hierarchy()
    consumers = graph.consumers()
    graph_ids = {node.name: node.id for node in graph.nodes}

    # --- the drawn nodes and the edges between them ---------------------------------------------
    items: list[_Item] = []
    by_key: dict[str, _Item] = {}
    item_of: list[_Item] = []
    used: set[str] = set()

    def fresh(base: str) -> str:
        ident, k = base, 1
        while ident in used:
            k += 1
            ident = f"{base}#{k}"
        used.add(ident)
        return ident

    for node, row in zip(graph.nodes, analysis.rows):
        parts = node.name.split(".")
        key = ".".join(parts[:depth]) if depth is not None and len(parts) > depth else None
        if key is not None and key in folded:
            item = by_key.get(key)
            if item is None:
                item = by_key[key] = _Item(fresh(key), key, folded[key], graph.groups[key].kind, True,
                                           folded[key].description)
                items.append(item)
            item_of.append(item)
            continue
        brief = OPS[node.op].describe(node.resolved, brief=True) if node.op != "input" else "input"
        host = item_of[node.inputs[0]] if compact and len(node.inputs) == 1 else None
        if (host is not None and not host.collapsed and _family(node.op) in FOLDED and _family(host.op) != "input"
                and consumers[node.inputs[0]] == [node.id]
                and hierarchy.node_parent[node.id] == hierarchy.node_parent[graph_ids[host.path]]):
            host.fold(node.name, row, brief)  # conv -> bn -> relu: one node, as a spec writes `conv ... bn act=relu`
            item_of.append(host)
            continue
        item = _Item(fresh(node.name), node.name, row, node.op, False, brief)
        items.append(item)
        item_of.append(item)

    if depth is not None:
        # A collapsed group that is not a block call (a branch) reads as its parts one level down:
        # `bconv 96 -> bconv 128 3 p=1` rather than `6 layers`.
        parts_below: dict[str, list[str]] = {}
        for r in collapse(analysis, graph, depth + 1).rows:
            parent = r.name.rsplit(".", 1)[0]
            if parent in by_key and not graph.groups[parent].label:
                parts_below.setdefault(parent, []).append(r.description)
        for key, descriptions in parts_below.items():
            if len(descriptions) <= 3:
                by_key[key].description = by_key[key].brief = " -> ".join(descriptions)

    edges: list[tuple[_Item, _Item]] = []
    seen_edges: set[tuple[str, str]] = set()
    for node in graph.nodes:
        dst = item_of[node.id]
        for i in node.inputs:
            src = item_of[i]
            if src is dst or (src.ident, dst.ident) in seen_edges:
                continue
            seen_edges.add((src.ident, dst.ident))
            edges.append((src, dst))
    skips, rank = _shortcuts(items, edges)

    # --- clusters: the groups above each drawn node -------------------------------------------
    tree: dict[str | None, list] = {None: []}  # cluster path (None: top level) -> items and sub-clusters
    parent_of: dict[str, str | None] = {}  # item ident or cluster path -> the cluster it is drawn in

    def parent_cluster(path: str, is_group: bool) -> str | None:
        parent = hierarchy.group_parent[path] if is_group else hierarchy.node_parent[graph_ids[path]]
        if not parent:
            return None
        if parent not in tree:
            tree[parent] = []
            grand = parent_cluster(parent, True)
            tree[grand].append(parent)
            parent_of[parent] = grand
        return parent

    for item in items:
        cluster = parent_cluster(item.path, item.collapsed)
        tree[cluster].append(item)
        parent_of[item.ident] = cluster

    if compact:
        # a box left with one node (a `bconv`, a `downsample` folded into one conv) is that node
        changed = True
        while changed:
            changed = False
            for path in [p for p in tree if p is not None]:
                entries = tree[path]
                if len(entries) == 1 and isinstance(entries[0], _Item):
                    parent = parent_of[path]
                    siblings = tree[parent]
                    siblings[siblings.index(path)] = entries[0]
                    parent_of[entries[0].ident] = parent
                    del tree[path], parent_of[path]
                    changed = True

    cluster_rows = {}
    if stats:
        for d in sorted({p.count(".") + 1 for p in tree if p is not None}):
            for r in collapse(analysis, graph, d).rows:
                if r.name in tree:
                    cluster_rows[r.name] = r

    labels: dict[str, tuple[str, float]] = {}  # cluster -> (HTML label, estimated width in points)
    for path in tree:
        if path is None:
            continue
        info = graph.groups[path]
        name = _relative(path, parent_of[path])
        label = f"<b>{_esc(name)}</b>"
        width = _text_width(name, 10, bold=True)
        if info.label and compact:  # the call under the name, smaller: narrower boxes
            label += f"<br align=\"left\"/><font point-size=\"9\">{_esc(info.label)}</font><br align=\"left\"/>"
            width = max(width, _text_width(info.label, 9))
        elif info.label:
            label += f"  {_esc(info.label)}"
            width += _text_width("  " + info.label, 10)
        if path in cluster_rows:
            figures = _figures(cluster_rows[path])
            label += f"<br/><font point-size=\"9\" color=\"#555555\">{_esc(figures)}</font>"
            width = max(width, _text_width(figures, 9))
        labels[path] = (label, width)

    layout = _Layout(items, tree, parent_of, edges, rank, rankdir, {p: w for p, (_, w) in labels.items()},
                     compact)

    # --- the digraph ------------------------------------------------------------------------------
    dot = graphviz.Digraph(name=graph.name, engine="dot")
    totals = analysis.totals
    title = (f"<<b>{_esc(graph.name)}</b>   {_esc(shape_text(analysis.input_shape))} → "
             + ", ".join(_esc(shape_text(s, len(analysis.input_shape))) for _, s in analysis.outputs)
             + f"   <font color=\"#555555\">{human(totals['params'])} params, {human(totals['macs'])} MACs</font>>")
    # remincross=false: graphviz's last pass over the whole graph would undo the left-to-right
    # order that the flat edges of _Layout give nodes inside a box
    dot.attr("graph", rankdir=rankdir, label=title, labelloc="t", labeljust="l", fontname=FONT, fontsize="14",
             nodesep="0.12" if compact else "0.18", ranksep="0.14" if compact else "0.18", newrank="true",
             remincross="false", bgcolor="white", pad="0.2")
    dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="10", penwidth="0.9",
             margin="0.08,0.03", height="0.22")
    dot.attr("edge", color="#555555", arrowsize="0.6", penwidth="0.9")

    def emit(container, cluster: str | None, level: int, entries=None) -> None:
        for point in layout.points.get(cluster, ()) if entries is None else ():
            container.node(point, label="", shape="point", style="invis", width="0", height="0", fixedsize="true")
        entries = layout.declared[cluster] if entries is None else entries
        if cluster in layout.reversed and rankdir == "TB":
            entries = entries[::-1]  # see _Layout
        for entry in entries:
            if isinstance(entry, _Column):
                with container.subgraph(name=f"cluster_~column{entry.number}") as sub:
                    sub.attr(label="", style="invis", margin="0")
                    for note, (column, text, ports) in layout.notes.items():
                        if column is entry:
                            label = _esc(text)
                            if ports > 1:  # the ports of the fork it stands for
                                cells = "".join(f'<TD PORT="p{j}" HEIGHT="0"></TD>' for j in range(ports))
                                label = (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>'
                                         f'<TD COLSPAN="{ports}">{label}</TD></TR><TR>{cells}</TR></TABLE>')
                            sub.node(note, label=f"<{label}>", shape="plain", style="", fontsize="9", fontcolor="#555555",
                                     **{"class": "continuation"})
                    for part in entry.entries:
                        emit_one(sub, part, cluster, level)
            else:
                emit_one(container, entry, cluster, level)

    def emit_one(container, entry, cluster: str | None, level: int) -> None:
        if isinstance(entry, _Part):  # compact: the part of a box that falls into one column
            info = graph.groups[entry.box]
            name = "cluster_" + entry.box + (f"+{entry.number}" if entry.number else "")
            with container.subgraph(name=name) as sub:
                text = labels[entry.box][0] if entry.number == 0 else f"<b>{_esc(_relative(entry.box, cluster))}</b>  (continued)"
                sub.attr(label=f"<{text}>", **box_style(entry.box, level))
                emit(sub, entry.box, level + (info.kind == "block"), entries=entry.entries)
            return
        if isinstance(entry, _Item):
            if entry.ident in layout.wrapped:  # an invisible box of its own (see _Layout)
                with container.subgraph(name=f"cluster_{entry.ident}~") as sub:
                    sub.attr(label="", style="invis", margin="0")
                    emit_node(sub, entry, cluster)
            else:
                emit_node(container, entry, cluster)
            return
        with container.subgraph(name="cluster_" + entry) as sub:
            sub.attr(label=f"<{labels[entry][0]}>", **box_style(entry, level))
            emit(sub, entry, level + (graph.groups[entry].kind == "block"))

    def emit_node(container, item: _Item, cluster: str | None) -> None:
        spacer = layout.spacers.get(item.ident)
        if spacer:  # room under the labels of the boxes the node opens (see _Layout)
            container.node(item.ident + "~", label="", shape="box", style="invis", fixedsize="true",
                           width=f"{spacer / 72:.2f}", height="0.01")
        _node(container, item, cluster, stats, layout.fork_ports.get(item.ident, 0), rankdir)

    def box_style(path: str, level: int) -> dict:
        info = graph.groups[path]
        style = "rounded,filled" if info.kind == "block" else "rounded,dashed,filled"
        fill = CLUSTER_FILLS[level % len(CLUSTER_FILLS)] if info.kind == "block" else "white" if level == 0 else CLUSTER_FILLS[(level - 1) % len(CLUSTER_FILLS)]
        return dict(style=style, fillcolor=fill, color="#8a96a8", penwidth="0.8", fontname=FONT, fontsize="10",
                    labeljust="l", margin="6", tooltip=f"{path}: {info.label}".rstrip(": "))

    emit(dot, None, 0)
    for group in layout.same:
        with dot.subgraph() as same:
            same.attr(rank="same")
            for ident in group:
                same.node(ident)
    for a, b in layout.flat:  # left to right, inside one box
        dot.edge(a, b, style="invis")
    for src, dst, attrs in layout.invisible:
        dot.edge(src, dst, style="invis", **attrs)
    # each fork's edges in the branches' order: dot's first pass meets the branches in that order
    position = {item.ident: k for k, item in enumerate(items)}
    ordered_edges = sorted(edges, key=lambda e: (position[e[0].ident], layout.out_order.get(e[0].ident, {}).get(e[1].ident, 0),
                                                 position[e[1].ident]))
    for tail, head in layout.cut_edges:  # compact: into the note that ends a column
        dot.edge(tail, head)
    for src, dst in ordered_edges:
        attrs = dict(layout.ports.get((src.ident, dst.ident), {}))
        tail = layout.wraps.get((src.ident, dst.ident), src.ident)  # compact: from the next column's note
        if tail != src.ident and rankdir == "LR" and ":" in attrs.get("tailport", ""):
            del attrs["tailport"]  # a note has ports along its bottom only
        if (src.ident, dst.ident) in skips:
            dot.edge(tail, dst.ident, color=SKIP_COLOR, penwidth="1.4", **attrs, **{"class": "shortcut"})
        else:
            dot.edge(tail, dst.ident, **attrs)
    return dot


class _Column:
    """--compact: a run of top-level parts drawn as one column (a row with rankdir LR)."""

    __slots__ = ("number", "entries")

    def __init__(self, number: int, entries: list):
        self.number, self.entries = number, entries


class _Part:
    """--compact: the parts of a box that fall into one column; a later part reads `(continued)`."""

    __slots__ = ("box", "number", "entries", "label_width")

    def __init__(self, box: str, number: int, entries: list):
        self.box, self.number, self.entries = box, number, entries
        self.label_width = 0.0


class _Layout:
    """What makes dot draw what docs/graph.md promises, beyond the nodes and edges themselves.

    Branch order. dot orders the nodes of each rank itself, to avoid crossings; flat edges between
    nodes of different boxes and the `ordering` attribute do not survive its passes over boxes
    (graphviz's class2.c and mincross.c), so other means steer it. Where crossings leave it a
    choice it keeps the order of its first pass: the order in which a box's contents are declared
    when the box is entered at one place, their reverse (for boxes; its lone nodes as it pleases)
    when a fork outside the box feeds it at several. It sorts by the positions of a node's
    neighbours, ports included. So: the contents of every box are declared in the order of their
    branches (the spec's order of the inputs of the merge where they meet), reversed in a box fed
    at several places, whose lone branch nodes get invisible boxes of their own; a fork's edges
    leave it from ports in that order; a branch with no node of its own (an identity shortcut)
    leaves the fork and enters the merge from the side its place says; where the fork sits in a
    box of its own inside the one that holds the branches (which dot then sees as a whole),
    invisible points beside that box, chained left to right with flat edges (kept: remincross is
    off), lead to the branches; and the first nodes of parallel branches share a rank.

    Labels (TB). dot draws a box's label across its top, where the edges into the box enter. The
    first node of a box (and of the boxes it opens at the same time) gets an invisible spacer on
    its left as wide as their labels, so that the edge into it comes down right of their text.

    Wrapping (compact). The top level is cut into columns of about WRAP_RANKS layers, between
    top-level parts or, in one taller than that, between its own parts (its box is then drawn in
    pieces, `(continued)`), where everything that crosses the cut comes from the part before it.
    The edges that cross end in a note at the foot of the column and start again from a note at
    the top of the next; invisible points chained left to right above the columns keep them in
    order."""

    def __init__(self, items: list, tree: dict, parent_of: dict, edges: list, rank: dict, rankdir: str,
                 label_widths: dict, compact: bool):
        self.tree, self.parent_of, self.label_widths = tree, parent_of, label_widths
        self.same: list[list[str]] = []  # rank=same groups
        self.flat: list[tuple[str, str]] = []  # invisible flat edges, left to right, inside one box
        self.invisible: list[tuple[str, str, dict]] = []  # other invisible edges
        self.ports: dict[tuple[str, str], dict] = {}  # (tail, head) -> ports of a drawn edge
        self.fork_width: dict[str, int] = {}  # fork -> how many branches it starts
        self.fork_ports: dict[str, int] = {}  # fork -> the ports its label needs (more than 3 branches)
        self.spacers: dict[str, float] = {}  # node -> width (points) of the spacer on its left
        self.wraps: dict[tuple[str, str], str] = {}  # compact: an edge to the next column -> the note it starts from
        self.cut_edges: dict[tuple[str, str], None] = {}  # compact: edges into the note that ends a column
        self.notes: dict[str, tuple] = {}  # compact: note -> (its column, its text)
        self.parts: list[_Part] = []  # compact: boxes cut into parts
        self.starts: set[str] = set()  # first nodes of parallel branches
        self.out_order: dict[str, dict[str, int]] = {}  # fork -> its consumers' places, left to right
        self.points: dict[str | None, list[str]] = {}  # box -> invisible points to declare in it
        left, right = ("w", "e") if rankdir == "TB" else ("n", "s")
        out_side = "s" if rankdir == "TB" else "e"
        corners = {2: (None, "se"), 3: ("sw", None, "se")} if rankdir == "TB" else {2: ("n", None), 3: ("n", None, "s")}

        index = {item.ident: k for k, item in enumerate(items)}
        succ: dict[str, list[_Item]] = {}
        inputs: dict[str, list[str]] = {}
        for src, dst in edges:
            succ.setdefault(src.ident, []).append(dst)
            inputs.setdefault(dst.ident, []).append(src.ident)
        reach: dict[str, int] = {}  # everything reachable from a node, itself included (bits by index)
        merges = 0
        for item in reversed(items):  # items are in topological order
            bits = 1 << index[item.ident]
            for d in succ.get(item.ident, ()):
                bits |= reach[d.ident]
            reach[item.ident] = bits
            if len(inputs.get(item.ident, ())) > 1:
                merges |= 1 << index[item.ident]

        # --- branches in the spec's order
        before: dict[str | None, list[tuple[str, str]]] = {}  # box -> entries to declare in this order

        def order(idents: list[str]) -> None:
            box = self.common(idents)
            tops = [self.child_of(box, i) for i in idents]
            for a, b in zip(tops, tops[1:]):
                if a != b:
                    before.setdefault(box, []).append((a, b))

        for item in items:  # a merge's parallel inputs, left to right (not one that feeds another)
            ins = inputs.get(item.ident, ())
            parallel = [i for i in ins if not any(j != i and reach[i] >> index[j] & 1 for j in ins)
                        and not any(j != i and reach[j] >> index[i] & 1 for j in ins)]
            if len(parallel) > 1:
                order(parallel)
        for fork in items:
            outs = succ.get(fork.ident, [])
            if len(outs) < 2:
                continue
            joined = 0
            for a in range(len(outs)):
                for b in range(a + 1, len(outs)):
                    joined |= reach[outs[a].ident] & reach[outs[b].ident]
            if not joined:
                continue  # separate outputs, not branches of one merge
            meet = items[(joined & -joined).bit_length() - 1]  # the first node two of them reach
            ins = inputs[meet.ident]

            def branch(c, meet=meet, ins=ins, fork=fork) -> int:  # the merge input the consumer leads to
                if c is meet:
                    return ins.index(fork.ident)
                # a consumer that leads to none of its inputs (an outer merge's branch) goes last
                return next((j for j, i in enumerate(ins) if reach[c.ident] >> index[i] & 1), len(ins))

            ordered = sorted(outs, key=lambda c: (branch(c), index[c.ident]))
            self.out_order[fork.ident] = {c.ident: j for j, c in enumerate(ordered)}
            nodes = [c.ident for c in ordered if c is not meet]
            if len(nodes) > 1:
                order(nodes)
                box = self.common(nodes)
                if self.parent_of[fork.ident] != box and (box is None or box in self.chain(fork.ident)):
                    # the fork sits in a box inside the one where dot orders these branches, which
                    # sees that box as a whole (its ports lost): points beside that box, chained
                    # left to right, each with an edge to its branch's first node
                    points = [f"{fork.ident}~{j}" for j in range(len(nodes))]
                    self.points.setdefault(box, []).extend(points)
                    self.same.append([fork.ident] + points)
                    self.flat.extend(zip(points, points[1:]))
                    self.invisible.extend((point, c, {}) for point, c in zip(points, nodes))
            k = len(ordered)
            self.fork_width[fork.ident] = k
            if k > 3:
                self.fork_ports[fork.ident] = k
            for j, c in enumerate(ordered):
                if c is meet and j in (0, k - 1):  # an edge-only branch: by the side
                    side = left if j == 0 else right
                    self.ports[(fork.ident, c.ident)] = {"tailport": side, "headport": side}
                elif k > 3:
                    self.ports[(fork.ident, c.ident)] = {"tailport": f"p{j}:{out_side}"}
                elif k <= 3 and corners[k][j]:
                    self.ports[(fork.ident, c.ident)] = {"tailport": corners[k][j]}
            # parallel branches of one merge, with no merge of their own before it, start side by side
            starts = [c.ident for c in ordered if c is not meet and rank[c.ident] == rank[fork.ident] + 1
                      and not reach[c.ident] & ~reach[meet.ident] & merges]
            if len(starts) > 1:
                self.same.append(starts)
                self.starts.update(starts)

        # --- every box's contents in their first appearance's order, moved where a branch order
        # needs it (a stable topological sort; a constraint that would make a cycle is dropped)
        self.declared: dict[str | None, list] = {}
        for box, entries in tree.items():
            keys = [e.ident if isinstance(e, _Item) else e for e in entries]
            pos = {key: n for n, key in enumerate(keys)}
            after: dict[str, set[str]] = {key: set() for key in keys}
            for a, b in before.get(box, ()):
                if a in pos and b in pos and a != b and not _reaches(after, b, a):
                    after[a].add(b)
            need = {key: 0 for key in keys}
            for a in keys:
                for b in after[a]:
                    need[b] += 1
            ready = [pos[key] for key in keys if need[key] == 0]
            heapq.heapify(ready)
            out = []
            while ready:
                key = keys[heapq.heappop(ready)]
                out.append(entries[pos[key]])
                for b in after[key]:
                    need[b] -= 1
                    if need[b] == 0:
                        heapq.heappush(ready, pos[b])
            self.declared[box] = out

        fed_inside: set[str] = set()  # nodes and boxes fed from inside the box they are in
        for src, dst in edges:
            apart = self.apart(dst.ident, src.ident)
            fed_inside.add(apart[-1] if apart else dst.ident)
        # A box fed from outside at more than one place (the branches of a fork outside it): dot's
        # first pass places the boxes in it right to left in the order they are declared, its
        # nodes as it pleases. So its lone nodes there go in invisible boxes of their own, and
        # its contents are declared in reverse.
        self.wrapped: set[str] = set()
        self.reversed: set[str] = set()  # boxes to declare in reverse (TB)
        for box, entries in self.declared.items():
            if box is None:
                continue
            sources = [e for e in entries if (e.ident if isinstance(e, _Item) else e) not in fed_inside]
            if len(sources) > 1:
                self.wrapped.update(e.ident for e in sources if isinstance(e, _Item))
                self.reversed.add(box)
        # --- compact: the top level in columns
        if compact:
            self._wrap(items, edges, rank, WRAP_RANKS[rankdir])

        # --- room under the labels (TB): the first node a box (or a part of one) opens with
        if rankdir == "TB":

            def first_node(entries: list):
                for entry in entries:
                    if isinstance(entry, _Item):
                        if entry.ident not in fed_inside or entry.ident in self.starts:
                            return entry
                    elif isinstance(entry, _Part):
                        return first_node(entry.entries)
                    elif entry not in fed_inside or entry in self.starts:
                        return first_node(self.declared[entry])
                return None

            boxes = [(label_widths[box], self.declared[box]) for box in tree if box is not None]
            boxes += [(part.label_width, part.entries) for part in self.parts]
            need_room: dict[str, float] = {}
            for width, entries in boxes:
                first = first_node(entries)
                if first is None:
                    continue
                # the label ends its width past the box's left edge (plus padding); the edge into
                # the node enters at its middle; the spacer starts a margin in, a node gap before it
                room = width + 4
                need_room[first.ident] = max(need_room.get(first.ident, 0), room)
            for ident, room in need_room.items():
                if room > 0:
                    self.spacers[ident] = room
                    self.same.append([ident + "~", ident])
                    self.flat.append((ident + "~", ident))

    def _wrap(self, items: list, edges: list, rank: dict, target: int) -> None:
        """Cut the top level into columns of about WRAP_RANKS layers, between top-level parts or,
        for a part taller than that, between its own parts (drawn as boxes continued in the next
        column); only where everything that crosses the cut comes from the part before it."""
        units: list[tuple[object, str | None]] = []  # (entry, the box it belongs to, if split)
        for entry in self.declared[None]:
            if not isinstance(entry, _Item) and self._height(entry, rank) > target and len(self.declared[entry]) > 1:
                units.extend((child, entry) for child in self.declared[entry])
            else:
                units.append((entry, None))
        unit_of: dict[str, int] = {}
        for n, (entry, _) in enumerate(units):
            key = entry.ident if isinstance(entry, _Item) else entry
            for item in items:
                if item.ident == key or key in self.chain(item.ident):
                    unit_of[item.ident] = n
        heights = [1 if isinstance(e, _Item) else self._height(e, rank) for e, _ in units]
        cuttable = [False] + [True] * (len(units) - 1)
        crossing: dict[int, list] = {}
        for src, dst in edges:
            a, b = unit_of[src.ident], unit_of[dst.ident]
            for n in range(a + 1, b + 1):
                if n == b and a == n - 1:
                    crossing.setdefault(n, []).append((src, dst))
                else:
                    cuttable[n] = False
        if sum(heights) <= target * 1.25:
            return
        cuts = None
        for k in range(2, len(units) + 1):
            found = _partition(heights, cuttable, k)
            if found is None:
                break
            cuts = found
            bounds = list(zip([0] + cuts, cuts + [len(units)]))
            if max(sum(heights[a:b]) for a, b in bounds) <= max(target, max(heights)):
                break
        if not cuts:
            return
        bounds = list(zip([0] + cuts, cuts + [len(units)]))
        if max(sum(heights[a:b]) for a, b in bounds) > 0.8 * sum(heights):
            return  # no cut worth making (U-Net: its copies cross every level)
        columns = []
        part_count: dict[str, int] = {}
        for n, (a, b) in enumerate(bounds):
            entries: list = []
            for entry, box in units[a:b]:
                if box is None:
                    entries.append(entry)
                elif entries and isinstance(entries[-1], _Part) and entries[-1].box == box:
                    entries[-1].entries.append(entry)
                else:
                    number = part_count.get(box, 0)
                    part_count[box] = number + 1
                    part = _Part(box, number, [entry])
                    part.label_width = self.label_widths[box] if number == 0 else _text_width(
                        box.rsplit(".", 1)[-1] + "  (continued)", 10, bold=True)
                    self.parts.append(part)
                    entries.append(part)
            columns.append(_Column(n, entries))
        self.declared[None] = columns
        # Where a column ends, the edges that cross to the next one end in a note naming where the
        # diagram goes on, and the next column starts with a note naming where it comes from.
        heads = []
        for n, (a, b) in enumerate(bounds):
            if n == 0:
                heads.append(min((item for item in items if unit_of[item.ident] < b),
                                 key=lambda item: rank[item.ident]).ident)
                continue
            by_source: dict[str, list] = {}
            for src, dst in crossing.get(a, []):
                by_source.setdefault(src.ident, []).append((src, dst))
            for m, (source, pairs) in enumerate(by_source.items()):
                src = pairs[0][0]
                to, come = f"~to{n}.{m}", f"~from{n}.{m}"
                dsts = [d.path for _, d in pairs]
                shared = os.path.commonprefix([d.split(".") for d in dsts])
                self.notes[to] = (columns[n - 1], "→ " + (".".join(shared) if shared else ", ".join(dsts)), 0)
                self.notes[come] = (columns[n], src.path + " →", self.fork_ports.get(src.ident, 0))
                self.cut_edges[(src.ident, to)] = None
                for _, dst in pairs:
                    self.wraps[(src.ident, dst.ident)] = come
                if m == 0:
                    heads.append(come)
        # the columns' tops share a rank; points above them, chained in order directly in the top
        # level (where flat edges hold), keep the columns left to right
        points = [f"~column{n}" for n in range(len(heads))]
        self.points.setdefault(None, []).extend(points)
        self.same.append(heads)
        self.same.append(points)
        self.flat.extend(zip(points, points[1:]))
        for point, head in zip(points, heads):
            self.invisible.append((point, head, {}))

    def _height(self, box: str, rank: dict) -> int:
        """How many ranks a box spans: its layers' and a label's."""
        ranks = [rank[e.ident] for e in self._items_in(box)]
        return max(ranks) - min(ranks) + 2 if ranks else 1

    def _items_in(self, box: str) -> list:
        out = []
        for entry in self.declared[box]:
            out.extend([entry] if isinstance(entry, _Item) else self._items_in(entry))
        return out

    def chain(self, ident: str) -> list:
        """The clusters around a drawn node or cluster, innermost first."""
        out = []
        cluster = self.parent_of[ident]
        while cluster is not None:
            out.append(cluster)
            cluster = self.parent_of[cluster]
        return out

    def common(self, idents: list) -> str | None:
        """The innermost cluster that holds all of them (None: the top level)."""
        chains = [self.chain(i) for i in idents]
        shared = set(chains[0]).intersection(*map(set, chains[1:]))
        return next((c for c in chains[0] if c in shared), None)

    def child_of(self, cluster: str | None, ident: str) -> str:
        """The drawn node itself, or the cluster directly inside `cluster` that holds it."""
        top = ident
        for c in self.chain(ident):
            if c == cluster:
                break
            top = c
        return top

    def apart(self, ident: str, other: str) -> list:
        """The clusters around `ident` that do not hold `other`, innermost first."""
        around_other = set(self.chain(other))
        out = []
        for cluster in self.chain(ident):
            if cluster in around_other:
                break
            out.append(cluster)
        return out


def _reaches(after: dict, a: str, b: str) -> bool:
    todo, seen = [a], set()
    while todo:
        key = todo.pop()
        if key == b:
            return True
        if key not in seen:
            seen.add(key)
            todo.extend(after[key])
    return False


def _partition(heights: list[int], cuttable: list[bool], k: int) -> list[int] | None:
    """Cut points (indices where a column starts, not 0) for k columns that make the tallest column
    as short as possible, or None if there are fewer than k-1 allowed cuts."""
    n = len(heights)
    allowed = [i for i in range(1, n) if cuttable[i]]
    if len(allowed) < k - 1:
        return None
    prefix = [0]
    for h in heights:
        prefix.append(prefix[-1] + h)
    points = [0] + allowed + [n]
    # best[j][c]: the smallest tallest column for the first points[j] entries in c columns
    inf = float("inf")
    best = [[inf] * (k + 1) for _ in points]
    back = [[None] * (k + 1) for _ in points]
    best[0][0] = 0
    for j in range(1, len(points)):
        for c in range(1, k + 1):
            for i in range(j):
                if best[i][c - 1] == inf:
                    continue
                tall = max(best[i][c - 1], prefix[points[j]] - prefix[points[i]])
                if tall < best[j][c]:
                    best[j][c], back[j][c] = tall, i
    if best[-1][k] == inf:
        return None
    cuts, j, c = [], len(points) - 1, k
    while c > 0:
        i = back[j][c]
        if i:
            cuts.append(points[i])
        j, c = i, c - 1
    return sorted(cuts)


# Helvetica's advance widths (per 1000 units of the font size), for the room a label needs; dot
# measures with the font it finds, often a wider one, so estimates are scaled up.
_WIDTHS = dict(zip(" !\"#$%&'()*+,-./0123456789:;<=>?@", [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278,
                                                          333, 278, 278] + [556] * 10 + [278, 278, 584, 584, 584, 556, 1015]))
_WIDTHS.update(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
                                                  778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611]))
_WIDTHS.update(zip("abcdefghijklmnopqrstuvwxyz", [556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
                                                  556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500]))
_WIDTHS.update({"[": 278, "]": 278, "_": 556, "{": 334, "}": 334, "|": 260, "~": 584, "^": 469, "→": 1000, "×": 584})


def _text_width(text: str, size: float, bold: bool = False) -> float:
    return sum(_WIDTHS.get(ch, 600) for ch in text) * size / 1000 * (1.25 if bold else 1.15)


def _node_width(item: _Item, cluster: str | None = None) -> float:
    """A node's width (points) as dot will measure its first line."""
    name, rest = _heading_parts(item, _relative(item.path, cluster))
    return _text_width(name, 10, bold=True) + _text_width(rest, 10) + 12


def _node(container, item: _Item, cluster: str | None, stats: bool, ports: int = 0, rankdir: str = "TB") -> None:
    row = item.row
    family = "block" if item.collapsed else _family(item.op)
    fill, border = family_colors(family)
    shape = _esc(shape_text(row.output_shape))
    small = f"<font point-size=\"9\" color=\"#444444\">{shape}</font>"
    extra = f"<br/><font point-size=\"8\" color=\"#555555\">{_esc(_figures(row))}</font>" if stats and _figures(row) else ""
    described = [f"{item.path}: {item.description}", *item.members]
    tooltip = ", ".join(described) + f" -> {shape_text(row.output_shape)}"
    lines = [_heading(item, _relative(item.path, cluster))]
    if family in ("norm", "activation") and not stats:
        lines[0] += "  " + small  # elementwise: one line keeps deep networks compact
    else:
        lines.append(small)
    if item.collapsed and row.layers > 1 and not item.brief.endswith(" layers"):
        lines[-1] += f"<font point-size=\"8\" color=\"#666666\">   {row.layers} layers</font>"
    attrs = dict(fillcolor=fill, color=border, tooltip=tooltip)
    if item.collapsed:
        attrs.update(style="rounded,filled,bold", penwidth="1.2")
    if family == "input":
        attrs.update(shape="box", style="filled,bold")
    if family == "merge":  # a merge is drawn as one: an ellipse the branches run into
        attrs.update(shape="ellipse", style="filled", margin="0.03,0.01")
    text = "<br/>".join(lines) + extra
    if ports > 1:  # invisible cells along the bottom (TB) or the right side (LR): a port per branch
        table = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
        if rankdir == "TB":  # cells of one width, as wide as the text together: ports spread evenly
            cell = math.ceil(_node_width(item, cluster) / ports)
            cells = "".join(f'<TD PORT="p{j}" WIDTH="{cell}" HEIGHT="0"></TD>' for j in range(ports))
            text = f'{table}<TR><TD COLSPAN="{ports}">{text}</TD></TR><TR>{cells}</TR></TABLE>'
        else:
            rows = "".join(f'<TR><TD PORT="p{j}" WIDTH="0"></TD></TR>' for j in range(1, ports))
            text = f'{table}<TR><TD ROWSPAN="{ports}">{text}</TD><TD PORT="p0" WIDTH="0"></TD></TR>{rows}</TABLE>'
    container.node(item.ident, label="<" + text + ">", **attrs, **{"class": "block" if item.collapsed else family})


def _heading(item: _Item, name: str) -> str:
    """The first line of a node, bold first word and the rest (see _heading_parts)."""
    bold, rest = _heading_parts(item, name)
    return f"<b>{_esc(bold)}</b>{_esc(rest)}"


def _heading_parts(item: _Item, name: str) -> tuple[str, str]:
    """A node's name and what it is, each said once: a name that is the op (`fc: fc 10`) reads
    `fc 10`; a layer without weights named only by its position (`2` in `conv1.2: relu`) reads as
    its op; layers folded into it (compact) follow as `+bn +relu`."""
    desc = item.brief
    op, _, args = desc.partition(" ")
    folded = "".join(f" +{b}" for b in item.folded)
    if not item.collapsed and name.isdigit() and not item.own_params:
        name = ""
    if not name or name == op:
        return op, (f" {args}" if args else "") + folded
    return name, (f"  {desc}" if desc and desc != name else "") + folded


def _figures(row) -> str:
    out = []
    if row.params:
        out.append(f"{human(row.params)} params")
    if row.macs:
        out.append(f"{human(row.macs)} MACs")
    return ", ".join(out)


def _relative(path: str, cluster: str | None) -> str:
    return path[len(cluster) + 1:] if cluster and path.startswith(cluster + ".") else path


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _shortcuts(items: list[_Item], edges: list[tuple[_Item, _Item]]) -> tuple[set[tuple[str, str]], dict[str, int]]:
    """Edges that jump past layers from a fork: the identity and projection paths of a residual
    block, U-Net's copy-and-crop, DenseNet's concatenations. An edge counts when it spans two ranks
    or more (longest path from the input) and its source feeds more than one node or it ends in an
    `add` (a projection shortcut); parallel branches of a `concat` do not count."""
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for s, d in edges:
        succ.setdefault(s.ident, []).append(d.ident)
        pred.setdefault(d.ident, []).append(s.ident)
    rank: dict[str, int] = {}
    for item in items:  # items follow the nodes, which are in topological order
        rank[item.ident] = 1 + max((rank.get(p, 0) for p in pred.get(item.ident, ())), default=-1)
    return {(s.ident, d.ident) for s, d in edges
            if rank[d.ident] - rank[s.ident] >= 2 and (len(succ[s.ident]) > 1 or d.op == "add")}, rank


# --- writing -----------------------------------------------------------------------------------


def output_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext == "gv":
        ext = "dot"
    if ext not in FORMATS:
        raise GraphError(f"cannot tell the format of '{path}' from its extension",
                         hint="name the output .svg, .png, .pdf or .dot", code="E0701")
    return ext


def render_bytes(diagram, fmt: str) -> bytes:
    """The diagram in `fmt` (svg, png, pdf: run through `dot`; dot: the source)."""
    if fmt == "dot":
        return diagram.source.encode("utf-8")
    import graphviz

    try:
        return diagram.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphError(MISSING_DOT.format(fmt=fmt.upper()), code="E0701") from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise GraphError("dot failed: " + (detail[-1] if detail else f"exit status {err.returncode}"), code="E0701") from None


def write(diagram, path: str) -> None:
    data = render_bytes(diagram, output_format(path))
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as err:
        raise GraphError(f"cannot write {path}: {err.strerror}", code="E0701") from None


def svg(analysis: Analysis, **options) -> str:
    return render_bytes(build(analysis, **options), "svg").decode("utf-8")
