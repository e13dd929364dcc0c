"""Every figure archdsl counts, declared once (docs/conventions.md defines each).

A `Figure` is counted per node for one sample by the figures pass; rows, totals, `--depth`
collapsing, JSON, CSV, Markdown and the table read this registry and nothing else. A `Total`
is a network-wide figure derived from the summed ones and the run's settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Callable

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True, slots=True)
class Counted:
    """What a figure's rule sees: the node, its op, its input shapes, whether its (first) input
    is a strided view."""

    node: object
    op: object
    ins: list
    strided_input: tuple | None = None  # the strides of a strided (first) input

    @property
    def resolved(self) -> dict:
        return self.node.resolved

    @property
    def out(self) -> tuple:
        return self.node.shape


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # the JSON/CSV key and the Row attribute
    doc: str  # anchor in docs/conventions.md
    count: Callable[[Counted], int]  # one sample, one node (figures already counted are in node.figures)
    per_sample: bool = True  # scales with --batch
    combine: str = "sum"  # how a collapsed block's row combines its layers' values: sum | max
    column: str = ""  # its column in the table and in Markdown ("": none)
    style: str = "human"  # how report/table.py writes a cell: count | human | params | activations


def _params(c: Counted) -> int:
    return c.op.params(c.resolved, c.ins, c.out)


def _activations(c: Counted) -> int:
    own = prod(c.out) if c.op.creates_output and not c.node.inplace else 0
    return own + (prod(c.ins[0]) if _copies(c) else 0)


def _copies(c: Counted) -> bool:
    """Whether the layer copies its strided input (a crop's slice) first. A reshape views it when
    the strides of its dimensions (size 1 aside) nest; a contiguous copy is made whenever the
    slice cut something, as PyTorch does at every batch above 1."""
    if c.strided_input is None or not c.op.copies_strided_input:
        return False
    if c.op.copies_strided_input == "contiguous":
        return True
    return flat_view_stride(c.ins[0], c.strided_input) is None


def flat_view_stride(shape: tuple, strides: tuple) -> int | None:
    """The stride of a strided tensor flattened as a view, or None where the flatten must copy:
    the strides of its dimensions (size 1 aside) must nest."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    if any(s != s2 * n2 for (_, s), (n2, s2) in zip(dims, dims[1:])):
        return None
    return dims[-1][1] if dims else 1


FIGURES: tuple[Figure, ...] = (
    Figure("params", "parameters", _params, per_sample=False, column="params", style="params"),
    Figure("trainable_params", "parameters", lambda c: 0 if c.node.frozen else c.node.figures["params"], per_sample=False),
    Figure("macs", "macs-and-flops", lambda c: c.op.macs(c.resolved, c.ins, c.out), column="MACs"),
    Figure("flops", "macs-and-flops", lambda c: 2 * c.node.figures["macs"]),  # FlopCounterMode: two per multiply-add
    Figure("other_ops", "other-work", lambda c: c.op.other_ops(c.resolved, c.ins, c.out)),
    Figure("activations", "activations", _activations, column="activations", style="activations"),
)
BY_NAME = {f.name: f for f in FIGURES}
COLUMNS = tuple(f for f in FIGURES if f.column)


@dataclass(frozen=True, slots=True)
class Total:
    name: str
    doc: str
    value: Callable[[dict, object], int]  # (summed figures, the Analysis) -> value


TOTALS: tuple[Total, ...] = (
    Total("frozen_params", "parameters", lambda t, a: t["params"] - t["trainable_params"]),
    Total("activation_bytes", "bytes", lambda t, a: t["activations"] * DTYPE_BYTES[a.dtype]),
    Total("param_bytes", "bytes", lambda t, a: t["params"] * DTYPE_BYTES[a.dtype]),
    Total("layers", "layers", lambda t, a: len(a.graph.nodes) - 1),
)


def count(node, op, ins: list, strided_input: tuple | None = None) -> dict:
    """A node's figures for one sample, in the registry's order."""
    node.figures = {}
    c = Counted(node, op, ins, strided_input)
    for figure in FIGURES:
        node.figures[figure.name] = figure.count(c)
    return node.figures


def total(graph, name: str) -> int:
    """One sample's figure summed over an analysed graph (what a backend states, e.g. its parameters)."""
    return sum(node.figures[name] for node in graph.nodes)


def scaled(figures: dict, batch: int) -> dict:
    """One sample's figures for a batch (at batch 1 the node's own dictionary: read it only)."""
    if batch == 1:
        return figures
    return {f.name: figures[f.name] * batch if f.per_sample else figures[f.name] for f in FIGURES}


def combine(a: dict, b: dict) -> dict:
    return {f.name: a[f.name] + b[f.name] if f.combine == "sum" else max(a[f.name], b[f.name]) for f in FIGURES}
