"""Shape inference: every node's output shape and resolved attributes, PyTorch's rules exactly.

Errors: a size that reaches zero, a merge of mismatched shapes, a failed `[HxWxC]` assertion.
Warnings: a stride that does not fit and leaves input positions unread.
"""
from __future__ import annotations

from math import prod

from ..errors import LimitError, ShapeError, Warning_
from ..ir import Graph
from ..ops import OPS, OpError
from ..ops.base import fmt_size

MAX_ELEMENTS = 1 << 50  # one tensor of one sample


def slide_order(shape: tuple) -> tuple:
    """(C, H, W) -> (H, W, C), the order the slides and `input` use; flat vectors unchanged."""
    return shape if len(shape) == 1 else shape[1:] + shape[:1]


_AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def infer_shapes(graph: Graph) -> tuple[list[tuple], list[dict], list[Warning_]]:
    shapes: list[tuple] = []
    resolved: list[dict] = []
    warnings: list[Warning_] = []
    for node in graph.nodes:
        ins = [shapes[i] for i in node.inputs]
        try:
            out, r = OPS[node.op].infer(node.attrs, ins)
        except OpError as err:
            raise ShapeError(f"{node.name} ({node.op}): {err.message}", node.span, err.hint) from None
        if prod(out) > MAX_ELEMENTS:
            raise LimitError(f"{node.name} would output {prod(out):,} elements per sample; the limit is {MAX_ELEMENTS:,}", node.span)
        for note in r.get("dropped", ()):
            axis = _AXES[r["dims"]][note["axis"]]
            exact = (note["n"] + 2 * note["p"] - note["k"]) / note["s"] + 1
            warnings.append(Warning_(
                f"{node.name}: stride {note['s']} does not fit the {axis} {note['n']}: "
                f"({note['n']} + 2*{note['p']} - {note['k']})/{note['s']} + 1 = {exact:.2f}, so the last "
                f"{note['rest']} input position{'s are' if note['rest'] != 1 else ' is'} never used",
                node.span,
                "change the padding or the stride so that the division is exact",
            ))
        shapes.append(out)
        resolved.append(r)
    for check in graph.assertions:
        got = slide_order(shapes[check.node])
        if tuple(check.dims) != got:
            node = graph.nodes[check.node]
            raise ShapeError(f"{node.name} gives [{fmt_size(got)}], but the spec expects [{fmt_size(check.dims)}]", check.span)
    return shapes, resolved, warnings
