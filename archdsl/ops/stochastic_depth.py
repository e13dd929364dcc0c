"""Stochastic depth (drop path): Huang et al. 2016, as torchvision.ops.StochasticDepth. In
training it zeroes a residual branch with probability `p` (per sample: mode row; for the whole
batch: mode batch) and scales what it keeps by 1 / (1 - p); in eval mode it is the identity,
and the analysis counts it so: no work, no tensor."""
from __future__ import annotations

from .base import Arg, New, Op, OpError
from .lowering import Param, module


class StochasticDepth(Op):
    name = "stochastic_depth"
    aliases = ("droppath", "drop_path")
    family = "shape"
    args = (Arg("p", "float"), Arg("mode", "choice", "row", choices=("row", "batch")))
    positional = ("p",)
    example = "stochastic_depth 0.1"
    creates_output = False  # analysed in eval mode, where it returns its input
    doc = ("drops the branch with probability `p` in training, per sample (`mode` row) or for the batch; "
           "nothing in eval mode (torchvision's `StochasticDepth`, no state)")
    lowering = module("StochasticDepth", Param("p", positional=True), Param("mode", positional=True))
    counts = Op.nothing  # the identity in eval mode

    def infer(self, a, ins):
        if not 0 <= a["p"] <= 1:
            raise OpError(f"stochastic_depth probability {a['p']:g} is not between 0 and 1", code="E0507")
        return ins[0], {"p": a["p"], "mode": a["mode"]}

    def other_ops(self, r, ins, out):
        return 0

    def creates_in_training(self, r):
        return r["p"] > 0  # input * noise (p = 0: the input itself)

    def grad_is_view(self, r):
        return r["p"] == 0

    def saves(self, r, ins, out, inplace, trainable, grads):
        if r["p"] == 0:
            return ()
        return (New(1, per_sample=r["mode"] == "row"),)  # the noise: one value per sample, or one for the batch

    def describe(self, r, brief=False):
        return f"stochastic_depth {r['p']:g}" + ("" if r["mode"] == "row" else " mode=batch")
