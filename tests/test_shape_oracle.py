"""Shapes against PyTorch itself: random single layers, written as archdsl spec text and built as
the real `torch.nn` layer, run on the `meta` device (no data, no arithmetic).

The oracle's outcome is either an output shape or "PyTorch refuses" (the module's constructor or
its forward raises ValueError/RuntimeError, or ZeroDivisionError from a Python meta kernel).
archdsl must agree both ways: the same shape where PyTorch accepts, an `archdsl.ArchError` (never
another exception, never a shape) where it refuses.

The meta kernels of the transposed convolutions skip two of the CPU kernel's checks (output padding
smaller than the stride or the dilation; an output size of zero), so for `convT` the oracle also
runs the layer on the CPU with a real (small) tensor and takes PyTorch's refusal from either.

An output with a zero-size dimension counts as a refusal: PyTorch's grouped transposed conv on the
CPU returns an empty tensor (`nn.ConvTranspose1d(3, 3, 2, padding=1, groups=3)` on length 1 gives
length 0) where the ungrouped one raises; archdsl refuses both.

`pad=same` with a stride above 1 is an archdsl extension that PyTorch refuses
(docs/conventions.md: it means `p = d(k - 1) // 2` on each side); those cases are compared with
the PyTorch layer given that padding explicitly.
"""
from __future__ import annotations

import os
from math import prod

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import note as _note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

import archdsl  # noqa: E402

from .test_cost_oracle import Crop, Maxout  # noqa: E402  (the two layers torch.nn lacks, in plain torch)

pytestmark = [
    # PyTorch's own notes on the layers it builds (even kernels with `same`, zero-element weights)
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.usefixtures("torch_one_thread"),
]

# ARCHDSL_ORACLE_EXAMPLES=5000 for a deeper search
SETTINGS = settings(max_examples=int(os.environ.get("ARCHDSL_ORACLE_EXAMPLES", 250)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
REFUSED = "refused"


# ---- the two sides ----------------------------------------------------------------------------


def note(text: str) -> None:
    """hypothesis' note where there is a hypothesis test (shown with the failing example)."""
    try:
        _note(text)
    except Exception:
        pass


def input_line(shape: tuple) -> str:
    """(C, *spatial) in PyTorch order -> `input HxWxC` as the language writes it (`input F`, flat)."""
    return "input " + "x".join(str(v) for v in (*shape[1:], shape[0]))


def size_text(values: tuple, scalar: bool) -> str:
    """A per-dimension value as a spec writes it: `3` (every dimension) or `3x2`."""
    if scalar and len(set(values)) == 1:
        return str(values[0])
    return "x".join(str(v) for v in values)


def archdsl_outcome(spec: str):
    """The output shape archdsl infers for the last layer, or REFUSED on an ArchError.

    Any other exception propagates: a crash is a failure, not a refusal."""
    try:
        analysis = archdsl.load(spec).analyze()
    except archdsl.ArchError:
        return REFUSED
    return tuple(analysis.rows[-1].output_shape)


def torch_outcome(build, shape: tuple, devices=("meta",)):
    """Run `build(device)` on a batch of one sample of `shape`; the output shape without the batch,
    or REFUSED when PyTorch raises on any of `devices` (the shape must agree across the others)."""
    shapes = set()
    for device in devices:
        try:
            layer = build(device)
            x = torch.empty((1, *shape), device=device) if device == "meta" else torch.zeros((1, *shape))
            with torch.no_grad():
                out = tuple(layer(x).shape[1:])
        except (ValueError, RuntimeError, ZeroDivisionError) as err:  # the last from meta kernels (stride 0)
            note(f"PyTorch ({device}) refuses: {str(err).splitlines()[0]}")
            return REFUSED
        if 0 in out:
            # an empty output: PyTorch's grouped transposed conv returns one (CPU, groups > 1) where
            # the ungrouped kernel raises "Output size is too small"; archdsl refuses both
            note(f"PyTorch ({device}) gives an empty output {out}")
            return REFUSED
        shapes.add(out)
    assert len(shapes) == 1, f"meta and CPU disagree: {shapes}"
    return shapes.pop()


def check(spec: str, build, shape: tuple, devices=("meta",)):
    note(spec)
    expected = torch_outcome(build, shape, devices)
    got = archdsl_outcome(spec)
    if expected == REFUSED:
        assert got == REFUSED, f"PyTorch refuses but archdsl accepts, giving {got}:\n{spec}"
    else:
        assert got != REFUSED, f"archdsl refuses but PyTorch gives {expected}:\n{spec}"
        assert got == expected, f"archdsl {got} != PyTorch {expected}:\n{spec}"


# ---- strategies -------------------------------------------------------------------------------

MAX_SIDE = {1: 14, 2: 11, 3: 7}


@st.composite
def input_shape(draw, rank=None, channels=(1, 2, 3, 4, 6)):
    rank = rank or draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, MAX_SIDE[rank]), min_size=rank, max_size=rank)))
    shape = (draw(st.sampled_from(channels)),) + spatial
    assume(not looks_swapped(shape))
    return shape


