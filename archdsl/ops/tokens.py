"""`tokens`: a CxHxW map (any number of spatial dimensions) as a sequence of H·W tokens of C
features, shape `[tokens, features]`: `x.flatten(2).transpose(1, 2)`, what torchvision's ViT
does to its patch embedding (`reshape(n, hidden, n_h * n_w).permute(0, 2, 1)`). A view with
the features strided by the tokens: the layer that reads it next (a class token's concatenation)
writes a new tensor."""
from __future__ import annotations

from math import prod

from .base import Op, need_spatial
from .lowering import module


class Tokens(Op):
    name = "tokens"
    aliases = ("to_tokens",)
    family = "shape"
    creates_output = False  # a view
    doc = ("a CxHxW map as a sequence of H·W tokens of C features, `[tokens, features]` "
           "(`x.flatten(2).transpose(1, 2)`: ViT's patches after its `conv_proj`; a view)")
    lowering = module("Tokens")

    counts = Op.nothing  # a view, an index, a concatenation or `+`: no tool counts it (tests/test_conventions.py)

    def infer(self, a, ins):
        (shape,) = ins
        need_spatial("tokens", shape)
        return (prod(shape[1:]), shape[0]), {}

    @staticmethod
    def layout(r, strides, out):
        """flatten(2) views the spatial dimensions (a layer's contiguous output), then the two swap."""
        return (strides[-1], strides[0])

    def grad_is_view(self, r):
        return True

    def other_ops(self, r, ins, out):
        return 0
