"""The analysis a report prints: the analysed graph's nodes as rows, at a batch size and dtype.

No arithmetic of its own: every figure is a node's (figures.py, counted by the passes), scaled by
the batch where the registry says so, and summed for totals and collapsed blocks.
"""

from operator import itemgetter
from typing import NamedTuple

from . import passes
from .errors import UsageError
from .figures import AMP, CONVENTIONS, DTYPE_BYTES, FIGURES, OPTIMIZERS, TOTALS, Settings, at_settings, combine, recount
from .ir import Graph
from .ops import OPS
from .passes.memory import amp_storages
from .passes.receptive_field import rf_sizes, rf_strides

__all__ = ["Analysis", "DTYPE_BYTES", "Row", "analyze", "collapse"]


class Row(NamedTuple):
    """One layer, or one collapsed block. Every figure of the registry is an attribute
    (`row.params`, `row.macs`) and a key of `row.figures`."""

    name: str
    op: str
    description: str  # `conv 64 3x3 /2 pad=1`, or the block call for a collapsed group
    line: int
    output_shape: tuple  # PyTorch order without the batch
    receptive_field: tuple | None  # (sizes, strides) as plain numbers
    figures: dict
    inplace: bool = False
    layers: int = 1  # how many layers the row stands for (more than one when collapsed)
    file: str = ""  # the spec file that wrote the layer (a `use`d file's layers name it), as errors name it

    def __getattr__(self, key: str):
        try:
            return self.figures[key]
        except KeyError:
            raise AttributeError(key) from None


class Analysis(NamedTuple):
    """The rows and totals of an analysed graph at a run's settings (`Network.analyze`)."""

    graph: Graph  # analysed
    batch: int
    dtype: str
    rows: tuple[Row, ...]  # the input first
    totals: dict
    depth: int | None = None
    settings: Settings = Settings()
    convention: str = "archdsl"  # whose convention `macs` and `flops` follow (figures.CONVENTIONS)

    @property
    def network(self) -> str:
        return self.graph.name

    @property
    def input_shape(self) -> tuple:
        return self.graph.nodes[0].shape

    @property
    def outputs(self) -> tuple[tuple[str, tuple], ...]:
        return tuple((self.graph.nodes[o].name, self.graph.nodes[o].shape) for o in self.graph.outputs)

    @property
    def warnings(self) -> tuple:
        return tuple(self.graph.warnings)

    @property
    def layers(self) -> tuple[Row, ...]:
        return self.rows[1:]

    # ---- for people and notebooks: the reports of report/, as text, Markdown, HTML and dicts -----
    def __repr__(self) -> str:
        t = self.totals
        depth = "" if self.depth is None else f", depth {self.depth}"
        convention = "" if self.convention == "archdsl" else f" as {self.convention} counts them"
        return (f"<Analysis {self.network}: {t['layers']:,} layers, {t['params']:,} params, {t['macs']:,} MACs{convention} "
                f"(batch {self.batch}, {self.dtype}{depth})>")

    def __str__(self) -> str:
        """The table `archdsl analyze` writes to a file or a pipe: every column in full, no colour."""
        import io

        from rich.console import Console

        from .report.table import render_table

        # a console as wide as any table (the table never pads to it), not a terminal: no colour
        console = Console(file=io.StringIO(), width=10_000, highlight=False, color_system=None,
                          force_terminal=False, force_jupyter=False, force_interactive=False)
        render_table(self, console)
        return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())

    def _repr_markdown_(self) -> str:
        from .report.formats import to_markdown

        return to_markdown(self)

    def _repr_html_(self) -> str:
        from .report.formats import to_html

        return to_html(self)

    def to_dict(self) -> dict:
        """The `--format json` document (schema archdsl.analysis/1) as plain dicts, lists and numbers."""
        from .report.formats import to_dict

        return to_dict(self)

    def to_json(self) -> str:
        """What `archdsl analyze --format json` prints."""
        from .report.formats import to_json

        return to_json(self)

    def to_csv(self) -> str:
        """What `archdsl analyze --format csv` prints."""
        from .report.formats import to_csv

        return to_csv(self)