def looks_swapped(shape: tuple) -> bool:
    """archdsl refuses, by design, an input that looks written channels first (`input 3x8x8`, a
    3-high 8-wide 8-channel image): not a shape rule, so the strategies avoid it."""
    dims = (*shape[1:], shape[0])
    return len(dims) >= 3 and dims[0] in (1, 2, 3, 4) and dims[-1] > 4 and len(set(dims[1:])) == 1


def per_dim(rank: int, lo: int, hi: int):
    return st.lists(st.integers(lo, hi), min_size=rank, max_size=rank).map(tuple)


CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONVT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
ADAPTIVE_AVG = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
ADAPTIVE_MAX = {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d}


# ---- convolution ------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_conv_shape(data):
    shape = data.draw(input_shape())
    rank = len(shape) - 1
    cin = shape[0]
    cout = data.draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
    k = data.draw(per_dim(rank, 1, 5))
    s = data.draw(per_dim(rank, 1, 3))
    d = data.draw(per_dim(rank, 1, 3))
    depthwise = data.draw(st.booleans()) if cout % cin == 0 else False
    groups = cin if depthwise else data.draw(st.sampled_from([1, 1, 2, 3, 4]))
    bias = data.draw(st.booleans())
    pad_kind = data.draw(st.sampled_from(["int", "int", "same", "valid"]))
    if pad_kind == "int":
        p = data.draw(per_dim(rank, 0, 3))
        pad_text, torch_pad = size_text(p, data.draw(st.booleans())), p
    elif pad_kind == "valid":
        pad_text, torch_pad = "valid", "valid"
    elif all(v == 1 for v in s):
        pad_text, torch_pad = "same", "same"
    else:  # archdsl's documented extension: half padding on each side
        pad_text, torch_pad = "same", tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d))
    spec = f"{input_line(shape)}\nconv {cout} {size_text(k, data.draw(st.booleans()))}"
    if any(v != 1 for v in s) or data.draw(st.booleans()):
        spec += f" /{size_text(s, data.draw(st.booleans()))}"
    spec += f" pad={pad_text}"
    if any(v != 1 for v in d) or data.draw(st.booleans()):
        spec += f" dilation={size_text(d, data.draw(st.booleans()))}"
    spec += " depthwise" if depthwise else (f" groups={groups}" if groups != 1 or data.draw(st.booleans()) else "")
    spec += "" if bias else " bias=no"
    check(spec + "\n",
          lambda dev: CONV[rank](cin, cout, k, s, torch_pad, d, groups, bias, device=dev), shape)


@SETTINGS
@given(data=st.data())
def test_conv_transpose_shape(data):
    shape = data.draw(input_shape())
    rank = len(shape) - 1
    cin = shape[0]
    cout = data.draw(st.sampled_from([1, 2, 3, 4, 6]))
    k = data.draw(per_dim(rank, 1, 4))
    s = data.draw(per_dim(rank, 1, 3))
    p = data.draw(per_dim(rank, 0, 3))
    d = data.draw(per_dim(rank, 1, 3))
    op = data.draw(per_dim(rank, 0, 3))  # sometimes >= max(stride, dilation): PyTorch refuses
    depthwise = data.draw(st.booleans()) and cout % cin == 0
    groups = cin if depthwise else data.draw(st.sampled_from([1, 1, 2, 3]))
    bias = data.draw(st.booleans())
    sc = data.draw(st.booleans())
    spec = (f"{input_line(shape)}\nconvT {cout} {size_text(k, sc)} /{size_text(s, sc)} pad={size_text(p, sc)}"
            f" outpad={size_text(op, sc)} dilation={size_text(d, sc)}" + (" depthwise" if depthwise else f" groups={groups}")
            + ("" if bias else " bias=no") + "\n")
    check(spec, lambda dev: CONVT[rank](cin, cout, k, s, p, op, groups, bias, d, device=dev), shape,
          devices=("meta", "cpu"))


