"""`select INDEX`: the token at INDEX of a sequence `[tokens, features]`, `x[:, INDEX]` (ViT
classifies its class token, `x[:, 0]`). A view of its input; the features of one token are
contiguous, so a following `fc` reads them as they are."""
from __future__ import annotations

from .base import Arg, Op, OpError
from .lowering import Param, module


class Select(Op):
    name = "select"
    args = (Arg("index", "int"),)
    positional = ("index",)
    example = "select 0"
    family = "shape"
    creates_output = False  # a view
    doc = "the token at `index` (from 0) of a sequence `[tokens, features]`, as `x[:, index]` (ViT's class token; a view)"
    lowering = module("Select", Param("index", positional=True))

    counts = Op.nothing  # a view, an index, a concatenation or `+`: no tool counts it (tests/test_conventions.py)

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) < 2:
            raise OpError(f"select picks a token of a sequence, but its input is the flat vector [{shape[0]}]", code="E0504")
        if a["index"] >= shape[0]:
            raise OpError(f"select {a['index']}: the sequence has {shape[0]} tokens, numbered from 0", code="E0507")
        return shape[1:], {"index": a["index"]}

    @staticmethod
    def layout(r, strides, out):
        return strides[1:]

    def grad_is_view(self, r):
        return False  # its backward writes the gradient into a new zero tensor of the input's shape

    def other_ops(self, r, ins, out):
        return 0
