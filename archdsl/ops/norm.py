"""Batch, layer, group and local response normalisation."""
from __future__ import annotations

from math import prod

from .base import INPUT, NOTHING, Arg, Counts, New, Op, OpError, need_spatial
from .lowering import Param, module


class BatchNorm(Op):
    name = "bn"
    aliases = ('batchnorm',)
    family = "norm"
    args = (Arg("eps", "float", 1e-5), Arg("momentum", "float", 0.1), Arg("affine", "bool", True))
    doc = "batch normalisation over the channels"
    lowering = module("nn.BatchNorm{dims}d", Param("num_features", positional=True), Param("eps", default=1e-5),
                      Param("momentum", default=0.1), Param("affine", default=True))

    def infer(self, a, ins):
        (shape,) = ins
        return shape, {**a, "num_features": shape[0], "dims": max(1, len(shape) - 1)}

    def params(self, r, ins, out):
        return 2 * r["num_features"] if r["affine"] else 0

    def other_ops(self, r, ins, out):
        return 2 * prod(out)  # eval mode: one multiply and one add per element

    def counts(self, r, ins, out, strided=None):
        """fvcore (eval) and ptflops: 1 per element, 2 with `affine`; thop twice that; torchinfo
        its parameters once per sample."""
        n, affine = prod(out), r["affine"]
        return Counts(fvcore=n * (2 if affine else 1), torchinfo=self.params(r, ins, out), ptflops=n * (2 if affine else 1),
                      ptflops_aten=0, thop=2 * n * (2 if affine else 1), flopcounter=0)

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT, New(2 * r["num_features"], "stat", per_sample=False))  # the batch's mean and inverse std

    def buffers(self, r):
        return 2 * r["num_features"], 1  # running mean and variance, num_batches_tracked

    def param_tensors(self, r):
        return 2 if r["affine"] else 0


class LayerNorm(Op):
    name = "layernorm"
    aliases = ('ln',)
    family = "norm"
    args = (Arg("eps", "float", 1e-5), Arg("affine", "bool", True), Arg("dims", "int", 0))
    doc = ("layer normalisation over all of a sample's dimensions, or over its last `dims` (`dims=1`: "
           "per position, over the channels of a channels-last tensor)")
    lowering = module("nn.LayerNorm", Param("normalized_shape", positional=True, form="tuple"),
                      Param("eps", default=1e-5), Param("elementwise_affine", "affine", default=True))

    def infer(self, a, ins):
        (shape,) = ins
        dims = a["dims"] or len(shape)
        if dims > len(shape):
            raise OpError(f"layernorm dims={dims}: its input has only {len(shape)} dimensions", code="E0504")
        return shape, {**a, "normalized_shape": shape[len(shape) - dims:]}

    def params(self, r, ins, out):
        return 2 * prod(r["normalized_shape"]) if r["affine"] else 0

    def saves(self, r, ins, out, inplace, trainable, grads):
        # the mean and inverse std of each normalised group: per sample, one for every position the last `dims` leave
        # (under autocast float32 beside a float32 weight; without one, the input's dtype)
        return (INPUT, New(2 * prod(ins[0][:len(ins[0]) - len(r["normalized_shape"])]), "stat" if r["affine"] else "act"))

    def param_tensors(self, r):
        return 2 if r["affine"] else 0

    def other_ops(self, r, ins, out):
        return 5 * prod(out)

    def counts(self, r, ins, out, strided=None):
        """fvcore: 5 per element with `affine`, else 4; ptflops 1 (its rule looks for an `affine`
        attribute, which nn.LayerNorm lacks); thop 2, 4 with `affine`; torchinfo its parameters."""
        n, affine = prod(out), r["affine"]
        return Counts(fvcore=n * (5 if affine else 4), torchinfo=self.params(r, ins, out), ptflops=n, ptflops_aten=0,
                      thop=2 * n * (2 if affine else 1), flopcounter=0)

    def amp(self, r, ins, device):
        return "float32" if device == "cuda" else None  # layer_norm, group_norm: CUDA's float32 list


