"""`pos_embedding`: the input plus a learned tensor of its own shape (1xLxD for a sequence of L
tokens: ViT's `encoder.pos_embedding`, drawn from N(0, 0.02²) at first), a parameter of the block
it is written in: its state_dict key is the layer's name, listed before the block's submodules.
`input + pos_embedding` writes a new tensor and keeps nothing for backward."""
from __future__ import annotations

from math import prod

from .base import Arg, Op, OpError
from .lowering import Lowering, Param


class PosEmbedding(Op):
    name = "pos_embedding"
    aliases = ("position_embedding",)
    family = "shape"
    args = (Arg("std", "float", 0.02),)
    quiet = ("std",)
    doc = ("plus a learned tensor of the input's shape (1xLxD for a sequence; normal with `std` at first: "
           "ViT's position embedding), a parameter of its block")
    lowering = Lowering("normal", (Param("shape", positional=True, form="tuple"), Param("std", positional=True)),
                        call="parameter", combine="add")

    counts = Op.nothing  # a view, an index, a concatenation or `+`: no tool counts it (tests/test_conventions.py)

    def amp(self, r, ins, device):
        return "widens"  # the input plus a float32 parameter

    def infer(self, a, ins):
        (shape,) = ins
        if a["std"] < 0:
            raise OpError(f"pos_embedding std {a['std']:g} is negative", code="E0201")
        return shape, {"shape": (1, *shape), "std": a["std"]}

    def params(self, r, ins, out):
        return prod(r["shape"])

    def param_tensors(self, r):
        return 1

    def grad_is_view(self, r):
        return True  # an add hands its input the gradient itself

    def describe(self, r, brief=False):
        return "pos_embedding" + ("" if brief or r["std"] == 0.02 else f" std={r['std']:g}")
