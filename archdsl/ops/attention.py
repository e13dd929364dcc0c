"""`attention HEADS`: multi-head self-attention over a sequence `[tokens, features]`, as
torchvision's ViT uses nn.MultiheadAttention (batch first, query = key = value = the input, no
attention weights): `in_proj_weight` (3E x E) and `in_proj_bias` make q, k and v, scaled
dot-product attention runs per head (E / HEADS features each), `out_proj` (E x E) mixes the heads.

Its costs are those of scaled dot-product attention's MATH backend, which FlopCounterMode sees
in full (eval mode with autograd enabled, as the reference data counts; under no_grad
nn.MultiheadAttention's fused fast path hides the projections from it, and fused attention
kernels hide the two matmuls): for L tokens of E features, H heads of d = E / H,

  in-projection       L·E·3E    (mm)
  QKᵀ                 H·L·L·d = L·L·E   (bmm)
  softmax(QKᵀ)·V      H·L·L·d = L·L·E   (bmm)
  out-projection      L·E·E     (addmm)

so MACs = 4·L·E² + 2·L²·E (ViT-B/16: 17.56 G in all, torchvision's figure). Other work: the
biases (3·L·E and L·E), q and k each scaled by d^-1/4 (2·L·E) and the softmax over H·L·L
scores (3 each). What it keeps for backward is the MATH backend's too (docs/conventions.md)."""
from __future__ import annotations

from .base import NOTHING, Arg, Counts, New, Op, OpError, autocast_bytes
from .lowering import Param, module


