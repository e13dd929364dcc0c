"""`patch_merging`: Swin's downsampling between stages on a channels-last map (PyTorch shape
H, W, C), as torchvision's PatchMerging or, with `v2`, PatchMergingV2: the map padded to even
sizes, each 2x2 patch's four positions concatenated (4C channels: (0,0), (1,0), (0,1), (1,1)),
then LayerNorm(4C) and `reduction`, a Linear 4C -> 2C without bias (v2: the Linear first, then
LayerNorm(2C)). One layer, because torchvision registers `reduction` before `norm` although v1
runs the norm first: its keys are `reduction.weight`, `norm.weight`, `norm.bias` in that order."""
from __future__ import annotations

from .base import Arg, Counts, New, Op, OpError, fmt_size
from .lowering import Param, module


class PatchMerging(Op):
    name = "patch_merging"
    family = "shape"
    args = (Arg("eps", "float", 1e-5), Arg("v2", "bool", False, flag=True))
    doc = ("Swin's 2x2 patch merging on a channels-last HxWxC map: 4C channels, LayerNorm, Linear to 2C "
           "(torchvision's `PatchMerging`; `v2`: `PatchMergingV2`, the Linear before the LayerNorm)")
    lowering = module("PatchMerging", Param("dim", positional=True), Param("v2", default=False), Param("eps", default=1e-5))

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) != 3:
            raise OpError(f"patch_merging needs a channels-last map (PyTorch shape H, W, C), but its input is "
                          f"{fmt_size(shape)}", hint="write `permute 0 2 3 1` before it to put the channels last", code="E0504")
        h, w, c = shape
        return (-(-h // 2), -(-w // 2), 2 * c), {"dim": c, "v2": a["v2"], "eps": a["eps"]}

    def _normed(self, r) -> int:
        return (2 if r["v2"] else 4) * r["dim"]

    def params(self, r, ins, out):
        return 8 * r["dim"] * r["dim"] + 2 * self._normed(r)

    def macs(self, r, ins, out):
        return out[0] * out[1] * 4 * r["dim"] * 2 * r["dim"]

    def other_ops(self, r, ins, out):
        return 5 * out[0] * out[1] * self._normed(r)  # the layer norm

    def counts(self, r, ins, out, strided=None):
        """`reduction` (nn.Linear, no bias) and `norm` (nn.LayerNorm, affine) as those layers count:
        fvcore 5, ptflops 1, thop 4 per normalised element; torchinfo the parameters."""
        macs, normed = self.macs(r, ins, out), out[0] * out[1] * self._normed(r)
        return Counts(fvcore=macs + 5 * normed, torchinfo=self.params(r, ins, out), ptflops=macs + normed,
                      ptflops_aten=macs, thop=macs + 4 * normed, flopcounter=macs)

    def saves(self, r, ins, out, inplace, trainable, grads):
        """v1: the concatenated patches (layer_norm's input), its mean and inverse std per position
        and, for the reduction's weight, the normalised 4C map. v2: the patches (for the weight),
        the reduction's output (layer_norm's input) and its statistics. Measured with
        saved_tensors_hooks."""
        positions = out[0] * out[1]
        patches, stats = New(positions * 4 * r["dim"]), New(2 * positions)
        if r["v2"]:
            return ((patches,) if trainable else ()) + (New(positions * 2 * r["dim"]), stats)
        return (patches, stats) + ((New(positions * 4 * r["dim"]),) if trainable else ())

    def amp(self, r, ins, device):
        return "lower"  # its reduction is a linear layer (v2's norm after it runs in its dtype)

    def amp_saves(self, r, ins, out, trainable, grads, device, low_input):
        """Under autocast (measured on the CPU): v1's patches and norm in the input's dtype, the
        statistics float32, the normalised map's cast for the reduction; v2's patches cast for
        the reduction, its output (the norm's input) in the lower precision, float32 statistics."""
        positions = out[0] * out[1]
        patches, stats = New(positions * 4 * r["dim"], "low" if low_input else "act"), New(2 * positions, "stat")
        if r["v2"]:
            return ((New(positions * 4 * r["dim"], "low"),) if trainable else ()) + (New(positions * 2 * r["dim"], "low"), stats)
        return (patches, stats) + ((New(positions * 4 * r["dim"], "low"),) if trainable else ())

    def amp_kept_weights(self, r, grads):
        # the reduction's weight cast, for its input's gradient (v1: the norm's output, which needs one)
        return 8 * r["dim"] * r["dim"] if grads[0] or not r["v2"] else 0

    def param_tensors(self, r):
        return 3

    def window(self, r, ins, out):
        """Output o reads input positions 2o and 2o + 1 (the padding past an odd size included)."""
        return tuple((1, 2, lambda j: (0, 1, 2), 0, 1) for _ in range(2))

    def describe(self, r, brief=False):
        return "patch_merging" + (" v2" if r["v2"] else "") + ("" if brief or r["eps"] == 1e-5 else f" eps={r['eps']:g}")
