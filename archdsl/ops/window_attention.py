"""`window_attention HEADS WINDOW shift=S`: shifted-window multi-head self-attention on a
channels-last map (PyTorch shape H, W, C, after `permute 0 2 3 1`), as torchvision's
ShiftedWindowAttention (Swin, Liu et al. 2021) or, with `v2`, ShiftedWindowAttentionV2 (Swin V2,
Liu et al. 2022). One layer with torchvision's submodules and tensors, so its keys are
torchvision's: `relative_position_bias_table` (v2: `logit_scale`, the `relative_coords_table`
buffer and the `cpb_mlp` that turns it into the bias), the `relative_position_index` buffer, `qkv`
and `proj`.

What it runs, as torchvision runs it: the map padded at the bottom and right to whole windows,
rolled by -shift (no shift along a dimension whose padded size is one window), cut into windows
of N = Wh·Ww tokens; `qkv` on every token (padding included), per head q·kᵀ (v1: q scaled by
d^-1/2; v2: cosine similarity times exp(min(logit_scale, log 100))), plus the position bias (v2:
16·sigmoid of the cpb_mlp's output), plus -100 between tokens of different regions of a shifted
window, softmax, times v, `proj`, windows joined, rolled back, padding cut off.
"""
from __future__ import annotations

from math import prod

from ..figures import flat_view_stride
from .base import INPUT, NOTHING, Arg, Counts, New, Op, OpError, autocast_bytes, fmt_compact, fmt_size, per_dim
from .lowering import Param, module

CPB_HIDDEN = 512  # the hidden width of Swin V2's continuous position bias MLP (torchvision's)


def _geometry(r: dict) -> tuple[int, int, int]:
    """(tokens after padding T, tokens per window N, channels C)."""
    return prod(r["padded"]), prod(r["window_size"]), r["dim"]


