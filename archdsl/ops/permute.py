"""`permute 0 2 3 1`: the tensor's dimensions reordered, written as torchvision's Permute writes
them (the batch is dimension 0 and stays first). A view: it creates no tensor. Shapes after it
are the permuted PyTorch shape: `permute 0 2 3 1` makes a CxHxW map HxWxC (channels last), for
`layernorm dims=1` and `fc ... last`; `permute 0 3 1 2` turns it back."""
from __future__ import annotations

from .base import Arg, Op, OpError
from .lowering import Param, module


class Permute(Op):
    name = "permute"
    family = "shape"
    args = (Arg("order", "ints"),)
    positional = ("order",)
    example = "permute 0 2 3 1"
    creates_output = False  # a view
    doc = "reorders the dimensions, batch first as `torch.permute` writes them (`permute 0 2 3 1`: channels last; a view)"
    lowering = module("Permute", Param("dims", positional=True, form="tuple"))
    counts = Op.nothing  # a view

    def infer(self, a, ins):
        (shape,) = ins
        order = a["order"]
        if len(order) != len(shape) + 1 or sorted(order) != list(range(len(shape) + 1)):
            raise OpError(f"permute {' '.join(map(str, order))} must order the {len(shape) + 1} dimensions "
                          f"0 to {len(shape)} (the batch and {'x'.join(map(str, shape))}), each once", code="E0504")
        if order[0] != 0:
            raise OpError("permute must keep the batch (dimension 0) first", code="E0504")
        return tuple(shape[d - 1] for d in order[1:]), {"dims": tuple(order)}

    @staticmethod
    def layout(r, strides, out):
        return tuple(strides[d - 1] for d in r["dims"][1:])

    def grad_is_view(self, r):
        return True  # its backward permutes the gradient back: a view

    def other_ops(self, r, ins, out):
        return 0

    def describe(self, r, brief=False):
        return "permute " + " ".join(map(str, r["dims"]))
