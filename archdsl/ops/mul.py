"""`mul { ... }`: its branches multiplied elementwise, with PyTorch's broadcasting (a
squeeze-and-excitation gate of shape Cx1x1 times the CxHxW map it gates)."""
from __future__ import annotations

from math import prod

from .base import Op, OpError
from .lowering import Lowering
from .merge import _slide


def broadcast(shapes: list[tuple]) -> tuple:
    """PyTorch's broadcast of shapes of one rank (the batch dimension is in front of each):
    every dimension equal, or 1 in all but one of them."""
    out = list(shapes[0])
    for i, s in enumerate(shapes[1:], 2):
        if len(s) != len(out) or any(a != b and 1 not in (a, b) for a, b in zip(out, s)):
            raise OpError(
                f"the branches do not broadcast: branch 1 gives {_slide(shapes[0])} and branch {i} gives {_slide(s)}",
                hint="each dimension must be equal in every branch, or 1 in all but one of them "
                     "(a squeeze-and-excitation gate is [1x1xC] against [HxWxC])",
            )
        out = [max(a, b) for a, b in zip(out, s)]
    return tuple(out)


class Mul(Op):
    name = "mul"
    family = "merge"
    min_inputs, max_inputs = 1, 10_000
    writable = False  # written `mul { ... }`
    doc = "multiplies its branches elementwise, broadcasting dimensions of size 1 (a squeeze-and-excitation gate)"
    lowering = Lowering(None, call="mul")

    def infer(self, a, ins):
        return broadcast(ins), {}

    def other_ops(self, r, ins, out):
        return prod(out) * (len(ins) - 1)