class WindowAttention(Op):
    name = "window_attention"
    aliases = ("shifted_window_attention", "swin_attention")
    example = "window_attention 4 7"
    family = "shape"
    args = (Arg("heads", "int", minimum=1), Arg("window", "size", minimum=1), Arg("shift", "size", 0),
            Arg("v2", "bool", False, flag=True))
    positional = ("heads", "window")
    doc = ("shifted-window multi-head self-attention on a channels-last HxWxC map (torchvision's "
           "`ShiftedWindowAttention`; `v2`: `ShiftedWindowAttentionV2`, cosine attention and a position-bias MLP); "
           "`shift` is the cyclic shift, dropped along a dimension that fits in one window")
    lowering = module("WindowAttention", Param("dim", positional=True), Param("window_size", positional=True, form="tuple"),
                      Param("shift_size", positional=True, form="tuple"), Param("num_heads", positional=True),
                      Param("v2", default=False))

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) != 3:
            raise OpError(f"window_attention needs a channels-last map (PyTorch shape H, W, C), but its input is "
                          f"{fmt_size(shape)}", hint="write `permute 0 2 3 1` before it to put the channels last", code="E0504")
        h, w, c = shape
        heads = a["heads"]
        if c % heads:
            raise OpError(f"window_attention {heads}: the channels ({c}) must be a multiple of the heads", code="E0505")
        window = per_dim(a["window"], 2, "window")
        shift = per_dim(a["shift"], 2, "shift")
        if any(s >= k for s, k in zip(shift, window)):
            raise OpError(f"window_attention shift {fmt_compact(shift)} must be smaller than the window {fmt_size(window)}", code="E0507")
        padded = tuple(-(-n // k) * k for n, k in zip((h, w), window))
        effective = tuple(0 if k >= p else s for s, k, p in zip(shift, window, padded))
        return shape, {"dim": c, "num_heads": heads, "window_size": window, "shift_size": shift, "shift": effective,
                       "padded": padded, "v2": a["v2"]}

    def params(self, r, ins, out):
        c, heads = r["dim"], r["num_heads"]
        projections = 3 * c * c + 3 * c + c * c + c
        table = prod(2 * k - 1 for k in r["window_size"])
        if r["v2"]:
            return projections + heads + 2 * CPB_HIDDEN + CPB_HIDDEN + CPB_HIDDEN * heads
        return projections + table * heads

    def macs(self, r, ins, out):
        """qkv and proj on every padded token, q·kᵀ and attention·v in every window and head."""
        t, n, c = _geometry(r)
        return t * c * 3 * c + 2 * t * n * c + t * c * c

    def macs_once(self, r):
        """Swin V2's cpb_mlp on the (2Wh-1)(2Ww-1) relative coordinates: once per forward."""
        if not r["v2"]:
            return 0
        return prod(2 * k - 1 for k in r["window_size"]) * (2 * CPB_HIDDEN + CPB_HIDDEN * r["num_heads"])

    def counts(self, r, ins, out, strided=None):
        """The module runs qkv and proj as F.linear (aten addmm, bias included) and q·kᵀ, attention·v
        as matmuls; v2's cpb_mlp is an nn.Sequential of Linear, ReLU, Linear, called as modules.
        fvcore and FlopCounterMode count archdsl's MACs. torchinfo and thop see only the cpb_mlp's
        Linear modules (torchinfo: their parameters; thop: its MACs). ptflops does not patch
        F.linear, and counts Tensor.matmul (v2's q·kᵀ is `@`, which it does not), F.softmax (heads·T·N)
        and v2's cpb_mlp as modules (Linear with its bias at every position, ReLU twice: its rule and
        F.relu). ptflops-aten adds the biases of proj, the cpb_mlp's first Linear and qkv, but qkv's
        only where aten's linear is one addmm: its windows contiguous (_windows_contiguous)."""
        t, n, c = _geometry(r)
        macs, heads = self.macs(r, ins, out), r["num_heads"]
        softmax, attn_v = heads * t * n, t * n * c
        qkv_bias = 3 * t * c if _windows_contiguous(r, ins[0], strided) else 0
        mlp = self.counts_once(r)
        return Counts(fvcore=macs + mlp.fvcore, torchinfo=mlp.torchinfo,
                      ptflops=(attn_v if r["v2"] else 2 * attn_v) + softmax + mlp.ptflops,
                      ptflops_aten=macs + qkv_bias + t * c + mlp.ptflops_aten, thop=mlp.thop,
                      flopcounter=macs + mlp.flopcounter)

    def counts_once(self, r):
        """Swin V2's cpb_mlp, once per forward (`macs_once`): its Linear modules' parameters
        (torchinfo), their MACs with ptflops' bias at every position and ReLU twice, aten's first
        addmm with its bias."""
        if not r["v2"]:
            return NOTHING
        once, table = self.macs_once(r), prod(2 * k - 1 for k in r["window_size"])
        params = 2 * CPB_HIDDEN + CPB_HIDDEN + CPB_HIDDEN * r["num_heads"]
        return Counts(fvcore=once, torchinfo=params, ptflops=table * (params + 2 * CPB_HIDDEN),
                      ptflops_aten=once + table * CPB_HIDDEN, thop=once, flopcounter=once)

    def other_ops(self, r, ins, out):
        """Bias adds of qkv and proj (4 per token and channel), q's scaling (v1, 1) or the cosine
        normalisation of q and k (v2, 4); per attention weight the position bias, the mask of a
        shifted window, softmax (3) and v2's logit scale."""
        t, n, c = _geometry(r)
        weights = r["num_heads"] * t * n
        per_weight = 1 + (1 if any(r["shift"]) else 0) + 3 + (1 if r["v2"] else 0)
        return t * c * (4 + (4 if r["v2"] else 1)) + weights * per_weight

    def saves(self, r, ins, out, inplace, trainable, grads):
        return _saves(r, trainable)

    def amp(self, r, ins, device):
        return "lower"  # qkv and proj are linear layers, the matmuls lower too

    def amp_saves(self, r, ins, out, trainable, grads, device, low_input):
        return _saves(r, trainable, amp=True)

    def amp_kept_weights(self, r, grads):
        """qkv's cast (for the input's gradient), proj's (v2's cpb_mlp's: `_saves`)."""
        c = r["dim"]
        return (3 * c * c if grads[0] else 0) + c * c

    def temporaries(self, r, ins, out):
        """At most at once in an eval, no-grad forward (the oracle's dispatch mode, meta and CPU), per
        sample: in q·kᵀ, the windows (a copy, and so is the padded map it is cut from, freed by
        then), qkv's output, q scaled (v2: q and k normalised) and, with more than one head,
        matmul's contiguous copies of q and kᵀ, and the scores; or, where the scores outweigh three
        of the map, after them, the windows, qkv's output and two of the scores (the scores and
        the bias added, then the softmax) and the shifted window's mask. The output is made last
        (archdsl counts it through the layer). Besides, once per forward, the position bias
        (`_once`). Left out: v2's cpb_mlp, run first (512 per relative position), the mask's own
        steps, and at batch 1 on a map of one window matmul views q and kᵀ instead of copying them."""
        t, n, c = _geometry(r)
        tc, scores = t * c, r["num_heads"] * t * n
        q = (2 if r["v2"] else 1) * tc
        copies = 2 * tc if r["num_heads"] > 1 else 0
        at_scores, at_softmax = 4 * tc + q + copies + scores, 4 * tc + 2 * scores
        return (New(max(at_scores, at_softmax) - prod(out)), *_once(r, False, at_softmax > at_scores, "act"))

    def amp_temporaries(self, r, ins, out, device, low_input):
        """Autocast, eval, no grad (the oracle's dispatch mode): the windows in the input's
        dtype, and in the lower precision qkv's output, q and k's steps, matmul's copies and its
        scores, which meet the float32 bias (v2: the logit scale) and turn float32: at q·kᵀ as in
        `temporaries`; at the softmax, the windows, qkv's output and two float32 scores; or in
        attention·v, the float32 softmax, its cast, v's copy (more than one head) and the product.
        Each less the output and, for a float32 input, its cast (freed after qkv; archdsl counts
        both through the layer), and less proj's weight cast, made after; plus `_once`. Measured on
        the CPU; CUDA's autocast lists treat these ops alike (linear and matmul lower, softmax
        float32) and the rule is the same there, not measured."""
        t, n, c = _geometry(r)
        tc, scores = t * c, r["num_heads"] * t * n
        inp = "low" if low_input else "act"
        q = (2 if r["v2"] else 1) * tc
        copy = tc if r["num_heads"] > 1 else 0
        less = prod(out) * (1 if low_input else 2)
        moments = ((New(tc, inp), New(3 * tc + q + 2 * copy + scores - less, "low")),
                   (New(tc, inp), New(3 * tc - less, "low"), New(2 * scores, "stat")),
                   (New(tc, inp), New(4 * tc + copy + scores - less, "low"), New(scores, "stat")))
        worst = max(moments, key=autocast_bytes)  # per sample: every moment scales with it
        return (*worst, *_once(r, True, worst is not moments[0], inp), New(-(c * c + c), "low", per_sample=False))

    def backward_temporaries(self, r, trainable, amp):
        """v2 with trainable weights: the cpb_mlp's backward runs after the rest of the layer's,
        its ReLU's output still kept; at its worst, in threshold_backward (the ReLU is in place on
        a view of the first linear's output: autograd's as_strided backward), the gradient of the
        hidden layer, a zeroed copy of its storage, a clone and threshold_backward's output, four
        more (the oracle's dispatch mode, CPU). The first linear's gradients come after."""
        if not (r["v2"] and trainable):
            return ()
        hidden = CPB_HIDDEN * prod(2 * k - 1 for k in r["window_size"])
        return (New(5 * hidden, "low" if amp else "act", per_sample=False), New(-3 * CPB_HIDDEN, "act", per_sample=False))

    def param_tensors(self, r):
        return 8 if r["v2"] else 5

    def buffers(self, r):
        n = prod(r["window_size"])
        coords = 2 * prod(2 * k - 1 for k in r["window_size"]) if r["v2"] else 0
        return coords, n * n

    def window(self, r, ins, out):
        """Output o reads the window it falls in: windows of k positions starting at shift + j·k
        (the mask keeps the rolled-over part of a shifted window apart; the padding is outside)."""
        rules = []
        for k, s in zip(r["window_size"], r["shift"]):
            rules.append((k, k, lambda j, k=k, s=s: (s if j >= s else s - k, 1, k), 1 - k, k - 1))
        return tuple(rules)

    def describe(self, r, brief=False):
        text = f"window_attention {r['num_heads']} {fmt_size(r['window_size'])}"
        if any(r["shift_size"]):
            text += f" shift={fmt_compact(r['shift_size'])}"
        return text + (" v2" if r["v2"] else "")


def _windows_contiguous(r: dict, shape: tuple, strided: tuple | None) -> bool:
    """Whether qkv's input, the windows (per sample: windows, N, C), is contiguous. Padding and the
    roll copy; without them the windows are the input reshaped, a copy where the reshape cannot be a
    view, else a view of the (strided) input: contiguous only if its strides nest down to 1."""
    if strided is None or tuple(r["padded"]) != tuple(shape[:2]) or any(r["shift"]):
        return True
    (wh, ww), (sh, sw, sc) = r["window_size"], strided
    dims = (r["padded"][0] // wh, r["padded"][1] // ww, wh, ww, shape[2])
    strides = (wh * sh, ww * sw, sh, sw, sc)
    if flat_view_stride(dims[:2], strides[:2]) is None or flat_view_stride(dims[2:4], strides[2:4]) is None:
        return True  # reshape copies
    return flat_view_stride(dims, strides) == 1


def _once(r: dict, amp: bool, after_scores: bool, inp: str) -> tuple:
    """What the layer makes once per forward and holds while it runs: the position bias (heads·N²;
    v1 float32 under autocast, gathered from its float32 table; v2 also the cpb_mlp's output,
    heads per relative position, both in the layer's dtype, and qkv's bias cloned, 3C) and, once
    the scores are made, a shifted window's mask (windows·N², in the input's dtype `inp`:
    `x.new_zeros`)."""
    n, heads = prod(r["window_size"]), r["num_heads"]
    if r["v2"]:
        table = prod(2 * k - 1 for k in r["window_size"])
        once = [New(heads * (n * n + table), "low" if amp else "act", per_sample=False),
                New(3 * r["dim"], "act", per_sample=False)]
    else:
        once = [New(heads * n * n, "stat", per_sample=False)]
    if after_scores and any(r["shift"]):
        once.append(New(prod(r["padded"]) * n, inp, per_sample=False))
    return tuple(once)


def _saves(r: dict, trainable: bool, amp: bool = False) -> tuple:
    """What autograd keeps for torchvision's shifted_window_attention in a training forward, measured
    with saved_tensors_hooks (docs/conventions.md, "Saved for backward"): per sample, the windows
    (qkv's input, a copy) and proj's input for the weights' gradients, q (scaled) and k and v as
    the matmuls' copies (with one head: qkv's output, 3C per token), and the softmax's output
    (heads·T·N). At batch 1 on a map of one window PyTorch's matmul folds k's and v's dimensions
    as views too: there archdsl counts the copies (docs/conventions.md). v2 also keeps qkv's whole output
    (normalize's input), two norms per token and head for q and k, the normalised q and k, and the
    attention before the logit scale (the scale's gradient); once per forward, whatever the batch,
    the cpb_mlp's hidden ReLU output, the 16·sigmoid's input and the logit scale's exponent.

    `amp` (autocast, measured on the CPU): all of it in the lower precision but exp(logit_scale)
    and the softmax, float32 (the scores meet a float32 tensor: v1's position bias, v2's logit
    scale), which the matmul with v casts down again (heads·T·N, kept); with trainable weights v2
    also keeps, once per forward, the cpb_mlp's input (the coordinates table's cast, 2 per entry)
    and its second linear's weight cast (heads x 512)."""
    t, n, c = _geometry(r)
    heads = r["num_heads"]
    weights = heads * t * n
    low = "low" if amp else "act"
    wide = amp  # the scores meet a float32 tensor: v1's position bias, v2's logit scale
    own = [New(t * c, low)] if trainable else []  # the windows, for qkv's weight
    # q for q·kᵀ, softmax's output; k and v as the matmuls' copies, but with one head matmul folds
    # their batch dimensions as a view, and keeps qkv's output itself (v2 keeps it anyway, and its k is new)
    kept = [New(t * c, low), New(weights, "stat" if wide else low)] + ([New(weights, low)] if wide else [])
    if not r["v2"]:
        kept += [New(t * c, low)] * 2 if heads > 1 else [New(3 * t * c, low)]
    else:
        table = prod(2 * k - 1 for k in r["window_size"])
        kept += [New(t * c, low)] + ([New(t * c, low)] if heads > 1 else [])  # normalised k, v
        kept += [New(3 * t * c, low)] + [New(heads * t, low)] * 4  # normalize's input and the norms of q and k
        kept += [New(heads, "stat" if amp else "act", per_sample=False)]  # exp(logit_scale)
        if trainable:
            own += [New(CPB_HIDDEN * table, low, per_sample=False), New(heads * n * n, low, per_sample=False), New(weights, low)]
            own += [New(2 * table, "low", per_sample=False), New(heads * CPB_HIDDEN, "low", per_sample=False)] if amp else []
    if trainable:
        own += [New(t * c, low)]  # proj's input, for its weight
    return tuple(own + kept)