# ---- pooling ----------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_maxpool_shape(data):
    shape = data.draw(input_shape())
    rank = len(shape) - 1
    k = data.draw(per_dim(rank, 1, 4))
    s = data.draw(st.none() | per_dim(rank, 1, 3))
    p = data.draw(per_dim(rank, 0, 2))  # sometimes > kernel // 2: PyTorch refuses
    d = data.draw(per_dim(rank, 1, 3))
    ceil = data.draw(st.booleans())
    sc = data.draw(st.booleans())
    spec = f"{input_line(shape)}\nmaxpool {size_text(k, sc)}"
    spec += "" if s is None else f" /{size_text(s, sc)}"
    spec += f" pad={size_text(p, sc)} dilation={size_text(d, sc)}" + (" ceil" if ceil else "") + "\n"
    check(spec, lambda dev: MAXPOOL[rank](k, s, p, d, ceil_mode=ceil), shape)


@SETTINGS
@given(data=st.data())
def test_avgpool_shape(data):
    shape = data.draw(input_shape())
    rank = len(shape) - 1
    k = data.draw(per_dim(rank, 1, 4))
    s = data.draw(st.none() | per_dim(rank, 1, 3))
    p = data.draw(per_dim(rank, 0, 2))
    ceil = data.draw(st.booleans())
    count_pad = data.draw(st.booleans())
    sc = data.draw(st.booleans())
    spec = f"{input_line(shape)}\navgpool {size_text(k, sc)}"
    spec += "" if s is None else f" /{size_text(s, sc)}"
    spec += f" pad={size_text(p, sc)}" + (" ceil" if ceil else "") + ("" if count_pad else " count_pad=no") + "\n"
    check(spec, lambda dev: AVGPOOL[rank](k, s, p, ceil_mode=ceil, count_include_pad=count_pad), shape)


ADAPTIVE_KINDS = ["adaptiveavgpool", "adaptivemaxpool", "gap", "gmp"]


@SETTINGS
@given(data=st.data())
def test_adaptive_pool_shape(data):
    shape = data.draw(input_shape())
    rank = len(shape) - 1
    kind = data.draw(st.sampled_from(ADAPTIVE_KINDS))
    size = data.draw(per_dim(rank, 1, 9))  # larger than the input is allowed
    table = ADAPTIVE_AVG if kind in ("adaptiveavgpool", "gap") else ADAPTIVE_MAX
    if kind in ("gap", "gmp"):
        spec, size = f"{input_line(shape)}\n{kind}\n", (1,) * rank
    else:
        spec = f"{input_line(shape)}\n{kind} {size_text(size, data.draw(st.booleans()))}\n"
    check(spec, lambda dev: table[rank](size), shape)


# ---- upsampling -------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_upsample_shape(data):
    shape = data.draw(input_shape())
    rank = len(shape) - 1
    mode = data.draw(st.sampled_from(["nearest", "bilinear"]))
    # archdsl's `bilinear` means the interpolation of the input's rank (linear in 1D, trilinear in 3D)
    torch_mode = "nearest" if mode == "nearest" else {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
    mode_text = "" if mode == "nearest" and data.draw(st.booleans()) else f" mode={mode}"
    if data.draw(st.booleans()):
        scale = data.draw(per_dim(rank, 1, 3))
        spec = f"{input_line(shape)}\nupsample {size_text(scale, data.draw(st.booleans()))}{mode_text}\n"
        build = lambda dev: nn.Upsample(scale_factor=tuple(float(f) for f in scale), mode=torch_mode)  # noqa: E731
    else:
        size = data.draw(per_dim(rank, 1, 12))
        spec = f"{input_line(shape)}\nupsample size={size_text(size, data.draw(st.booleans()))}{mode_text}\n"
        build = lambda dev: nn.Upsample(size=size, mode=torch_mode)  # noqa: E731
    check(spec, build, shape)


# ---- every other layer: linear, flatten, norms, activations, maxout, dropout, crop ----------------

BN = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
ELEMENTWISE = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
               "gelu": nn.GELU, "identity": nn.Identity}
LAYER_KINDS = ["fc", "flatten", "bn", "layernorm", "groupnorm", "lrn", "prelu", "maxout", "dropout", "crop", "softmax",
               "leakyrelu", "elu", *ELEMENTWISE]


