"""`scale`: the input times a learned tensor of one value per channel (shape Cx1x1, broadcast
over the positions), owned by the block it is written in: its state_dict key is the layer's
name itself (ConvNeXt's `layer_scale: scale 1e-6` is torchvision's `features.1.0.layer_scale`),
and PyTorch lists it before the block's submodules, as a parameter of the module."""
from __future__ import annotations

from math import prod

from .base import INPUT, Arg, Op, OpError
from .lowering import Lowering, Param


class Scale(Op):
    name = "scale"
    aliases = ("layer_scale",)
    family = "shape"
    args = (Arg("init", "float", 1.0),)
    positional = ("init",)
    doc = "times a learned per-channel parameter (shape Cx1x1, initialised to `init`; ConvNeXt's layer scale), a parameter of its block"
    lowering = Lowering("filled", (Param("shape", positional=True, form="tuple"), Param("init", positional=True)), call="parameter")
    counts = Op.nothing  # `parameter * input`: no module, nothing counted

    def infer(self, a, ins):
        (shape,) = ins
        return shape, {"init": a["init"], "shape": (shape[0],) + (1,) * (len(shape) - 1)}

    def params(self, r, ins, out):
        return prod(r["shape"])

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT,) if trainable else ()  # `weight * input` keeps the input for the weight's gradient

    def param_tensors(self, r):
        return 1

    def amp(self, r, ins, device):
        return "widens"  # a float32 parameter times the input

    def describe(self, r, brief=False):
        return f"scale {r['init']:g}"
