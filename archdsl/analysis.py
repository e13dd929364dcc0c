"""The analysis pipeline (shapes -> costs -> receptive fields) and its result, row by row.

Every figure archdsl prints is computed here or in the passes it runs; reports only format.
Figures are for the whole batch except parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import UsageError, Warning_
from .ir import Graph
from .ops import OPS
from .passes.costs import node_costs
from .passes.receptive_field import receptive_fields, rf_sizes, rf_strides
from .passes.shapes import infer_shapes

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    description: str  # `conv 64 3x3 /2 pad=1`, or the block call for a collapsed group
    line: int
    output_shape: tuple  # PyTorch order without the batch
    params: int
    trainable_params: int
    macs: int
    flops: int
    other_ops: int
    activations: int
    receptive_field: tuple | None  # (sizes, strides) as plain numbers
    inplace: bool = False
    layers: int = 1  # how many layers the row stands for (more than one when collapsed)


@dataclass(frozen=True)
class Analysis:
    network: str
    batch: int
    dtype: str
    input_shape: tuple
    rows: tuple[Row, ...]  # the input first
    totals: dict
    outputs: tuple[tuple[str, tuple], ...]
    warnings: tuple[Warning_, ...] = field(default=())
    depth: int | None = None

    @property
    def layers(self) -> tuple[Row, ...]:
        return self.rows[1:]


def analyze(graph: Graph, batch: int = 1, dtype: str = "float32") -> Analysis:
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, not {batch}")
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}'", hint="one of " + ", ".join(DTYPE_BYTES))
    shapes, resolved, warnings = infer_shapes(graph)
    costs = node_costs(graph, shapes, resolved)
    fields = receptive_fields(graph, shapes, resolved)
    rows = []
    for node, shape, r, cost, rf in zip(graph.nodes, shapes, resolved, costs, fields):
        rows.append(Row(
            name=node.name,
            op=node.op,
            description=OPS[node.op].describe(r) if node.op != "input" else "input",
            line=node.span.line,
            output_shape=shape,
            params=cost.params,
            trainable_params=cost.trainable_params,
            macs=cost.macs * batch,
            flops=2 * cost.macs * batch,  # FlopCounterMode: two per multiply-add
            other_ops=cost.other_ops * batch,
            activations=cost.activations * batch,
            receptive_field=None if rf is None else (tuple(rf_sizes(rf)), tuple(rf_strides(rf))),
            inplace=cost.inplace,
        ))
    size = DTYPE_BYTES[dtype]
    params = sum(r.params for r in rows)
    activations = sum(r.activations for r in rows)
    totals = {
        "params": params,
        "trainable_params": sum(r.trainable_params for r in rows),
        "frozen_params": sum(r.params - r.trainable_params for r in rows),
        "macs": sum(r.macs for r in rows),
        "flops": sum(r.flops for r in rows),
        "other_ops": sum(r.other_ops for r in rows),
        "activations": activations,
        "activation_bytes": activations * size,
        "param_bytes": params * size,
        "layers": len(rows) - 1,
    }
    outputs = tuple((graph.nodes[o].name, shapes[o]) for o in graph.outputs)
    return Analysis(graph.name, batch, dtype, shapes[0], tuple(rows), totals, outputs, tuple(warnings))


def collapse(analysis: Analysis, graph: Graph, depth: int) -> Analysis:
    """Rows below `depth` name components fold into their group's row (summed figures; the
    shape and receptive field of the group's last layer). Totals are unchanged."""
    if depth < 1:
        raise UsageError(f"--depth must be at least 1, not {depth}")
    merged: dict[str, Row] = {}
    members: dict[str, list[str]] = {}
    order: list[str] = []
    for row in analysis.rows:
        parts = row.name.split(".")
        key = row.name
        if len(parts) > depth and ".".join(parts[:depth]) in graph.groups:
            key = ".".join(parts[:depth])
        if key != row.name:
            members.setdefault(key, []).append(row.description)
        if key not in merged:
            order.append(key)
            if key == row.name:
                merged[key] = row
            else:
                group = graph.groups[key]
                merged[key] = replace(row, name=key, op=group.kind, description=group.label, line=group.span.line,
                                      inplace=False)
            continue
        prev = merged[key]
        merged[key] = replace(
            prev,
            output_shape=row.output_shape,
            receptive_field=row.receptive_field,
            params=prev.params + row.params,
            trainable_params=prev.trainable_params + row.trainable_params,
            macs=prev.macs + row.macs,
            flops=prev.flops + row.flops,
            other_ops=prev.other_ops + row.other_ops,
            activations=prev.activations + row.activations,
            layers=prev.layers + row.layers,
        )
    for key, descriptions in members.items():
        if not graph.groups[key].label:  # a group that is not a block call: say what it holds
            text = " -> ".join(descriptions) if len(descriptions) <= 3 else f"{len(descriptions)} layers"
            merged[key] = replace(merged[key], description=text)
    return replace(analysis, rows=tuple(merged[k] for k in order), depth=depth)