@SETTINGS
@given(data=st.data())
def test_layer_shape(data):
    """The layers without a window, on spatial and flat inputs; archdsl refuses where PyTorch does
    (channels that the groups or pieces do not divide, a crop larger than its input, LRN or a crop
    of a flat vector, a probability above 1)."""
    if data.draw(st.integers(0, 3)) == 0:
        shape = (data.draw(st.integers(1, 40)),)  # `input 40`: a flat vector
    else:
        shape = data.draw(input_shape())
    rank, c = len(shape) - 1, shape[0]
    kind = data.draw(st.sampled_from(LAYER_KINDS))
    layer, build = kind, None
    if kind == "fc":
        f, bias = data.draw(st.integers(1, 8)), data.draw(st.booleans())
        layer = f"fc {f}" + ("" if bias else " bias=no")
        build = lambda dev: nn.Sequential(nn.Flatten(), nn.Linear(prod(shape), f, bias, device=dev))  # noqa: E731
    elif kind == "flatten":
        build = lambda dev: nn.Flatten()  # noqa: E731
    elif kind == "bn":
        affine = data.draw(st.booleans())
        layer += "" if affine else " affine=no"
        build = lambda dev: BN[rank](c, affine=affine, device=dev).eval()  # noqa: E731
    elif kind == "layernorm":
        build = lambda dev: nn.LayerNorm(list(shape), device=dev)  # noqa: E731
    elif kind == "groupnorm":
        g = data.draw(st.sampled_from([1, 2, 3, 4, 6]))
        # PyTorch refuses a group of a single value at batch 1 and not at batch 2 (`input 1`,
        # `groupnorm 1`): a check on the batch, which a batch-free analysis cannot make
        assume(prod(shape) // g > 1)
        layer = f"groupnorm {g}"
        build = lambda dev: nn.GroupNorm(g, c, device=dev)  # noqa: E731
    elif kind == "lrn":
        size = data.draw(st.integers(1, 6))
        layer = f"lrn {size}"
        build = lambda dev: nn.LocalResponseNorm(size)  # noqa: E731
    elif kind == "prelu":
        channelwise = data.draw(st.booleans())
        layer += " channelwise" if channelwise else ""
        build = lambda dev: nn.PReLU(c if channelwise else 1, device=dev)  # noqa: E731
    elif kind == "maxout":
        pieces = data.draw(st.integers(1, 4))
        layer = f"maxout {pieces}"
        build = lambda dev: Maxout(pieces)  # noqa: E731
    elif kind == "dropout":
        p = data.draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]))
        layer = f"dropout {p}"
        build = lambda dev: nn.Dropout(p)  # noqa: E731
    elif kind == "crop":
        # sometimes the wrong number of dimensions (two or three: one number is every dimension)
        dims = rank if rank and data.draw(st.integers(0, 5)) else data.draw(st.sampled_from([d for d in (2, 3) if d != rank]))
        size = data.draw(per_dim(dims, 1, MAX_SIDE[3] + 2))
        scalar = dims == rank and data.draw(st.booleans())
        layer = f"crop {size_text(size, scalar)}"
        if scalar and len(set(size)) == 1:
            size = (size[0],) * rank
        build = lambda dev: Crop(size)  # noqa: E731
    elif kind == "softmax":
        build = lambda dev: nn.Softmax(dim=1)  # noqa: E731
    elif kind == "leakyrelu":
        slope = data.draw(st.sampled_from([0.01, 0.2]))
        layer = f"leakyrelu {slope}"
        build = lambda dev: nn.LeakyReLU(slope)  # noqa: E731
    elif kind == "elu":
        alpha = data.draw(st.sampled_from([1.0, 0.5]))
        layer = f"elu {alpha}"
        build = lambda dev: nn.ELU(alpha)  # noqa: E731
    else:
        build = lambda dev: ELEMENTWISE[kind]()  # noqa: E731
    check(f"{input_line(shape)}\n{layer}\n", build, shape)


# every archdsl op the strategies of this file draw (test_op_registry checks the registry against it)
ORACLE_OPS = frozenset(["conv", "convT", "maxpool", "avgpool", "upsample", *ADAPTIVE_KINDS, *LAYER_KINDS])


# ---- fixed examples: the edges the strategies may miss ------------------------------------------


