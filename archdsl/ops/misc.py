"""Dropout, identity, upsampling and the input."""
from __future__ import annotations

from math import prod

from .base import Arg, Counts, New, Op, OpError, fmt_compact, fmt_size, need_spatial, per_dim
from .lowering import Param, module


class Dropout(Op):
    name = "dropout"
    aliases = ('dropout2d',)
    family = "shape"
    args = (Arg("p", "float", 0.5),)
    positional = ("p",)
    creates_output = False  # analysed in eval mode, where dropout returns its input
    doc = "dropout with probability `p` (nothing in eval mode: creates no tensor)"
    lowering = module("nn.Dropout", Param("p"))

    def infer(self, a, ins):
        if not 0 <= a["p"] <= 1:
            raise OpError(f"dropout probability {a['p']} is not between 0 and 1", code="E0507")
        return ins[0], {"p": a["p"]}

    def other_ops(self, r, ins, out):
        return 0

    counts = Op.nothing

    def grad_is_view(self, r):
        return r["p"] == 0  # it returns its input

    def creates_in_training(self, r):
        return r["p"] > 0  # input * mask (p = 0: the input itself)

    def saves(self, r, ins, out, inplace, trainable, grads):
        if r["p"] == 0:
            return ()
        if r["p"] == 1:
            return (New(1, per_sample=False),)  # input * zeros(()): the 0-d zero
        return (New(prod(out), "mask"),)

    def describe(self, r, brief=False):
        return f"dropout {r['p']:g}"  # the probability is worth reading even at its default


class Identity(Op):
    name = "identity"
    family = "shape"
    creates_output = False
    doc = "passes its input through"
    lowering = module("nn.Identity")
    counts = Op.nothing

    def grad_is_view(self, r):
        return True

    def other_ops(self, r, ins, out):
        return 0


