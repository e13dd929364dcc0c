"""Activation functions, softmax, maxout."""
from __future__ import annotations

from math import prod

from .base import INPUT, NOTHING, OUTPUT, Arg, Counts, New, Op, OpError
from .lowering import Param, module


class Activation(Op):
    family = "activation"
    act_option = True  # may be attached to a conv or fc with `act=`
    saves_output = True  # relu, sigmoid, tanh, elu, softmax, maxout ... compute their gradient from it
    doc = ""
    # for backward: sigmoid, tanh, softmax and relu keep their output; the others their input, but
    # in place leakyrelu and elu keep their result (the same storage) and relu6 and silu a clone
    saved = "input"  # input | output
    saved_in_place = "output"  # output | clone
    # how many times ptflops counts each element: once for its module rule (nn.ReLU, nn.ReLU6,
    # nn.ELU, nn.LeakyReLU, nn.GELU, nn.PReLU), once for the F.* it patches and the module calls
    # (F.relu, F.elu, F.gelu, F.silu, F.prelu, F.softmax)
    ptflops = 0

    def counts(self, r, ins, out, strided=None):
        """ptflops alone counts an activation; thop's rules for ReLU, ReLU6 and LeakyReLU count 0."""
        return NOTHING._replace(ptflops=self.ptflops * prod(out))

    def saves(self, r, ins, out, inplace, trainable, grads):
        if inplace:
            return (OUTPUT,) if self.saved == "output" or self.saved_in_place == "output" else (New(prod(ins[0])),)
        return (OUTPUT,) if self.saved == "output" else (INPUT,)


def _simple(op_name: str, layer: str, inplace: bool, text: str, extra=(), aliases=(), *, ptflops: int) -> type:
    """An activation without a shape rule of its own; `extra` pairs an Arg with its nn keyword;
    `ptflops`: how many times ptflops counts each element (see Activation)."""
    params = tuple(Param(keyword, arg.name, positional=True) for arg, keyword in extra)
    return type(op_name.capitalize(), (Activation,), {
        "name": op_name, "aliases": aliases, "inplace": inplace, "doc": text, "args": tuple(arg for arg, _ in extra),
        "ptflops": ptflops,
        "positional": tuple(arg.name for arg, _ in extra), "lowering": module(layer, *params, inplace=inplace)})


Relu = _simple("relu", "nn.ReLU", True, "max(0, x)", ptflops=2)
Relu6 = _simple("relu6", "nn.ReLU6", True, "min(max(0, x), 6) (MobileNet)", ptflops=1)  # its F.hardtanh is not patched
LeakyRelu = _simple("leakyrelu", "nn.LeakyReLU", True, "leaky ReLU",
                    ((Arg("slope", "float", 0.01), "negative_slope"),), ("leaky_relu", "lrelu"), ptflops=1)
Elu = _simple("elu", "nn.ELU", True, "ELU", ((Arg("alpha", "float", 1.0), "alpha"),), ptflops=2)
Sigmoid = _simple("sigmoid", "nn.Sigmoid", False, "logistic sigmoid", ptflops=0)
Tanh = _simple("tanh", "nn.Tanh", False, "hyperbolic tangent", ptflops=0)
Gelu = _simple("gelu", "nn.GELU", False, "GELU (exact, erf form)", ptflops=2)
Silu = _simple("silu", "nn.SiLU", True, "x · sigmoid(x) (swish)", aliases=("swish",), ptflops=1)  # F.silu, no module rule
Gelu.saves_output = Silu.saves_output = False  # their gradients come from the input
Relu.saved = Sigmoid.saved = Tanh.saved = "output"
Relu6.saved_in_place = Silu.saved_in_place = "clone"


class Prelu(Activation):
    name = "prelu"
    saves_output = False
    args = (Arg("channelwise", "bool", False, flag=True),)
    doc = "parametric ReLU: one learned slope, or one per channel with `channelwise`"
    lowering = module("nn.PReLU", Param("num_parameters", default=1))

    def infer(self, a, ins):
        return ins[0], {"channelwise": a["channelwise"], "num_parameters": ins[0][0] if a["channelwise"] else 1}

    def params(self, r, ins, out):
        return r["num_parameters"]

    def amp(self, r, ins, device):
        return "lower"

    def amp_kept_weights(self, r, grads):
        return r["num_parameters"]

    def param_tensors(self, r):
        return 1

    def counts(self, r, ins, out, strided=None):
        """torchinfo: its weight, once per sample; ptflops: module rule and F.prelu; thop: 1 per element (eval)."""
        return Counts(fvcore=0, torchinfo=r["num_parameters"], ptflops=2 * prod(out), ptflops_aten=0, thop=prod(out),
                      flopcounter=0)


class Softmax(Activation):
    name = "softmax"
    act_option = False
    doc = "softmax over the channels"
    saved = "output"
    lowering = module("nn.Softmax", Param("dim", value=1))

    def other_ops(self, r, ins, out):
        return 3 * prod(out)  # exponent, sum, divide

    def counts(self, r, ins, out, strided=None):
        """ptflops: its patched F.softmax (no module rule); thop: exponents, adds and divisions,
        3C - 1 for each of the prod(out) / C softmaxes over C channels."""
        c = out[0]
        return Counts(fvcore=0, torchinfo=0, ptflops=prod(out), ptflops_aten=0, thop=prod(out) // c * (3 * c - 1),
                      flopcounter=0)

    def amp(self, r, ins, device):
        return "float32" if device == "cuda" else None  # in CUDA's float32 list, not the CPU's


class Maxout(Activation):
    name = "maxout"
    args = (Arg("pieces", "int", 2, minimum=1),)
    positional = ("pieces",)
    act_option = False
    doc = "the maximum over groups of `pieces` channels (channels / pieces out)"
    lowering = module("Maxout", Param("pieces", positional=True))

    def infer(self, a, ins):
        (shape,) = ins
        if shape[0] % a["pieces"]:
            raise OpError(f"maxout {a['pieces']} needs the channels ({shape[0]}) to be a multiple of {a['pieces']}", code="E0505")
        return (shape[0] // a["pieces"],) + shape[1:], {"pieces": a["pieces"]}

    def other_ops(self, r, ins, out):
        return prod(out) * (r["pieces"] - 1)

    counts = Op.nothing  # an amax in a module of archdsl's own: no tool has a rule for it

    def saves(self, r, ins, out, inplace, trainable, grads):
        return (INPUT, OUTPUT)  # amax's backward compares its input with its result

