"""Max and average pooling, adaptive and global pooling."""
from __future__ import annotations

from math import prod

from .base import INPUT, NOTHING, Arg, Counts, New, Op, OpError, check_positive, fmt_compact, fmt_size, need_spatial, per_dim
from .conv import dropped_note, sliding
from .lowering import Param, module


class MaxPool(Op):
    name = "maxpool"
    example = "maxpool 2x2"
    family = "pool"
    args = (
        Arg("kernel", "size", minimum=1),
        Arg("stride", "size", None, minimum=1),
        Arg("pad", "size", 0),
        Arg("dilation", "size", 1, minimum=1),
        Arg("ceil", "bool", False, flag=True),
    )
    positional = ("kernel",)
    takes_stride = True
    doc = "max pooling; the stride defaults to the kernel, `ceil` is `ceil_mode`"
    lowering = module("nn.MaxPool{dims}d", Param("kernel_size", positional=True), Param("stride"),
                      Param("padding", default=0), Param("dilation", default=1), Param("ceil_mode", default=False))

    def infer(self, a, ins):
        (shape,) = ins
        rank = need_spatial(self.name, shape)
        k = per_dim(a["kernel"], rank, "kernel")
        s = per_dim(a["stride"], rank, "stride") if a["stride"] is not None else k
        p = per_dim(a["pad"], rank, "padding")
        d = per_dim(a.get("dilation", 1), rank, "dilation")
        k_eff = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
        for pp, kk in zip(p, k):
            if pp > kk // 2:
                raise OpError(f"padding {pp} is more than half the kernel ({kk}); PyTorch refuses it", code="E0507")
        if self.name == "avgpool" and rank == 3 and any(n < kk for n, kk in zip(shape[1:], k)):
            # avg_pool3d checks the unpadded input against the kernel (1D and 2D do not)
            raise OpError(f"the input {fmt_size(shape[1:])} is smaller than the kernel {fmt_size(k)}; PyTorch's 3D average pooling refuses it", code="E0507")
        results = [sliding(n, ke, ss, pp, pp, a["ceil"]) for n, ke, ss, pp in zip(shape[1:], k_eff, s, p)]
        out_sp = tuple(o for o, _ in results)
        check_positive(self.name, out_sp, shape[1:])
        dropped = [dropped_note(i, n, ke, pp, ss, rest) for i, ((_, rest), n, ke, ss, pp) in enumerate(zip(results, shape[1:], k_eff, s, p)) if rest and ke >= ss]
        r = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": a["ceil"], "dims": rank, "dropped": dropped}
        if "count_pad" in a:
            r["count_include_pad"] = a["count_pad"]
        return (shape[0],) + out_sp, r

    def other_ops(self, r, ins, out):
        return prod(out) * prod(r["kernel_size"])

    def counts(self, r, ins, out, strided=None):
        """ptflops counts the input's elements twice: its module rule, and its patched
        F.max_pool*d (F.avg_pool*d) that the module calls. thop: 1 per output of average pooling."""
        return Counts(fvcore=0, torchinfo=0, ptflops=2 * prod(ins[0]), ptflops_aten=0,
                      thop=prod(out) if self.name == "avgpool" else 0, flopcounter=0)

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT, New(prod(out), "int64"))  # and where each maximum came from

    def indices(self, r, ins, out):
        return prod(out) if r["dims"] > 1 else 0  # CPU: 1D max pooling without grad makes none

    def amp(self, r, ins, device):
        return "float32" if device == "cpu" and r["dims"] == 3 else None  # max/avg_pool3d: the CPU's float32 list

    def window(self, r, ins, out):
        """Output o reads input o*s - p + t*d, t < k (average pooling: d = 1)."""
        return tuple((1, s, lambda j, taps=(-p, d, k): taps, -p, (k - 1) * d - p)
                     for k, s, p, d in zip(r["kernel_size"], r["stride"], r["padding"], r["dilation"]))

    def describe(self, r, brief=False):
        text = f"{self.name} {fmt_size(r['kernel_size'])}"
        if r["stride"] != r["kernel_size"]:
            text += f" /{fmt_compact(r['stride'])}"
        if any(r["padding"]):
            text += f" pad={fmt_compact(r['padding'])}"
        if any(d != 1 for d in r["dilation"]):
            text += f" dilation={fmt_compact(r['dilation'])}"
        if r["ceil_mode"]:
            text += " ceil"
        return text


class AvgPool(MaxPool):
    name = "avgpool"
    example = "avgpool 2x2"
    args = MaxPool.args[:3] + (Arg("ceil", "bool", False, flag=True), Arg("count_pad", "bool", True))
    doc = "average pooling; the stride defaults to the kernel, `count_pad` is `count_include_pad`"
    lowering = module("nn.AvgPool{dims}d", Param("kernel_size", positional=True), Param("stride"),
                      Param("padding", default=0), Param("ceil_mode", default=False),
                      Param("count_include_pad", default=True))

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT,)

    def indices(self, r, ins, out):
        return 0