class GroupNorm(Op):
    name = "groupnorm"
    aliases = ('gn',)
    example = "groupnorm 32"
    copies_strided_input = "contiguous"  # aten's group norm makes its input contiguous
    family = "norm"
    args = (Arg("groups", "int", minimum=1), Arg("eps", "float", 1e-5), Arg("affine", "bool", True))
    positional = ("groups",)
    doc = "group normalisation; the channels must be a multiple of `groups`"
    lowering = module("nn.GroupNorm", Param("num_groups", positional=True), Param("num_channels", positional=True),
                      Param("eps", default=1e-5), Param("affine", default=True))

    def infer(self, a, ins):
        (shape,) = ins
        if shape[0] % a["groups"]:
            raise OpError(f"groupnorm {a['groups']} needs the channels ({shape[0]}) to be a multiple of the groups", code="E0505")
        return shape, {**a, "num_groups": a["groups"], "num_channels": shape[0]}

    def params(self, r, ins, out):
        return 2 * r["num_channels"] if r["affine"] else 0

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT, New(2 * r["num_groups"], "stat" if r["affine"] else "act"))  # each group's mean and inverse std (as layernorm's)

    def param_tensors(self, r):
        return 2 if r["affine"] else 0

    def other_ops(self, r, ins, out):
        return 5 * prod(out)

    def counts(self, r, ins, out, strided=None):
        """fvcore: 5 per element with `affine`, else 4; ptflops 2 with `affine`, else 1; thop has no rule."""
        n, affine = prod(out), r["affine"]
        return Counts(fvcore=n * (5 if affine else 4), torchinfo=self.params(r, ins, out), ptflops=n * (2 if affine else 1),
                      ptflops_aten=0, thop=0, flopcounter=0)

    def amp(self, r, ins, device):
        return "float32" if device == "cuda" else None  # layer_norm, group_norm: CUDA's float32 list


class LocalResponseNorm(Op):
    name = "lrn"
    aliases = ('norm',)
    family = "norm"
    args = (Arg("size", "int", 5, minimum=1), Arg("alpha", "float", 1e-4), Arg("beta", "float", 0.75), Arg("k", "float", 1.0))
    positional = ("size",)
    doc = "local response normalisation across channels (AlexNet's NORM)"
    lowering = module("nn.LocalResponseNorm", Param("size", positional=True), Param("alpha"), Param("beta"), Param("k"))

    def infer(self, a, ins):
        (shape,) = ins
        need_spatial("lrn", shape)
        return shape, dict(a)

    def other_ops(self, r, ins, out):
        return (r["size"] + 3) * prod(out)  # squares summed over the window, then scale and power

    def counts(self, r, ins, out, strided=None):
        """ptflops alone, through what F.local_response_norm calls that it patches: Tensor.mul
        (the squares, then alpha), Tensor.add (k), 1 per element each, and F.avg_pool2d/3d, 1 per
        element of the squares padded by size - 1 channels."""
        return NOTHING._replace(ptflops=3 * prod(out) + (out[0] + r["size"] - 1) * prod(out[1:]))

    def temporaries(self, r, ins, out):
        return sum(t.elements for t in self.saves(r, ins, out, False, False, ())[1:])  # its steps live during it

    def saves(self, r, ins, out, inplace, trainable, grads):
        """F.local_response_norm: the squares padded by size - 1 channels (avg_pool's input),
        k + alpha * average (pow's input) and its power (the divisor)."""
        spatial = prod(out[1:])
        return (INPUT, New((out[0] + r["size"] - 1) * spatial), New(prod(out)), New(prod(out)))

    def amp(self, r, ins, device):
        # its avg_pool3d (CPU; a 1D input takes avg_pool2d, which follows) or pow (CUDA) runs in float32, and all after it
        return "widens" if device == "cuda" or len(ins[0]) > 2 else None
