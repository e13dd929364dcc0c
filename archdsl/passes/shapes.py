"""Shape inference: every node's output shape and resolved attributes, PyTorch's rules exactly.

Errors: a size that reaches zero, a merge of mismatched shapes, a failed `[HxWxC]` assertion.
Warnings: a stride that does not fit and leaves input positions unread.
"""
from __future__ import annotations

from math import prod

from ..errors import LimitError, ShapeError, Warning_
from ..limits import MAX_ELEMENTS
from ..ir import Graph
from ..ops import OPS, OpError
from ..ops.base import fmt_size, slide_order



_AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def infer_shapes(graph: Graph) -> None:
    """node.shape and node.resolved for every node; graph.warnings."""
    nodes = graph.nodes
    warnings: list[Warning_] = []
    for node in nodes:
        ins = [nodes[i].shape for i in node.inputs]
        try:
            out, r = OPS[node.op].infer(node.attrs, ins)
        except OpError as err:
            raise ShapeError(f"{node.name}: {err.message}", node.span, err.hint) from None
        if prod(out) > MAX_ELEMENTS:
            raise LimitError(f"{node.name} would output {prod(out):,} elements per sample; the limit is {MAX_ELEMENTS:,}", node.span)
        if r.get("dropped"):
            warnings.append(_dropped_warning(node, r))
        node.shape, node.resolved = out, r
    for check in graph.assertions:
        got = slide_order(nodes[check.node].shape, len(nodes[0].shape))
        if tuple(check.dims) != got:
            node = nodes[check.node]
            raise ShapeError(f"{node.name} gives [{fmt_size(got)}], but the spec expects [{fmt_size(check.dims)}]", check.span)
    graph.warnings = warnings


_UNITS = {"length": "position", "depth": "slice", "height": "row", "width": "column"}


def _dropped_warning(node, r) -> Warning_:
    """One sentence for all the dimensions a stride does not fit (identical ones said once)."""
    by_numbers: dict[tuple, list[str]] = {}
    for note in r["dropped"]:
        key = (note["n"], note["p"], note["k"], note["s"], note["rest"])
        by_numbers.setdefault(key, []).append(_AXES[r["dims"]][note["axis"]])
    parts, rests = [], []
    for (n, p, k, s, rest), axes in by_numbers.items():
        exact = (n + 2 * p - k) / s + 1
        parts.append(f"the {' and '.join(axes)} {n} ((N + 2P - F)/stride + 1 = ({n} + 2*{p} - {k})/{s} + 1 = {exact:.2f})")
        units = " and ".join(_UNITS[a] + ("s" if rest != 1 else "") for a in axes)
        rests.append(f"{rest} {units}")
    verb = "is" if len(rests) == 1 and by_numbers and next(iter(by_numbers))[4] == 1 and len(next(iter(by_numbers.values()))) == 1 else "are"
    return Warning_(
        f"{node.name}: stride {r['dropped'][0]['s']} does not fit {'; '.join(parts)}: the last {' and '.join(rests)} of its input {verb} never read",
        node.span,
        "change the padding or the stride so that the division is exact",
    )