class AdaptiveAvgPool(Op):
    name = "adaptiveavgpool"
    example = "adaptiveavgpool 7x7"
    family = "pool"
    args = (Arg("size", "size", minimum=1),)
    positional = ("size",)
    doc = "adaptive average pooling to an output `size` (7x7)"
    lowering = module("nn.AdaptiveAvgPool{dims}d", Param("output_size", positional=True))

    def infer(self, a, ins):
        (shape,) = ins
        rank = need_spatial(self.name, shape)
        size = per_dim(a["size"], rank, "output size")
        return (shape[0],) + size, {"output_size": size, "dims": rank}

    def other_ops(self, r, ins, out):
        return prod(ins[0])

    def counts(self, r, ins, out, strided=None):
        """fvcore: 1 per input element, 2D only (it has a rule for adaptive_avg_pool2d alone);
        ptflops: the input twice (module rule and patched functional); thop: (∏(n/m) + 1) per
        output, in float64, truncated once per layer."""
        thop = int((prod(n / m for n, m in zip(ins[0][1:], out[1:])) + 1) * prod(out))
        return Counts(fvcore=prod(ins[0]) if r["dims"] == 2 else 0, torchinfo=0, ptflops=2 * prod(ins[0]),
                      ptflops_aten=0, thop=thop, flopcounter=0)

    def saves(self, r, ins, out, inplace, trainable, grads):
        # to size 1 everywhere PyTorch takes a mean, whose backward needs only the sizes
        return () if all(s == 1 for s in out[1:]) else (INPUT,)

    def amp(self, r, ins, device):
        return "float32" if device == "cpu" and r["dims"] == 3 else None  # adaptive_{avg,max}_pool3d

    def window(self, r, ins, out):
        """PyTorch's windows: of n inputs, output o of m reads [floor(o*n/m), ceil((o+1)*n/m)); they
        repeat every m/g outputs, n/g inputs further (g = gcd(n, m)). To size 1: the whole input."""
        from math import gcd

        rules = []
        for n, m in zip(ins[0][1:], r["output_size"]):
            if m == 1:
                rules.append((0, n, None, 0, n - 1))
                continue
            Q = m // gcd(n, m)
            if Q > 1:
                from fractions import Fraction  # only here: importing it is 2% of a whole `analyze`

            def reads(j, n=n, m=m):
                start = j * n // m
                return (start, 1, -(-(j + 1) * n // m) - start)

            # floor(o*n/m) >= o*n/m - (Q - 1)/Q, ceil((o + 1)*n/m) - 1 <= o*n/m + n/m - 1 + (Q - 1)/Q
            rules.append((Q, n // gcd(n, m), reads, Fraction(1 - Q, Q), Fraction(n, m) - Fraction(1, Q)) if Q > 1
                         else (1, n // m, reads, 0, n // m - 1))
        return tuple(rules)

    def describe(self, r, brief=False):
        return f"{self.name} {fmt_size(r['output_size'])}"


class AdaptiveMaxPool(AdaptiveAvgPool):
    name = "adaptivemaxpool"
    example = "adaptivemaxpool 7x7"
    doc = "adaptive max pooling to an output `size`"
    lowering = module("nn.AdaptiveMaxPool{dims}d", Param("output_size", positional=True))

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT, New(prod(out), "int64"))

    def indices(self, r, ins, out):
        return prod(out)

    def counts(self, r, ins, out, strided=None):
        """ptflops alone: the input twice (module rule and patched functional)."""
        return NOTHING._replace(ptflops=2 * prod(ins[0]))


class GlobalAvgPool(AdaptiveAvgPool):
    """`gap`: adaptive average pooling to 1 in every spatial dimension (keeps them, size 1)."""

    name = "gap"
    example = ""  # nothing required
    aliases = ('avgpool_global', 'globalavgpool')
    args = ()
    positional = ()
    doc = "global average pooling: adaptive average pooling to 1"

    def infer(self, a, ins):
        return AdaptiveAvgPool.infer(self, {"size": 1}, ins)

    def describe(self, r, brief=False):
        return self.name


class GlobalMaxPool(GlobalAvgPool):
    name = "gmp"
    aliases = ('globalmaxpool',)
    doc = "global max pooling: adaptive max pooling to 1"
    lowering = AdaptiveMaxPool.lowering
    saves = AdaptiveMaxPool.saves
    indices = AdaptiveMaxPool.indices
    counts = AdaptiveMaxPool.counts
