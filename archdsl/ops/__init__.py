"""The op registry: every layer kind the language knows, by the name a spec writes."""
from __future__ import annotations

from .activation import ACTIVATION_OPS
from .base import ACTIVATIONS, Arg, Op, OpError
from .conv import Conv, ConvTranspose
from .linear import Flatten, Linear
from .merge import Add, Concat
from .misc import Crop, Dropout, Identity, InputOp, Upsample
from .norm import BatchNorm, GroupNorm, LayerNorm, LocalResponseNorm
from .pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool

_CLASSES = (
    Conv, ConvTranspose, MaxPool, AvgPool, AdaptiveAvgPool, AdaptiveMaxPool, GlobalAvgPool, GlobalMaxPool,
    Linear, Flatten, BatchNorm, LayerNorm, GroupNorm, LocalResponseNorm, *ACTIVATION_OPS,
    Dropout, Identity, Upsample, Crop, Concat, Add, InputOp,
)

OPS: dict[str, Op] = {cls.name: cls() for cls in _CLASSES}

# Other spellings people use on slides; each maps to one op.
ALIASES = {
    "deconv": "convT", "convtranspose": "convT", "linear": "fc", "dense": "fc", "batchnorm": "bn",
    "norm": "lrn", "avgpool_global": "gap", "globalavgpool": "gap", "globalmaxpool": "gmp",
    "swish": "silu", "leaky_relu": "leakyrelu", "lrelu": "leakyrelu", "dropout2d": "dropout", "ln": "layernorm",
    "gn": "groupnorm", "interpolate": "upsample",
}

LAYER_NAMES = sorted(n for n in OPS if n not in ("input", "concat", "add"))


def lookup(name: str) -> Op | None:
    return OPS.get(ALIASES.get(name, name))


__all__ = ["ACTIVATIONS", "ALIASES", "Arg", "LAYER_NAMES", "OPS", "Op", "OpError", "lookup"]