class Upsample(Op):
    name = "upsample"
    aliases = ('interpolate',)
    family = "shape"
    args = (Arg("scale", "size", None, minimum=1), Arg("size", "size", None, minimum=1),
            Arg("mode", "choice", "nearest", choices=("nearest", "bilinear", "linear", "trilinear")),
            Arg("align_corners", "bool", False))
    positional = ("scale",)
    doc = "upsampling by a whole-number `scale` or to a `size`; `mode` nearest or bilinear (linear in 1D, trilinear in 3D)"
    lowering = module("nn.Upsample", Param("size", default=None, form="tuple"),
                      Param("scale_factor", default=None, form="floats"), Param("mode", default="nearest"),
                      Param("align_corners", default=None))

    def infer(self, a, ins):
        (shape,) = ins
        rank = need_spatial("upsample", shape)
        mode = a["mode"]
        if mode != "nearest":
            mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
            if a["mode"] not in ("bilinear", mode):
                raise OpError(f"mode {a['mode']} does not fit a {rank}D input; use {mode}", code="E0504")
        if (a["scale"] is None) == (a["size"] is None):
            raise OpError("upsample needs either a scale (upsample 2) or a size (size=56x56), not both", code="E0507")
        if a["scale"] is not None:
            scale = per_dim(a["scale"], rank, "scale")
            out_sp = tuple(n * f for n, f in zip(shape[1:], scale))
            r = {"scale_factor": scale, "size": None}
        else:
            out_sp = per_dim(a["size"], rank, "size")
            r = {"scale_factor": None, "size": out_sp}
        r.update(mode=mode, align_corners=a["align_corners"] if mode != "nearest" else None, dims=rank)
        return (shape[0],) + out_sp, r

    def other_ops(self, r, ins, out):
        return 0 if r["mode"] == "nearest" else 2 ** r["dims"] * prod(out)  # one weight per neighbour

    def counts(self, r, ins, out, strided=None):
        """Per output element. fvcore: 1 nearest, 4 bilinear, 2D only (its rules are for
        upsample_nearest2d and upsample_bilinear2d); ptflops: 1 for its module rule, 1 for the
        patched F.interpolate; thop: 1 nearest, 5 linear, 11 bilinear, 0 trilinear (it warns that
        it has no rule)."""
        n, mode = prod(out), r["mode"]
        fvcore = n * {"nearest": 1, "bilinear": 4}.get(mode, 0) if r["dims"] == 2 else 0
        return Counts(fvcore=fvcore, torchinfo=0, ptflops=2 * n, ptflops_aten=0,
                      thop=n * {"nearest": 1, "linear": 5, "bilinear": 11, "trilinear": 0}[mode], flopcounter=0)

    def window(self, r, ins, out):
        """PyTorch's source position of output o, n inputs to m outputs per dimension: nearest
        reads floor(o*n/m); the linear modes read floor(src) and floor(src) + 1, where
        src = (o + 1/2)*n/m - 1/2, or o*(n - 1)/(m - 1) with align_corners (only floor(src) where
        src is whole: the other weight is 0). PyTorch computes src in floating point, which can
        differ at a whole number: see docs/conventions.md, "Receptive field"."""
        from fractions import Fraction
        from math import gcd

        rules = []
        for n, m in zip(ins[0][1:], out[1:]):
            if r["mode"] == "nearest":
                a, b, c, taps = n, 0, m, 1  # src = (a*o + b)/c
            elif not r["align_corners"]:
                a, b, c, taps = 2 * n, n - m, 2 * m, 2
            else:
                a, b, c, taps = (n - 1, 0, m - 1, 2) if m > 1 else (0, 0, 1, 2)
            g = gcd(a, c)  # src repeats every c/g outputs, a/g inputs further

            def reads(j, a=a, b=b, c=c, taps=taps):
                return ((a * j + b) // c, 1, 1 if taps == 1 or (a * j + b) % c == 0 else 2)

            if c // g == 1:
                start, _, count = reads(0)
                rules.append((1, a // g, reads, start, start + count - 1))
            else:  # floor(src) >= src - (c - 1)/c
                rules.append((c // g, a // g, reads, Fraction(b - c + 1, c), Fraction(b, c) + taps - 1))
        return tuple(rules)

    def describe(self, r, brief=False):
        how = fmt_compact(r["scale_factor"]) if r["scale_factor"] else f"size={fmt_size(r['size'])}"
        return f"upsample {how}" + ("" if r["mode"] == "nearest" else f" mode={r['mode']}")


class InputOp(Op):
    """The network input: not written as a layer, created by the `input` statement."""

    name = "input"
    family = "input"
    writable = False
    min_inputs = max_inputs = 0
    args = (Arg("shape", "any"),)

    def infer(self, a, ins):
        return a["shape"], {"shape": a["shape"]}

    def other_ops(self, r, ins, out):
        return 0

    counts = Op.nothing


class Crop(Op):
    """U-Net's "copy and crop": the centre of the input, at a smaller spatial size (a view)."""

    name = "crop"
    example = "crop 56x56"
    family = "shape"
    args = (Arg("size", "size", minimum=1),)
    positional = ("size",)
    creates_output = False  # a slice of its input
    slices = True
    doc = 'centre crop to `size` (U-Net\'s "copy and crop", a slice: creates no tensor)'
    lowering = module("Crop", Param("offset", positional=True, form="tuple"), Param("size", positional=True, form="tuple"))

    def infer(self, a, ins):
        (shape,) = ins
        rank = need_spatial("crop", shape)
        size = per_dim(a["size"], rank, "size")
        if any(s > n for s, n in zip(size, shape[1:])):
            raise OpError(f"cannot crop {fmt_size(shape[1:])} to the larger size {fmt_size(size)}", code="E0507")
        offsets = tuple((n - s) // 2 for n, s in zip(shape[1:], size))
        return (shape[0],) + size, {"size": size, "offset": offsets, "dims": rank}

    def other_ops(self, r, ins, out):
        return 0

    counts = Op.nothing

    def window(self, r, ins, out):
        """Output o is input o + offset: a crop shifts positions (it matters where branches merge)."""
        return tuple((1, 1, lambda j, taps=(a, 1, 1): taps, a, a) for a in r["offset"])

    def describe(self, r, brief=False):
        return f"crop {fmt_size(r['size'])}"
