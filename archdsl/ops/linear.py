"""Fully connected layers and flatten."""
from __future__ import annotations

from math import prod

from ..figures import flat_view_stride
from .base import INPUT, Arg, Counts, Op
from .lowering import Param, module


class Linear(Op):
    name = "fc"
    aliases = ('linear', 'dense')
    example = "fc 4096"
    family = "linear"
    args = (
        Arg("features", "int", minimum=1),
        Arg("bias", "bool", True, flag=True),
        Arg("last", "bool", False, flag=True),
        Arg("bn", "bool", False, flag=True),
        Arg("act", "act", "none"),
    )
    positional = ("features",)
    attaches = True
    copies_strided_input = "view"  # its flatten reshapes
    doc = ("fully connected layer; flattens a spatial input by itself, or with `last` applies to the last "
           "dimension only (`nn.Linear` on a channels-last tensor after `permute`)")
    lowering = module("nn.Linear", Param("in_features", positional=True), Param("out_features", positional=True),
                      Param("bias", default=True), flatten="flatten")

    def infer(self, a, ins):
        (shape,) = ins
        if a["last"]:
            return shape[:-1] + (a["features"],), {"in_features": shape[-1], "out_features": a["features"],
                                                    "bias": a["bias"], "flatten": False, "last": True}
        fin = prod(shape)
        return (a["features"],), {"in_features": fin, "out_features": a["features"], "bias": a["bias"],
                                  "flatten": len(shape) > 1, "last": False}

    def strided_input(self, r) -> str:
        return "rows" if r["last"] else "view"  # aten's linear reshapes a strided input to rows

    def params(self, r, ins, out):
        return r["in_features"] * r["out_features"] + (r["out_features"] if r["bias"] else 0)

    def macs(self, r, ins, out):
        return prod(out[:-1]) * r["in_features"] * r["out_features"]

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT,) if trainable else ()  # addmm keeps its input only for the weight's gradient

    def amp(self, r, ins, device):
        return "lower"

    def amp_kept_weights(self, r, grads):
        return r["in_features"] * r["out_features"] if grads[0] else 0  # its weight, for the input's gradient

    def param_tensors(self, r):
        return 2 if r["bias"] else 1

    def other_ops(self, r, ins, out):
        return prod(out) if r["bias"] else 0

    def counts(self, r, ins, out, strided=None):
        """torchinfo counts each parameter once per sample, whatever the positions of `last`;
        ptflops adds the bias at every output; its aten backend only where aten's linear is one
        addmm: a 2-D input, or `last` on an input contiguous at batch 1 (else mm, then the bias
        added by an op it does not count)."""
        macs, bias = self.macs(r, ins, out), prod(out) if r["bias"] else 0
        fused = len(ins[0]) == 1 or not r["last"] or strided is None or flat_view_stride(ins[0], strided) == 1
        return Counts(fvcore=macs, torchinfo=self.params(r, ins, out), ptflops=macs + bias,
                      ptflops_aten=macs + (bias if fused else 0), thop=macs, flopcounter=macs)

    def window(self, r, ins, out):
        """Every output reads every input position (a flat input has none left to mix); with
        `last`, each position reads its own."""
        if r["last"] or len(ins[0]) == 1:
            return None
        return tuple((0, n, None, 0, n - 1) for n in ins[0][1:])

    def describe(self, r, brief=False):
        return f"fc {r['out_features']}" + ("" if r["bias"] or brief else " bias=no") + (" last" if r["last"] else "")


class Flatten(Op):
    name = "flatten"
    family = "shape"
    creates_output = False  # a view
    copies_strided_input = "view"  # a reshape
    doc = "flattens to a vector (a view: creates no tensor)"
    lowering = module("nn.Flatten")

    def grad_is_view(self, r):
        return True

    def infer(self, a, ins):
        return (prod(ins[0]),), {}

    counts = Op.nothing

    def other_ops(self, r, ins, out):
        return 0

    def window(self, r, ins, out):
        """Every output reads every input position (a flat input has none left to mix)."""
        return None if len(ins[0]) == 1 else tuple((0, n, None, 0, n - 1) for n in ins[0][1:])
