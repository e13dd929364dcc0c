"""Merges of parallel branches: `concat` along channels and `add` (residual)."""
from __future__ import annotations

from math import prod

from .base import Op, OpError, fmt_size
from .lowering import Lowering


def _slide(shape: tuple) -> str:
    """A shape as the slides write it: [28x28x256]."""
    return "[" + fmt_size(shape[1:] + shape[:1] if len(shape) > 1 else shape) + "]"


class Concat(Op):
    name = "concat"
    family = "merge"
    min_inputs, max_inputs = 1, 10_000
    writable = False  # written `concat { ... }`
    doc = "concatenates its branches along the channels (depth)"
    lowering = Lowering(None, call="cat")
    counts = Op.nothing  # torch.cat, a function call: no tool counts it

    def grad_is_view(self, r):
        return True  # each branch gets a slice of the gradient

    def infer(self, a, ins):
        first = ins[0]
        for i, s in enumerate(ins[1:], 2):
            if len(s) != len(first) or s[1:] != first[1:]:
                raise OpError(
                    f"every branch must have the same spatial size, but branch 1 gives {_slide(first)} and branch {i} gives {_slide(s)}",
                    code="E0502",
                )
        return (sum(s[0] for s in ins),) + first[1:], {}

    def other_ops(self, r, ins, out):
        return 0


class Add(Op):
    name = "add"
    family = "merge"
    min_inputs, max_inputs = 1, 10_000
    inplace = True  # into its first branch when nothing else reads it: torchvision's `out += identity`
    writable = False  # written `add { ... }`
    doc = "adds its branches elementwise (a residual connection)"
    lowering = Lowering(None, call="add")
    counts = Op.nothing  # `+` or `+=` (Tensor.add_): no tool counts it (docs/conventions.md)

    def grad_is_view(self, r):
        return True  # every branch gets the gradient itself

    def infer(self, a, ins):
        first = ins[0]
        for i, s in enumerate(ins[1:], 2):
            if s != first:
                broadcasts = len(s) == len(first) and all(a == b or 1 in (a, b) for a, b in zip(first, s))
                raise OpError(
                    f"every branch must have the same shape, but branch 1 gives {_slide(first)} and branch {i} gives {_slide(s)}",
                    hint="to scale one branch by the other (a gate of size 1 broadcast over the map), write `mul { ... }`"
                    if broadcasts else
                    "a residual branch that changes channels or stride needs a projection (1x1 conv) on the shortcut",
                    code="E0502",
                )
        return first, {}

    def other_ops(self, r, ins, out):
        return prod(out) * (len(ins) - 1)
