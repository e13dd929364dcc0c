"""Shape inference: every node's output shape and resolved attributes, PyTorch's rules exactly.

Errors: a size that reaches zero, a merge of mismatched shapes, a failed `[HxWxC]` assertion.
Each error is said and the pass goes on: a layer after a failed one (or after a failed assertion)
is skipped, so every error of independent branches is said once, and none follows from another.
Warnings: a stride that does not fit and leaves input positions unread.
"""
from __future__ import annotations

from math import prod

from ..errors import Errors, LimitError, ShapeError, Warning_
from ..limits import MAX_ELEMENTS
from ..ir import Graph
from ..ops import OPS, OpError
from ..ops.base import fmt_size, slide_order



_AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def infer_shapes(graph: Graph) -> None:
    """node.shape and node.resolved for every node; graph.warnings."""
    nodes = graph.nodes
    warnings: list[Warning_] = []
    errors, failed = Errors(), set()  # failed: nodes with an error, and every node after one
    checks: dict[int, list] = {}
    for check in graph.assertions:
        checks.setdefault(check.node, []).append(check)
    for node in nodes:
        if failed and any(i in failed for i in node.inputs):
            failed.add(node.id)
            continue
        ins = [nodes[i].shape for i in node.inputs]
        try:
            out, r = OPS[node.op].infer(node.attrs, ins)
            if prod(out) > MAX_ELEMENTS:
                raise LimitError(f"{node.name} would output {prod(out):,} elements per sample; the limit is {MAX_ELEMENTS:,}",
                                 node.span, code="E0612")
        except (OpError, LimitError) as err:
            if isinstance(err, OpError):
                err = ShapeError(f"{node.name}: {err.message}", node.span, err.hint, code=err.code)
            err.trace = node.trace
            failed.add(node.id)
            errors.add(err)
            continue
        if r.get("dropped"):
            warnings.append(_dropped_warning(node, r))
        node.shape, node.resolved = out, r
        for check in checks.get(node.id, ()):
            got = slide_order(out, len(nodes[0].shape))
            if tuple(check.dims) != got:
                err = ShapeError(f"{node.name} gives [{fmt_size(got)}], but the spec expects [{fmt_size(check.dims)}]",
                                 check.span, code="E0506")
                err.trace = node.trace
                failed.add(node.id)
                errors.add(err)
                break
    errors.check()
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
        trace=node.trace,
        code="W0001",
    )
