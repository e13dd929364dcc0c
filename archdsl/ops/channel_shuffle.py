"""`channel_shuffle G`: the channels, G groups of C/G, interleaved (ShuffleNet; nn.ChannelShuffle):
output channel j*G + g is input channel g*(C/G) + j. It writes a new tensor."""
from __future__ import annotations

from .base import Arg, Op, OpError
from .lowering import Param, module


class ChannelShuffle(Op):
    name = "channel_shuffle"
    aliases = ("shuffle",)
    family = "shape"
    args = (Arg("groups", "int", minimum=1),)
    positional = ("groups",)
    example = "channel_shuffle 2"
    doc = "interleaves `groups` groups of channels (ShuffleNet's channel shuffle)"
    lowering = module("nn.ChannelShuffle", Param("groups", positional=True))
    counts = Op.nothing  # moves data: no tool has a rule for it

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) < 2:
            raise OpError(f"channel_shuffle needs channels, but its input is the flat vector [{shape[0]}]", code="E0503")
        if shape[0] % a["groups"]:
            raise OpError(f"channel_shuffle {a['groups']} needs the channels ({shape[0]}) to be a multiple of {a['groups']}", code="E0505")
        return shape, {"groups": a["groups"]}

    def other_ops(self, r, ins, out):
        return 0  # moves data, no arithmetic
