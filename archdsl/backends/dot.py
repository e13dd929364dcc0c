"""IR + analysis -> a graphviz diagram: one node per layer (or per collapsed block), blocks as
clusters, merges as merges, shortcuts drawn as shortcuts.

Formatting only: every figure on the diagram (shapes, parameters, MACs, descriptions) is a row of
the analysis, or of `collapse` for `depth` and for a block's sums. The `graphviz` package is
imported when a diagram is built, never when archdsl is; `dot` is run only to write SVG, PNG or
PDF (`.dot` is the DOT source, written without it).
"""
from __future__ import annotations

import html
import os
import zlib

from ..analysis import Analysis, collapse
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
    """One drawn node: a layer, or a block collapsed into one node."""

    __slots__ = ("ident", "path", "row", "op", "collapsed", "description", "brief")

    def __init__(self, ident: str, path: str, row, op: str, collapsed: bool, brief: str):
        self.ident, self.path, self.row, self.op, self.collapsed = ident, path, row, op, collapsed
        self.description = row.description
        self.brief = brief  # the description without options that do not change what it computes


def build(analysis: Analysis, *, depth: int | None = None, stats: bool = False, rankdir: str = "TB"):
    """The diagram of the analysed network as a `graphviz.Digraph`. `analysis` is the full
    analysis (one row per node, not collapsed); `depth` collapses blocks below that depth into
    one node each."""
    import graphviz

    graph = analysis.graph
    if len(analysis.rows) != len(graph.nodes) or analysis.depth is not None:
        raise ValueError("build() takes the full analysis of the graph (one row per node), not a collapsed one")
    if rankdir not in ("TB", "LR"):
        raise GraphError(f"--rankdir must be TB or LR, not {rankdir}")
    folded = {}
    if depth is not None:
        folded = {r.name: r for r in collapse(analysis, graph, depth).rows if r.name in graph.groups}

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
        else:
            brief = OPS[node.op].describe(node.resolved, brief=True) if node.op != "input" else "input"
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
    hierarchy = graph.hierarchy()

    def parent_cluster(path: str, is_group: bool) -> str | None:
        parent = hierarchy.group_parent[path] if is_group else hierarchy.node_parent[graph_ids[path]]
        if not parent:
            return None
        if parent not in tree:
            tree[parent] = []
            tree[parent_cluster(parent, True)].append(parent)
        return parent

    graph_ids = {node.name: node.id for node in graph.nodes}
    for item in items:
        tree[parent_cluster(item.path, item.collapsed)].append(item)

    cluster_rows = {}
    if stats:
        for d in sorted({p.count(".") + 1 for p in tree if p is not None}):
            for r in collapse(analysis, graph, d).rows:
                if r.name in tree:
                    cluster_rows[r.name] = r

    # --- the digraph ------------------------------------------------------------------------------
    dot = graphviz.Digraph(name=graph.name, engine="dot")
    totals = analysis.totals
    title = (f"<<b>{_esc(graph.name)}</b>   {_esc(shape_text(analysis.input_shape))} → "
             + ", ".join(_esc(shape_text(s)) for _, s in analysis.outputs)
             + f"   <font color=\"#555555\">{human(totals['params'])} params, {human(totals['macs'])} MACs</font>>")
    dot.attr("graph", rankdir=rankdir, label=title, labelloc="t", labeljust="l", fontname=FONT, fontsize="14",
             nodesep="0.18", ranksep="0.18", newrank="true", ordering="in", compound="true", bgcolor="white", pad="0.2")
    dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="10", penwidth="0.9",
             margin="0.08,0.03", height="0.22")
    dot.attr("edge", color="#555555", arrowsize="0.6", penwidth="0.9")

    def emit(container, cluster: str | None, level: int) -> None:
        # dot places sibling clusters right to left in the order they are declared; declaring
        # them in reverse puts parallel branches left to right in the spec's order.
        entries = tree[cluster]
        entries = [e for e in entries if isinstance(e, _Item)] + [e for e in reversed(entries) if not isinstance(e, _Item)]
        for entry in entries:
            if isinstance(entry, _Item):
                _node(container, entry, cluster, stats)
                continue
            with container.subgraph(name="cluster_" + entry) as sub:
                info = graph.groups[entry]
                rel = _relative(entry, cluster)
                label = f"<b>{_esc(rel)}</b>"
                if info.label:
                    label += f"  {_esc(info.label)}"
                if entry in cluster_rows:
                    label += f"<br/><font point-size=\"9\" color=\"#555555\">{_esc(_figures(cluster_rows[entry]))}</font>"
                style = "rounded,filled" if info.kind == "block" else "rounded,dashed,filled"
                fill = CLUSTER_FILLS[level % len(CLUSTER_FILLS)] if info.kind == "block" else "white" if level == 0 else CLUSTER_FILLS[(level - 1) % len(CLUSTER_FILLS)]
                sub.attr(label=f"<{label}>", style=style, fillcolor=fill, color="#8a96a8", penwidth="0.8",
                         fontname=FONT, fontsize="10", labeljust="l", margin="6", tooltip=f"{entry}: {info.label}".rstrip(": "))
                emit(sub, entry, level + (info.kind == "block"))

    emit(dot, None, 0)
    # Parallel branches start side by side: the first nodes after a fork share a rank.
    starts: dict[str, list[str]] = {}
    for src, dst in edges:
        if rank[dst.ident] == rank[src.ident] + 1:
            starts.setdefault(src.ident, []).append(dst.ident)
    placed: set[str] = set()
    for group in starts.values():
        group = [g for g in group if g not in placed]
        if len(group) > 1:
            placed.update(group)
            with dot.subgraph() as same:
                same.attr(rank="same")
                for ident in group:
                    same.node(ident)
    for src, dst in edges:
        if (src.ident, dst.ident) in skips:
            dot.edge(src.ident, dst.ident, color=SKIP_COLOR, penwidth="1.4", **{"class": "shortcut"})
        else:
            dot.edge(src.ident, dst.ident)
    return dot


