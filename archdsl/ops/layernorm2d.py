"""`layernorm2d`: layer normalisation over the channels at each position of a channels-first map
(ConvNeXt's LayerNorm2d: permute to channels last, layer_norm over C, permute back)."""
from __future__ import annotations

from math import prod

from .base import INPUT, Arg, Counts, New, Op, need_spatial
from .lowering import Param, module


class LayerNorm2d(Op):
    name = "layernorm2d"
    aliases = ("layernorm_channels",)
    family = "norm"
    args = (Arg("eps", "float", 1e-5), Arg("affine", "bool", True))
    doc = "layer normalisation over the channels at each position (ConvNeXt's `LayerNorm2d`)"
    lowering = module("LayerNorm2d", Param("num_channels", positional=True), Param("eps", default=1e-5),
                      Param("elementwise_affine", "affine", default=True))

    def infer(self, a, ins):
        (shape,) = ins
        need_spatial("layernorm2d", shape)
        return shape, {**a, "num_channels": shape[0]}

    @staticmethod
    def layout(r, strides, out):
        """Channels last: torchvision's LayerNorm2d permutes back a channels-last result."""
        c, spatial = out[0], out[1:]
        inner = [1] * len(spatial)
        step = c
        for i in range(len(spatial) - 1, -1, -1):
            inner[i] = step
            step *= spatial[i]
        return (1, *inner)

    def params(self, r, ins, out):
        return 2 * r["num_channels"] if r["affine"] else 0

    def saves(self, r, ins, out, inplace, trainable, grads):
        # the mean and inverse std at each position: under autocast float32 beside a float32 weight, else the input's dtype
        return (INPUT, New(2 * prod(out[1:]), "stat" if r["affine"] else "act"))

    def amp(self, r, ins, device):
        return "float32" if device == "cuda" else None  # layer_norm: CUDA's float32 list

    def param_tensors(self, r):
        return 2 if r["affine"] else 0

    def other_ops(self, r, ins, out):
        return 5 * prod(out)

    def counts(self, r, ins, out, strided=None):
        """fvcore counts its aten::layer_norm (5 per element with `affine`, else 4) and torchinfo its
        parameters; ptflops and thop have no rule for a module of archdsl's own (a subclass of
        nn.LayerNorm: they look its type up exactly)."""
        return Counts(fvcore=prod(out) * (5 if r["affine"] else 4), torchinfo=self.params(r, ins, out), ptflops=0,
                      ptflops_aten=0, thop=0, flopcounter=0)