def settings(batch: int = 1, dtype: str = "float32", optimizer: str = "sgd", device: str = "cpu",
             amp: str | None = None) -> Settings:
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, not {batch}", code="E0901")
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}'", hint="one of " + ", ".join(DTYPE_BYTES), code="E0901")
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer '{optimizer}'", hint="one of " + ", ".join(OPTIMIZERS), code="E0901")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"unknown device '{device}'", hint="cpu or cuda", code="E0901")
    if amp is not None and amp not in AMP:
        raise UsageError(f"unknown --amp '{amp}'", hint="bf16 or fp16", code="E0901")
    if amp and dtype != "float32":
        raise UsageError(f"--amp {amp} with --dtype {dtype}: autocast runs a float32 model in lower precision",
                         hint="leave out --dtype (float32), or leave out --amp", code="E0902")
    return Settings(batch, dtype, optimizer, device, amp)


def analyze(graph: Graph, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd",
            device: str = "cpu", convention: str = "archdsl", amp: str | None = None) -> Analysis:
    """The rows and totals of `graph` (analysed here if it is not yet) for a batch and dtype, and
    the memory of a training step with `optimizer` on `device` (under autocast with `amp`); MACs
    and FLOPs as `convention` counts them (docs/conventions.md, "Other tools' conventions")."""
    run = settings(batch, dtype, optimizer, device, amp)
    if convention not in CONVENTIONS:
        raise UsageError(f"unknown convention '{convention}'", hint="one of " + ", ".join(CONVENTIONS), code="E0901")
    passes.run(graph)
    if amp:
        amp_storages(graph, device)
    rows = []
    fields: dict[int, tuple] = {}  # a receptive field as plain numbers, by id (elementwise layers share their input's)
    for node in graph.nodes:
        rf = node.rf
        if rf is not None and id(rf) not in fields:
            fields[id(rf)] = (tuple(rf_sizes(rf)), tuple(rf_strides(rf)))
        span = node.span
        rows.append(Row(
            name=node.name,
            op=node.op,
            description=OPS[node.op].describe(node.resolved) if node.op != "input" else "input",
            line=span.line,
            file=span.source.path,
            output_shape=node.shape,
            receptive_field=None if rf is None else fields[id(rf)],
            figures=at_settings(node, run, recount(graph, node, convention)),
            inplace=node.inplace,
        ))
    per_row = [row.figures for row in rows]
    sums = {f.name: sum(map(itemgetter(f.name), per_row)) for f in FIGURES}
    result = Analysis(graph, batch, dtype, tuple(rows), sums, settings=run, convention=convention)
    for total in TOTALS:
        sums[total.name] = total.value(sums, result)
    return result


def collapse(analysis: Analysis, graph: Graph | None = None, depth: int = 1) -> Analysis:
    """Rows below `depth` name components fold into their group's row (figures combined as the
    registry says; the shape and receptive field of the group's last layer). Totals unchanged."""
    if depth < 1:
        raise UsageError(f"--depth must be at least 1, not {depth}", code="E0901")
    graph = analysis.graph
    tree = graph.hierarchy()
    merged: dict[str, Row] = {}
    members: dict[str, list[str]] = {}
    order: list[str] = []
    for node, row in zip(graph.nodes, analysis.rows):
        key = row.name
        group = tree.node_parent[node.id]
        while group and group.count(".") >= depth:  # the enclosing group `depth` names deep, if any
            group = tree.group_parent[group]
        if group and group.count(".") == depth - 1:
            key = group
        if key != row.name:
            members.setdefault(key, []).append(row.description)
        if key not in merged:
            order.append(key)
            if key == row.name:
                merged[key] = row
            else:
                group = graph.groups[key]
                merged[key] = row._replace(name=key, op=group.kind, description=group.label, line=group.span.line,
                                      file=group.span.source.path, inplace=False)
            continue
        prev = merged[key]
        merged[key] = prev._replace(output_shape=row.output_shape, receptive_field=row.receptive_field,
                              figures=combine(prev.figures, row.figures), layers=prev.layers + row.layers)
    for key, descriptions in members.items():
        if not graph.groups[key].label:  # a group that is not a block call: say what it holds
            text = " -> ".join(descriptions) if len(descriptions) <= 3 else f"{len(descriptions)} layers"
            merged[key] = merged[key]._replace(description=text)
    return analysis._replace(rows=tuple(merged[k] for k in order), depth=depth)
