"""Convolution and transposed convolution (1D, 2D and 3D, chosen by the input's rank)."""
from __future__ import annotations

from math import prod

from .base import INPUT, Arg, Counts, Op, OpError, check_positive, fmt_compact, fmt_size, need_spatial, per_dim
from .lowering import Param, module

_COMMON = (
    Arg("filters", "int", minimum=1),
    Arg("kernel", "size", minimum=1),
    Arg("stride", "size", 1, minimum=1),
    Arg("dilation", "size", 1, minimum=1),
    Arg("groups", "int", 1, minimum=1),
    Arg("depthwise", "bool", False, flag=True),
    Arg("bias", "bool", True, flag=True),
    Arg("bn", "bool", False, flag=True),
    Arg("act", "act", "none"),
)


def sliding(n: int, k_eff: int, s: int, p_lo: int, p_hi: int, ceil: bool = False) -> tuple[int, int]:
    """PyTorch's output size of a sliding window, and how many input positions no window reads.

    floor((n + p_lo + p_hi - k_eff) / s) + 1, or ceil in ceil mode where the last window must
    start inside the input or its left padding (aten's pooling_output_shape). The unread positions
    are those past the last window, not counting padding: the slides' "(7 - 3)/3 + 1 = 2.33".
    """
    span = n + p_lo + p_hi - k_eff
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= n + p_lo:
            out -= 1
    else:
        out = span // s + 1
    unread = max(0, p_lo + n - ((out - 1) * s + k_eff)) if out > 0 else 0
    return out, unread


def dropped_note(axis: int, n: int, k_eff: int, p: int, s: int, rest: int) -> dict:
    """A stride that does not fit. Only where windows tile the input (kernel >= stride): a 1x1
    stride-2 shortcut skips every other position by design, and its tail is no different."""
    return {"axis": axis, "n": n, "k": k_eff, "p": p, "s": s, "rest": rest}