class Attention(Op):
    name = "attention"
    aliases = ("self_attention", "mha")
    example = "attention 8"
    example_input = "64x196"  # 196 tokens of 64 features
    family = "attention"
    args = (Arg("heads", "int", minimum=1), Arg("dropout", "float", 0.0), Arg("bias", "bool", True, flag=True))
    positional = ("heads",)
    quiet = ("bias", "dropout")
    doc = ("multi-head self-attention over a sequence `[tokens, features]` with `heads` heads "
           "(`nn.MultiheadAttention`, batch first, query = key = value; `dropout` on the attention weights in training)")
    lowering = module("SelfAttention", Param("embed_dim", positional=True), Param("num_heads", positional=True),
                      Param("dropout", default=0.0), Param("bias", default=True))

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) != 2:
            raise OpError(f"attention needs a sequence [tokens x features], but its input is [{'x'.join(map(str, shape))}]",
                          hint="`tokens` turns a feature map into a sequence", code="E0504")
        tokens, features = shape
        if features % a["heads"]:
            raise OpError(f"attention {a['heads']} needs the features ({features}) to be a multiple of the heads", code="E0505")
        if not 0 <= a["dropout"] <= 1:
            raise OpError(f"attention dropout {a['dropout']:g} is not between 0 and 1", code="E0201")
        return shape, {"embed_dim": features, "num_heads": a["heads"], "tokens": tokens,
                       "dropout": a["dropout"], "bias": a["bias"]}

    def params(self, r, ins, out):
        e = r["embed_dim"]
        return 4 * e * e + (4 * e if r["bias"] else 0)

    def param_tensors(self, r):
        return 4 if r["bias"] else 2

    def counts(self, r, ins, out, strided=None):
        """As the tools run a module, in eval mode under torch.no_grad: with an even number of heads
        and biases, nn.MultiheadAttention takes its fused fast path, which no tool sees. Otherwise
        fvcore, ptflops' aten backend and FlopCounterMode count the projections' `4·L·E²` (ptflops-aten
        also the biases that addmm adds: the out-projection's `L·E`, the in-projection's `3·L·E`
        on a contiguous input) and none the attention's matmuls (the CPU's fused
        scaled dot-product attention); torchinfo, ptflops and thop have no rule for it."""
        if r["bias"] and r["num_heads"] % 2 == 0:
            return NOTHING
        tokens, e = ins[0]
        projections = 4 * tokens * e * e
        # aten's linear adds a bias in addmm (which ptflops-aten counts) on a contiguous input, and
        # in a separate add (which it does not) on a strided one (`tokens`' transposed view)
        biases = (tokens * e + (3 * tokens * e if strided is None else 0)) if r["bias"] else 0
        return Counts(fvcore=projections, torchinfo=0, ptflops=0, ptflops_aten=projections + biases, thop=0,
                      flopcounter=projections)

    def macs(self, r, ins, out):
        n, e = r["tokens"], r["embed_dim"]
        return 4 * n * e * e + 2 * n * n * e

    def other_ops(self, r, ins, out):
        n, e, h = r["tokens"], r["embed_dim"], r["num_heads"]
        return (4 * n * e if r["bias"] else 0) + 2 * n * e + 3 * h * n * n

    def saves(self, r, ins, out, inplace, trainable, grads):
        """The MATH backend, measured with saved_tensors_hooks: the in-projection's input (a copy:
        the batch-first input is transposed) and the out-projection's input when the weights
        train; q, k and v (one contiguous tensor, v's storage), q and kᵀ scaled (QKᵀ's
        operands), the softmax (kept by it and by the second matmul); with dropout, its mask
        and the dropped weights."""
        n, e, h = r["tokens"], r["embed_dim"], r["num_heads"]
        kept = [New(3 * n * e), New(n * e), New(n * e), New(h * n * n)]
        if r["dropout"] > 0:
            kept += [New(h * n * n, "mask"), New(h * n * n)]
        if trainable:
            kept += [New(n * e), New(n * e)]
        return tuple(kept)

    def amp(self, r, ins, device):
        return "lower"  # its projections are linear layers: it returns the lower precision

    def amp_saves(self, r, ins, out, trainable, grads, device, low_input):
        """Under autocast (measured on the CPU, MATH backend): the in-projection's input (the cast
        copy) and the out-projection's in the lower precision when the weights train; the MATH
        backend casts q, k and v up to float32, so q and kᵀ scaled, v (its own L·E now) and the
        softmax are float32, and so are dropout's mask (CUDA: bool) and the dropped weights."""
        n, e, h = r["tokens"], r["embed_dim"], r["num_heads"]
        kept = [New(n * e, "stat"), New(n * e, "stat"), New(n * e, "stat"), New(h * n * n, "stat")]
        if r["dropout"] > 0:
            kept += [New(h * n * n, "mask" if device == "cuda" else "stat"), New(h * n * n, "stat")]
        if trainable:
            kept += [New(n * e, "low"), New(n * e, "low")]
        return tuple(kept)

    def amp_kept_weights(self, r, grads):
        e = r["embed_dim"]
        return (3 * e * e if grads[0] else 0) + e * e  # the in-projection's for the input's gradient; the out-projection's

    def temporaries(self, r, ins, out):
        """The MATH path's most at once, measured on the meta device: during the in-projection
        the transposed input's copy (L·E), the product (3·L·E) and the bias added (3·L·E); during
        the softmax q, k and v (3·L·E), the scores and the softmax (H·L·L each)."""
        n, e, h = r["tokens"], r["embed_dim"], r["num_heads"]
        return max(7 * n * e, 3 * n * e + 2 * h * n * n)

    def amp_temporaries(self, r, ins, out, device, low_input):
        """CPU autocast, eval, no grad. A float32 input with biases and an even number of heads
        takes nn.MultiheadAttention's fused `_native_multi_head_attention` (its fast-path check
        looks at CUDA's autocast only): it casts query, key and value apart (two casts more than
        the input's one) and runs in the lower precision, at most q, k and v projected apart and
        joined (6·L·E), or the transformed q, k, v and the scores (3·L·E + H·L·L), the output's
        L·E aside (torch.profiler's memory timeline, BLAS workspaces left out). Otherwise the MATH
        path (the oracle's dispatch mode): q, k and v in the lower precision (3·L·E), the MATH
        backend's float32 copies of them and of q and k scaled, at the softmax (float32 scores and
        softmax) or at the end (the softmax and its cast, the float32 product with v and its
        cast), before the out-projection casts its weights. CUDA: `temporaries`."""
        if device != "cpu":
            return None
        n, e, h = r["tokens"], r["embed_dim"], r["num_heads"]
        ne, scores = n * e, h * n * n
        if not low_input and r["bias"] and h % 2 == 0:
            return (New(2 * ne + max(6 * ne, 3 * ne + scores) - ne, "low"),)
        # each moment less the output's L·E (archdsl counts it through the layer; it is made last)
        # and, after the in-projection, a float32 input's cast (freed there; archdsl counts it too)
        cast = 0 if low_input else ne
        in_projection = (New(7 * ne - ne, "low"),)
        at_softmax = (New(3 * ne - ne - cast, "low"), New(4 * ne + 2 * scores, "stat"))
        at_end = (New(4 * ne + scores - ne - cast, "low"), New(5 * ne + scores, "stat"))
        worst = max(in_projection, at_softmax, at_end, key=autocast_bytes)  # per sample: every moment scales with it
        return (*worst, New(-(e * e + (e if r["bias"] else 0)), "low", per_sample=False))  # the out-projection's cast: after

    def window(self, r, ins, out):
        return "all"  # every token reads every token: the whole input

    def describe(self, r, brief=False):
        extra = "" if brief else (f" dropout={r['dropout']:g}" if r["dropout"] else "") + ("" if r["bias"] else " bias=no")
        return f"attention {r['num_heads']}{extra}"