def _node(container, item: _Item, cluster: str | None, stats: bool) -> None:
    row = item.row
    family = "block" if item.collapsed else _family(item.op)
    fill, border = family_colors(family)
    rel = _relative(item.path, cluster)
    shape = _esc(shape_text(row.output_shape))
    small = f"<font point-size=\"9\" color=\"#444444\">{shape}</font>"
    extra = f"<br/><font point-size=\"8\" color=\"#555555\">{_esc(_figures(row))}</font>" if stats and _figures(row) else ""
    tooltip = f"{item.path}: {row.description} -> {shape_text(row.output_shape)}"
    desc = item.brief
    lines = [f"<b>{_esc(rel)}</b>"]
    if desc and desc != rel:
        lines[0] += f"  {_esc(desc)}"
    if family in ("norm", "activation") and not stats:
        lines[0] += "  " + small  # elementwise: one line keeps deep networks compact
    else:
        lines.append(small)
    if item.collapsed and row.layers > 1 and not desc.endswith(" layers"):
        lines[-1] += f"<font point-size=\"8\" color=\"#666666\">   {row.layers} layers</font>"
    attrs = dict(fillcolor=fill, color=border, tooltip=tooltip)
    if item.collapsed:
        attrs.update(style="rounded,filled,bold", penwidth="1.2")
    if family == "input":
        attrs.update(shape="box", style="filled,bold")
    if family == "merge":  # a merge is drawn as one: an ellipse the branches run into
        attrs.update(shape="ellipse", style="filled", margin="0.03,0.01")
    container.node(item.ident, label="<" + "<br/>".join(lines) + extra + ">", **attrs,
                   **{"class": "block" if item.collapsed else family})


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
                         hint="name the output .svg, .png, .pdf or .dot")
    return ext


def render_bytes(diagram, fmt: str) -> bytes:
    """The diagram in `fmt` (svg, png, pdf: run through `dot`; dot: the source)."""
    if fmt == "dot":
        return diagram.source.encode("utf-8")
    import graphviz

    try:
        return diagram.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphError(MISSING_DOT.format(fmt=fmt.upper())) from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise GraphError("dot failed: " + (detail[-1] if detail else f"exit status {err.returncode}")) from None


def write(diagram, path: str) -> None:
    data = render_bytes(diagram, output_format(path))
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as err:
        raise GraphError(f"cannot write {path}: {err.strerror}") from None


def svg(analysis: Analysis, **options) -> str:
    return render_bytes(build(analysis, **options), "svg").decode("utf-8")
