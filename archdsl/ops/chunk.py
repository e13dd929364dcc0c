"""`chunk N i`: part i of the input cut into N along the channels (torch.chunk(x, N, 1)[i]):
ShuffleNet V2's channel split. A slice of its input: it creates no tensor."""
from __future__ import annotations

from .base import Arg, Op, OpError
from .lowering import Param, module


def chunk_channels(c: int, chunks: int, index: int) -> int:
    """What torch.chunk gives: parts of ceil(c / chunks) channels, the last one what is left."""
    size = -(-c // chunks)
    return min(size, c - index * size)


class Chunk(Op):
    name = "chunk"
    family = "shape"
    args = (Arg("chunks", "int", minimum=1), Arg("index", "int"))
    positional = ("chunks", "index")
    example = "chunk 2 0"
    creates_output = False  # a slice of its input
    slices = True
    no_inplace_after = True  # torch.chunk's views: `relu_` on one fails in training
    doc = "part `index` (from 0) of the channels cut into `chunks` parts, as `torch.chunk` (a slice: creates no tensor)"
    lowering = module("Chunk", Param("chunks", positional=True), Param("index", positional=True))
    counts = Op.nothing  # a view

    def infer(self, a, ins):
        (shape,) = ins
        if len(shape) < 2:
            raise OpError(f"chunk cuts channels, but its input is the flat vector [{shape[0]}]", code="E0503")
        c, n, i = shape[0], a["chunks"], a["index"]
        if i >= n or chunk_channels(c, n, i) <= 0:
            raise OpError(f"chunk {n} {i}: {c} channels cut into {n} parts of {-(-c // n)} have no part {i}",
                          hint=f"the parts are numbered from 0 to {min(n, -(-c // -(-c // n))) - 1}", code="E0505")
        return (chunk_channels(c, n, i),) + shape[1:], {"chunks": n, "index": i}

    def other_ops(self, r, ins, out):
        return 0