@pytest.mark.parametrize("spec, build, shape", [
    # even kernel, `same`: PyTorch pads the extra column on the right
    ("input 7x6x2\nconv 3 4x2 pad=same\n", lambda dev: nn.Conv2d(2, 3, (4, 2), padding="same"), (2, 7, 6)),
    ("input 5x2\nconv 3 2 dilation=3 pad=same\n", lambda dev: nn.Conv1d(2, 3, 2, padding="same", dilation=3), (2, 5)),
    # the kernel no longer fits: an error on both sides
    ("input 2x2x2\nconv 3 5\n", lambda dev: nn.Conv2d(2, 3, 5), (2, 2, 2)),
    # ceil mode whose last window would start in the right padding: PyTorch drops it
    ("input 5x5x1\nmaxpool 2 /2 pad=1 ceil\n", lambda dev: nn.MaxPool2d(2, 2, 1, ceil_mode=True), (1, 5, 5)),
    ("input 6x6x1\navgpool 3 /2 pad=1 ceil\n", lambda dev: nn.AvgPool2d(3, 2, 1, ceil_mode=True), (1, 6, 6)),
    # padding more than half the kernel
    ("input 8x8x1\nmaxpool 2 pad=2\n", lambda dev: nn.MaxPool2d(2, padding=2), (1, 8, 8)),
    ("input 8x1\navgpool 3 pad=2\n", lambda dev: nn.AvgPool1d(3, padding=2), (1, 8)),
    # groups that do not divide the channels
    ("input 8x8x4\nconv 6 3 groups=4\n", lambda dev: nn.Conv2d(4, 6, 3, groups=4), (4, 8, 8)),
    ("input 8x8x4\nconvT 6 3 groups=4\n", lambda dev: nn.ConvTranspose2d(4, 6, 3, groups=4), (4, 8, 8)),
    ("input 8x8x4\nconv 6 3 depthwise\n", lambda dev: nn.Conv2d(4, 6, 3, groups=4), (4, 8, 8)),
    # output padding: smaller than the stride OR the dilation is enough
    ("input 4x4x2\nconvT 2 3 outpad=1 dilation=2\n", lambda dev: nn.ConvTranspose2d(2, 2, 3, output_padding=1, dilation=2), (2, 4, 4)),
    ("input 4x4x2\nconvT 2 3 /2 outpad=2\n", lambda dev: nn.ConvTranspose2d(2, 2, 3, 2, output_padding=2), (2, 4, 4)),
    # transposed conv padding that eats the whole output
    ("input 1x1x2\nconvT 2 1 pad=1\n", lambda dev: nn.ConvTranspose2d(2, 2, 1, padding=1), (2, 1, 1)),
])
def test_fixed_examples(spec, build, shape):
    check(spec, build, shape, devices=("meta", "cpu"))


@pytest.mark.parametrize("layer, build", [
    ("conv 4 3 pad=-1", lambda dev: nn.Conv2d(4, 4, 3, padding=-1)),
    ("conv 4 3 /0", lambda dev: nn.Conv2d(4, 4, 3, stride=0)),
    ("conv 4 0", lambda dev: nn.Conv2d(4, 4, 0)),
    ("conv 4 3 dilation=0", lambda dev: nn.Conv2d(4, 4, 3, dilation=0)),
    ("conv 4 3 groups=0", lambda dev: nn.Conv2d(4, 4, 3, groups=0)),
    ("conv 4 3 /2 groups=3", lambda dev: nn.Conv2d(4, 4, 3, 2, groups=3)),
    ("conv 4 3x3x3", lambda dev: nn.Conv2d(4, 4, (3, 3, 3))),
    ("convT 4 3 pad=-1", lambda dev: nn.ConvTranspose2d(4, 4, 3, padding=-1)),
    ("convT 4 3 /2 outpad=2", lambda dev: nn.ConvTranspose2d(4, 4, 3, 2, output_padding=2)),
    ("maxpool 0", lambda dev: nn.MaxPool2d(0)),
    ("maxpool 2 /0", lambda dev: nn.MaxPool2d(2, 0)),
    ("maxpool 2 dilation=0", lambda dev: nn.MaxPool2d(2, dilation=0)),
    ("maxpool 3 pad=2", lambda dev: nn.MaxPool2d(3, padding=2)),
    ("avgpool 2 pad=-1", lambda dev: nn.AvgPool2d(2, padding=-1)),
    ("adaptiveavgpool 0", lambda dev: nn.AdaptiveAvgPool2d(0)),
])
def test_invalid_values_refused_by_both(layer, build):
    """Values PyTorch refuses, written in a spec: an ArchError, never a crash or a shape."""
    check(f"input 8x8x4\n{layer}\n", build, (4, 8, 8), devices=("meta", "cpu"))


# ---- disagreements the properties found, now fixed (minimal repros) ------------------------------


def test_avgpool3d_input_smaller_than_kernel():
    # Found by the properties above: PyTorch's avg_pool3d refuses an input side smaller than the
    # kernel even when the padding makes the window fit ("input image (T: 2 H: 2 W: 2) smaller
    # than kernel size"); 1D and 2D average pooling and max pooling accept it. archdsl follows.
    check("input 2x2x2x1\navgpool 3 /1 pad=1\n", lambda dev: nn.AvgPool3d(3, 1, 1), (1, 2, 2, 2), devices=("meta", "cpu"))
    assert torch_outcome(lambda dev: nn.AvgPool3d(3, 1, 1), (1, 2, 2, 2), ("meta", "cpu")) == REFUSED
