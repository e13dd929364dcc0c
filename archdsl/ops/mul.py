"""`mul { ... }`: its branches multiplied elementwise, with PyTorch's broadcasting (a
squeeze-and-excitation gate of shape Cx1x1 times the CxHxW map it gates)."""
from __future__ import annotations

from math import prod

from .base import Input, New, Op, OpError
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
                code="E0502",
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
    counts = Op.nothing  # `*` and Tensor.mul_: no tool counts them (docs/conventions.md)

    def infer(self, a, ins):
        return broadcast(ins), {}

    def other_ops(self, r, ins, out):
        return prod(out) * (len(ins) - 1)

    def saves(self, r, ins, out, inplace, trainable, grads):
        """`a * b` keeps b when a requires grad and a when b does; each further `out.mul_(c)` keeps
        c when out requires grad, and a clone of out before it (a new tensor) when c does."""
        if len(ins) < 2:
            return ()
        kept = [Input(1)] if grads[0] else []
        kept += [Input(0)] if grads[1] else []
        for k in range(2, len(ins)):
            kept += [Input(k)] if any(grads[:k]) else []
            kept += [New(prod(out))] if grads[k] else []
        return tuple(kept)
