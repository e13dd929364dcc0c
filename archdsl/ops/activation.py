"""Activation functions, softmax, maxout."""
from __future__ import annotations

from math import prod

from .base import Arg, Op, OpError


class Activation(Op):
    family = "activation"
    saves_output = True  # relu, sigmoid, tanh, elu, softmax, maxout ... compute their gradient from it
    doc = ""


def _simple(op_name: str, inplace: bool, text: str, extra=()) -> type:
    return type(op_name.capitalize(), (Activation,), {"name": op_name, "inplace": inplace, "doc": text, "args": tuple(extra),
                                                    "positional": tuple(a.name for a in extra)})


Relu = _simple("relu", True, "max(0, x), in place")
Relu6 = _simple("relu6", True, "min(max(0, x), 6), in place (MobileNet)")
LeakyRelu = _simple("leakyrelu", True, "leaky ReLU, in place: slope (default 0.01)", (Arg("slope", "float", 0.01),))
Elu = _simple("elu", True, "ELU, in place: alpha (default 1)", (Arg("alpha", "float", 1.0),))
Silu = _simple("silu", True, "x * sigmoid(x) (swish), in place")
Sigmoid = _simple("sigmoid", False, "logistic sigmoid")
Tanh = _simple("tanh", False, "hyperbolic tangent")
Gelu = _simple("gelu", False, "GELU (exact, erf form)")
Gelu.saves_output = Silu.saves_output = False  # their gradients come from the input


class Prelu(Activation):
    name = "prelu"
    saves_output = False
    args = (Arg("channelwise", "bool", False, flag=True),)
    doc = "parametric ReLU: one learned slope, or one per channel with `channelwise`"

    def infer(self, a, ins):
        return ins[0], {"channelwise": a["channelwise"], "num_parameters": ins[0][0] if a["channelwise"] else 1}

    def params(self, r, ins, out):
        return r["num_parameters"]


class Softmax(Activation):
    name = "softmax"
    doc = "softmax over channels (features)"

    def other_ops(self, r, ins, out):
        return 3 * prod(out)  # exponent, sum, divide


class Maxout(Activation):
    name = "maxout"
    args = (Arg("pieces", "int", 2, minimum=1),)
    positional = ("pieces",)
    doc = "maxout: the maximum over groups of `pieces` consecutive channels (channels / pieces out)"

    def infer(self, a, ins):
        (shape,) = ins
        if shape[0] % a["pieces"]:
            raise OpError(f"maxout {a['pieces']} needs the channels ({shape[0]}) to be a multiple of {a['pieces']}")
        return (shape[0] // a["pieces"],) + shape[1:], {"pieces": a["pieces"]}

    def other_ops(self, r, ins, out):
        return prod(out) * (r["pieces"] - 1)


ACTIVATION_OPS = (Relu, Relu6, LeakyRelu, Elu, Silu, Sigmoid, Tanh, Gelu, Prelu, Softmax, Maxout)
