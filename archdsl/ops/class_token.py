"""`class_token`: a learned token put in front of a sequence `[L, D]`, which becomes `[L + 1, D]`
(ViT's class token: `torch.cat([class_token.expand(n, -1, -1), x], dim=1)`). The token, shape
1x1xD and zeros at first, is a parameter of the block it is written in: its state_dict key is
the layer's name (`class_token`), listed before the block's submodules."""
from __future__ import annotations

from .base import Op, OpError
from .lowering import Lowering, Param


class ClassToken(Op):
    name = "class_token"
    aliases = ("cls_token",)
    family = "shape"
    doc = ("a learned token (1x1xD, zeros at first) in front of a sequence `[L, D]`, giving `[L+1, D]` "
           "(ViT's class token), a parameter of its block")
    lowering = Lowering("filled", (Param("shape", positional=True, form="tuple"), Param("init", positional=True)),
                        call="parameter", combine="prepend")

    counts = Op.nothing  # a view, an index, a concatenation or `+`: no tool counts it (tests/test_conventions.py)

    def amp(self, r, ins, device):
        return "widens"  # a float32 parameter concatenated with the input (cat promotes)

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) != 2:
            raise OpError(f"class_token needs a sequence [tokens x features], but its input is [{'x'.join(map(str, shape))}]",
                          hint="`tokens` turns a feature map into a sequence", code="E0504")
        return (shape[0] + 1, shape[1]), {"shape": (1, 1, shape[1]), "init": 0.0}

    def params(self, r, ins, out):
        return r["shape"][-1]

    def param_tensors(self, r):
        return 1

    def grad_is_view(self, r):
        return True  # cat's backward hands the input a slice of the gradient

    def other_ops(self, r, ins, out):
        return 0

    def describe(self, r, brief=False):
        return "class_token"