class Conv(Op):
    name = "conv"
    example = "conv 64 3x3"
    family = "conv"
    args = _COMMON[:3] + (Arg("pad", "pad", 0),) + _COMMON[3:]
    positional = ("filters", "kernel")
    takes_stride = True
    attaches = True
    doc = "convolution; `pad` is a number, a size per dimension, `same` or `valid`"
    lowering = module("nn.Conv{dims}d", Param("in_channels", positional=True), Param("out_channels", positional=True),
                      Param("kernel_size"), Param("stride", default=1), Param("padding", default=0),
                      Param("dilation", default=1), Param("groups", default=1), Param("bias", default=True))

    def _common(self, a, ins):
        """What conv and transposed conv read alike: sizes per dimension, channels and groups."""
        (shape,) = ins
        rank = need_spatial(self.name, shape)
        cin, cout = shape[0], a["filters"]
        groups = cin if a["depthwise"] else a["groups"]
        if cin % groups or cout % groups:
            raise OpError(f"groups={groups} must divide both the input channels ({cin}) and the filters ({cout})", code="E0505")
        k = per_dim(a["kernel"], rank, "kernel")
        s = per_dim(a["stride"], rank, "stride")
        d = per_dim(a["dilation"], rank, "dilation")
        return rank, cin, cout, groups, shape[1:], k, s, d

    def infer(self, a, ins):
        rank, cin, cout, groups, spatial, k, s, d = self._common(a, ins)
        k_eff = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
        pad = a["pad"]
        if pad == "same" and all(ss == 1 for ss in s) and any(ke % 2 == 0 for ke in k_eff):
            padding = "same"  # PyTorch pads the extra column on the right/bottom
            out_sp = spatial
            dropped = []
        else:
            if pad in ("same", "valid"):
                p = tuple((ke - 1) // 2 for ke in k_eff) if pad == "same" else (0,) * rank
            else:
                p = per_dim(pad, rank, "padding")
            padding = p
            results = [sliding(n, ke, ss, pp, pp) for n, ke, ss, pp in zip(spatial, k_eff, s, p)]
            out_sp = tuple(o for o, _ in results)
            dropped = [dropped_note(i, n, ke, pp, ss, rest) for i, ((_, rest), n, ke, ss, pp) in enumerate(zip(results, spatial, k_eff, s, p)) if rest and ke >= ss]
        out = (cout,) + tuple(out_sp)
        check_positive("conv", out_sp, spatial)
        r = {"in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s, "padding": padding,
             "dilation": d, "groups": groups, "bias": a["bias"], "dims": rank, "dropped": dropped}
        return out, r

    def params(self, r, ins, out):
        return r["out_channels"] * (r["in_channels"] // r["groups"]) * prod(r["kernel_size"]) + (r["out_channels"] if r["bias"] else 0)

    def macs(self, r, ins, out):
        return prod(out) * (r["in_channels"] // r["groups"]) * prod(r["kernel_size"])

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT,)  # and its weight (a parameter), frozen or not

    def amp(self, r, ins, device):
        return "lower"

    def amp_kept_weights(self, r, grads):
        return self.params(r, (), ()) - (r["out_channels"] if r["bias"] else 0)

    def param_tensors(self, r):
        return 2 if r["bias"] else 1

    def other_ops(self, r, ins, out):
        return prod(out) if r["bias"] else 0

    def counts(self, r, ins, out, strided=None):
        """fvcore, thop and FlopCounterMode count the multiply-adds; torchinfo (every weight and
        bias element once per output position), ptflops and its aten backend add the bias.
        PyTorch's `padding="same"` (an even kernel) traces as aten::_convolution_mode, which
        fvcore has no rule for: 0."""
        macs, bias = self.macs(r, ins, out), prod(out) if r["bias"] else 0
        return Counts(fvcore=0 if r["padding"] == "same" else macs, torchinfo=macs + bias, ptflops=macs + bias, ptflops_aten=macs + bias, thop=macs,
                      flopcounter=macs)

    def window(self, r, ins, out):
        """Output o reads input o*s - p + t*d, t < k (PyTorch's `padding="same"` pads d(k-1)//2
        before, the rest after)."""
        pads = r["padding"]
        if pads == "same":
            pads = tuple(d * (k - 1) // 2 for k, d in zip(r["kernel_size"], r["dilation"]))
        return tuple((1, s, lambda j, taps=(-p, d, k): taps, -p, (k - 1) * d - p)
                     for k, s, p, d in zip(r["kernel_size"], r["stride"], pads, r["dilation"]))

    def describe(self, r, brief=False):
        text = f"{self.name} {r['out_channels']} {fmt_size(r['kernel_size'])}"
        if any(s != 1 for s in r["stride"]):
            text += f" /{fmt_compact(r['stride'])}"
        pad = r["padding"]
        if pad == "same" or any(pad):
            text += f" pad={'same' if pad == 'same' else fmt_compact(pad)}"
        if r.get("output_padding") and any(r["output_padding"]):
            text += f" outpad={fmt_compact(r['output_padding'])}"
        if any(d != 1 for d in r["dilation"]):
            text += f" dilation={fmt_compact(r['dilation'])}"
        if r["groups"] != 1:
            text += " depthwise" if r["groups"] == r["in_channels"] == r["out_channels"] else f" groups={r['groups']}"
        if not r["bias"] and not brief:
            text += " bias=no"
        return text


class ConvTranspose(Conv):
    name = "convT"
    aliases = ('deconv', 'convtranspose')
    example = "convT 64 2x2 /2"
    args = _COMMON[:3] + (Arg("pad", "size", 0), Arg("outpad", "size", 0)) + _COMMON[3:]
    doc = "transposed convolution; `outpad` is PyTorch's `output_padding`"
    lowering = module("nn.ConvTranspose{dims}d", Param("in_channels", positional=True),
                      Param("out_channels", positional=True), Param("kernel_size"), Param("stride", default=1),
                      Param("padding", default=0), Param("output_padding", default=0), Param("groups", default=1),
                      Param("bias", default=True), Param("dilation", default=1))

    def infer(self, a, ins):
        rank, cin, cout, groups, spatial, k, s, d = self._common(a, ins)
        p = per_dim(a["pad"], rank, "padding")
        op = per_dim(a["outpad"], rank, "output padding")
        for o, ss, dd in zip(op, s, d):
            if o >= max(ss, dd):
                raise OpError(f"output padding {o} must be smaller than the stride ({ss}) or the dilation ({dd})", code="E0507")
        out_sp = tuple((n - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1 for n, ss, pp, dd, kk, o in zip(spatial, s, p, d, k, op))
        check_positive("convT", out_sp, spatial)
        r = {"in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s, "padding": p,
             "output_padding": op, "dilation": d, "groups": groups, "bias": a["bias"], "dims": rank, "dropped": []}
        return (cout,) + out_sp, r

    def params(self, r, ins, out):
        return r["in_channels"] * (r["out_channels"] // r["groups"]) * prod(r["kernel_size"]) + (r["out_channels"] if r["bias"] else 0)

    def cpu_storage(self, r, ins, out):
        """A 3D one whose output padding is not below its stride in some dimension (allowed by the
        dilation) runs PyTorch's slow CPU kernel (oneDNN refuses it), which allocates its output
        like its input and resizes it (slow_conv_transpose3d_cpu): the storage keeps the larger."""
        if r["dims"] == 3 and any(o >= s for o, s in zip(r["output_padding"], r["stride"])):
            return max(prod(ins[0]), prod(out))
        return 0

    def macs(self, r, ins, out):
        # every input element is multiplied by a whole kernel for each output channel of its group
        return prod(ins[0]) * (r["out_channels"] // r["groups"]) * prod(r["kernel_size"])

    def counts(self, r, ins, out, strided=None):
        """torchinfo counts every weight element once per *output* position, thop every output
        element times C_in/groups·∏k: both as if it were a convolution; the others as conv."""
        macs, bias, k = self.macs(r, ins, out), prod(out) if r["bias"] else 0, prod(r["kernel_size"])
        weight = r["in_channels"] * (r["out_channels"] // r["groups"]) * k
        return Counts(fvcore=macs, torchinfo=weight * prod(out[1:]) + bias, ptflops=macs + bias,
                      ptflops_aten=macs + bias, thop=prod(out) * (r["in_channels"] // r["groups"]) * k, flopcounter=macs)

    def window(self, r, ins, out):
        """Input i adds into outputs i*s - p + t*d, t < k: output o = q*s + j reads q + (j + p - t*d)/s
        for the taps t where s divides j + p - t*d: t = t0, t0 + s/g, ... (g = gcd(s, d)), none
        when g does not divide j + p. Output padding only adds outputs at the end."""
        from fractions import Fraction
        from math import gcd

        rules = []
        for k, s, p, d in zip(r["kernel_size"], r["stride"], r["padding"], r["dilation"]):
            g = gcd(s, d)
            inverse = pow(d // g, -1, s // g)  # t*d = j + p (mod s) <=> t = t0 (mod s/g)

            def reads(j, k=k, s=s, p=p, d=d, g=g, inverse=inverse):
                t0 = (j + p) // g * inverse % (s // g)
                if (j + p) % g or t0 >= k:
                    return (0, 1, 0)
                count = (k - 1 - t0) // (s // g) + 1
                return ((j + p - (t0 + (count - 1) * (s // g)) * d) // s, d // g, count)

            rules.append((s, 1, reads, Fraction(p - (k - 1) * d, s), Fraction(p, s)) if s > 1
                         else (1, 1, reads, p - (k - 1) * d, p))
        return tuple(rules)
