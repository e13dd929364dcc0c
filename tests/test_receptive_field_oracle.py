"""Receptive fields against autograd: which input positions an output element really depends on.

Random chains of conv (stride, padding, dilation, `pad=same`), average pooling (stride, padding,
ceil mode), transposed conv (stride, padding, output padding, dilation), upsampling (nearest and
linear, by a scale or to a size, with and without align_corners), adaptive average pooling, crop,
and two branches merged by `add` or `concat` (each cropped to the smaller one's size), in 1D and
2D, are written as archdsl spec text and built again by hand from torch.nn layers (not with
archdsl's builder). Every weight is 1, the input positive and everything runs in float64, so an
output depends on an input position exactly where the gradient of that output (summed over
channels) is nonzero there. For every output position the test runs one backward pass and
compares the first and last input index with a nonzero gradient, per dimension, with the interval
the pass predicts (`passes/receptive_field.interval` of the layer's periodic map); the largest
extent over the positions checked is the reported size (where they cover every phase of the map).

Borders: the pass describes an input large enough that no border cuts a region off, so only
outputs that no border touches are compared. The test finds them with a second copy of the network
in which every padding is explicit, filled with leaf tensors of zeros (replicated edges for linear
upsampling, which clamps at the borders; extra positions on the right for ceil-mode pooling, whose
last window may run past the padding; whole extra inputs for transposed convs): an output whose
gradient reaches one of those leaves reads padding somewhere, and is not compared. (A detector that
flags too little can only make the test fail, never pass wrongly: the predictions are compared
with the real layers.)

Max pooling: its gradient only reaches the argmax of each window, not the window. In the chains a
spec's `maxpool` is therefore built as what has its windows (`window_sum`): a depthwise conv of ones
with the pool's kernel, stride, dilation and padding (and the extra right padding of ceil mode, its
output size taken from nn.MaxPool), so that the chains test the rule `MaxPool.window` (which
average pooling inherits) dilation included. `test_max_pooling_windows` checks those windows
against nn.MaxPool itself, on a ramp: on an increasing input the gradient of an output reaches the
last position of its window, on a decreasing one the first.

Floating point: PyTorch computes the source position of linear upsampling in floating point; where
it is mathematically whole the neighbour's weight comes out as a rounding residue (up to 4e-15)
instead of 0. The chains use only upsampling ratios that float64 computes exactly (a power of two
after cancelling); `test_single_upsampling_any_ratio` covers every ratio on one layer, where a
weight below 1e-9 is a residue (real weights are at least 1/(2m)). PyTorch's nearest mode computes
its forward pass in float64 but sends the gradient where float32 arithmetic puts the index
(`nearest_backward`): at rare outputs one position lower than the value came from. The chains
leave out the sizes where that happens; the single-layer test leaves out those outputs (and checks
that their gradient goes where float32 says).

ARCHDSL_RF_EXAMPLES=500 for a deeper search; `-m slow` also runs deeper chains.
"""
from __future__ import annotations

import itertools
import os
import re
from math import gcd

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import note as _note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import archdsl  # noqa: E402
from archdsl.passes import receptive_field as rf  # noqa: E402

from .conftest import SPECS  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # PyTorch's note on even kernels with `same`
    pytest.mark.usefixtures("torch_one_thread"),
]

EXAMPLES = int(os.environ.get("ARCHDSL_RF_EXAMPLES", 60))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=max(EXAMPLES, 60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPE = torch.float64

CONV = {1: nn.Conv1d, 2: nn.Conv2d}
CONVT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}
AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d}
MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d}
ADAPTIVE = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}
LINEAR = {1: "linear", 2: "bilinear"}


def note(text: str) -> None:
    try:
        _note(text)
    except Exception:  # outside a hypothesis test
        pass


def field_of(spec: str):
    """The last layer's field (one periodic map per dimension) and its row of the analysis."""
    net = archdsl.load(spec)
    row = net.analyze().rows[-1]
    return net.analysed().nodes[-1].rf, row


def sz(values) -> str:
    return "x".join(str(v) for v in values)


# ---- the layers: spec text and torch.nn, by hand --------------------------------------------------

def spec_line(layer: dict, channels: int) -> str:
    op = layer["op"]
    if op == "conv":
        pad = "same" if layer["p"] == "same" else sz(layer["p"])
        return f"conv {channels} {sz(layer['k'])} /{sz(layer['s'])} pad={pad} dilation={sz(layer['d'])}"
    if op == "convT":
        return (f"convT {channels} {sz(layer['k'])} /{sz(layer['s'])} pad={sz(layer['p'])} "
                f"outpad={sz(layer['outpad'])} dilation={sz(layer['d'])}")
    if op == "avgpool":
        return f"avgpool {sz(layer['k'])} /{sz(layer['s'])} pad={sz(layer['p'])}" + (" ceil" if layer["ceil"] else "")
    if op == "maxpool":
        return (f"maxpool {sz(layer['k'])} /{sz(layer['s'])} pad={sz(layer['p'])} dilation={sz(layer['d'])}"
                + (" ceil" if layer["ceil"] else ""))
    if op == "upsample":
        how = sz(layer["scale"]) if layer["scale"] else f"size={sz(layer['size'])}"
        if layer["mode"] == "nearest":
            return f"upsample {how}"
        return f"upsample {how} mode={layer['mode']} align_corners={'yes' if layer['align'] else 'no'}"
    if op == "adaptive":
        return f"adaptiveavgpool {sz(layer['size'])}"
    if op == "crop":
        return f"crop {sz(layer['size'])}"
    if op == "fc":
        return "fc 3"
    raise AssertionError(op)


def spec_text(shape: tuple, items: list) -> str:
    """`input LxC` (or HxWxC), then one line per layer; a merge as `add { a -> b ; c }`."""
    lines = ["input " + sz(shape[1:] + shape[:1])]
    channels = shape[0]
    for item in items:
        if item["op"] in ("add", "concat"):
            branches = []
            for branch in item["branches"]:
                branches.append(" -> ".join(spec_line(layer, channels) for layer in branch) or "identity")
            lines.append(f"{item['op']} {{ {' ; '.join(branches)} }}")
            if item["op"] == "concat":
                channels *= 2
        else:
            lines.append(spec_line(item, channels))
    return "\n".join(lines) + "\n"


def ones(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(1.0)
    return module.to(DTYPE)


def crop(x, size):
    """archdsl's crop (docs/language.md): the centre, offset (n - size) // 2 in each dimension."""
    for axis, s in enumerate(size, 2):
        x = x.narrow(axis, (x.shape[axis] - s) // 2, s)
    return x


def real_layer(layer: dict, x):
    """The layer as torch.nn has it."""
    op, dims, channels = layer["op"], x.dim() - 2, x.shape[1]
    if op == "conv":
        pad = "same" if layer["p"] == "same" else layer["p"]
        return ones(CONV[dims](channels, channels, layer["k"], stride=layer["s"], padding=pad, dilation=layer["d"], bias=False))(x)
    if op == "convT":
        return ones(CONVT[dims](channels, channels, layer["k"], stride=layer["s"], padding=layer["p"],
                                output_padding=layer["outpad"], dilation=layer["d"], bias=False))(x)
    if op == "avgpool":
        return AVG[dims](layer["k"], layer["s"], layer["p"], ceil_mode=layer["ceil"])(x)
    if op == "maxpool":
        pool = MAX[dims](layer["k"], layer["s"], layer["p"], dilation=layer["d"], ceil_mode=layer["ceil"])
        if not layer.get("windows"):
            return pool(x)
        return window_sum(x, layer, pool(x.detach()).shape[2:])
    if op == "upsample":
        mode = layer["mode"] if layer["mode"] == "nearest" else LINEAR[dims]
        return nn.Upsample(size=layer["size"], scale_factor=layer["scale"], mode=mode,
                           align_corners=None if mode == "nearest" else layer["align"])(x)
    if op == "adaptive":
        return ADAPTIVE[dims](layer["size"])(x)
    if op == "crop":
        return crop(x, layer["size"])
    if op == "fc":
        return ones(nn.Linear(x[0].numel(), 3, bias=False))(x.flatten(1))
    raise AssertionError(op)


def window_sum(x, layer, out, leaves=None):
    """Max pooling's windows (see the module docstring), summed: a depthwise conv of ones with the
    pooling's kernel, stride, dilation and padding, padded on the right as far as the last window
    of ceil mode reaches; `out`: the pooling's own output size, from nn.MaxPool."""
    dims, channels = x.dim() - 2, x.shape[1]
    pads = [(p, p + max(0, (o - 1) * s + d * (k - 1) + 1 - (n + 2 * p)))
            for n, k, s, p, d, o in zip(x.shape[2:], layer["k"], layer["s"], layer["p"], layer["d"], out)]
    x = F.pad(x, [v for pair in reversed(pads) for v in pair]) if leaves is None else padded(x, pads, leaves)
    w = torch.ones((channels, 1, *layer["k"]), dtype=DTYPE)
    y = getattr(F, f"conv{dims}d")(x, w, stride=layer["s"], dilation=layer["d"], groups=channels)
    return window_at(y, [0] * dims, out)


def padded(x, pads, leaves, replicate=False):
    """x with explicit padding along each spatial axis: leaf tensors of zeros (added to the edge
    values with `replicate`), so that a gradient reaching a leaf shows that the padding was read."""
    for axis, (before, after) in enumerate(pads, 2):
        parts = []
        for width, edge in ((before, 0), (None, None), (after, x.shape[axis] - 1)):
            if width is None:
                parts.append(x)
                continue
            if width == 0:
                continue
            shape = list(x.shape)
            shape[axis] = width
            leaf = torch.zeros(shape, dtype=DTYPE, requires_grad=True)
            leaves.append(leaf)
            parts.append(leaf + x.narrow(axis, edge, 1) if replicate else leaf)
        x = torch.cat(parts, axis)
    return x


def window_at(x, starts, sizes):
    for axis, (a, s) in enumerate(zip(starts, sizes), 2):
        x = x.narrow(axis, a, s)
    return x


def detector_layer(layer: dict, x, out_shape, leaves):
    """The same layer with its padding explicit (see the module docstring); out_shape: the real
    layer's output shape."""
    op, dims, channels = layer["op"], x.dim() - 2, x.shape[1]
    out = out_shape[2:]
    if op == "conv":
        if layer["p"] == "same":
            pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(layer["k"], layer["d"])]
        else:
            pads = [(p, p) for p in layer["p"]]
        x = padded(x, pads, leaves)
        w = torch.ones((channels, channels, *layer["k"]), dtype=DTYPE)
        return getattr(F, f"conv{dims}d")(x, w, stride=layer["s"], dilation=layer["d"])
    if op == "convT":
        extra = [-(-(d * (k - 1) + o) // s) + 1 for k, s, d, o in zip(layer["k"], layer["s"], layer["d"], layer["outpad"])]
        x = padded(x, [(e, e) for e in extra], leaves)
        w = torch.ones((channels, channels, *layer["k"]), dtype=DTYPE)
        y = getattr(F, f"conv_transpose{dims}d")(x, w, stride=layer["s"], dilation=layer["d"])
        return window_at(y, [p + e * s for p, e, s in zip(layer["p"], extra, layer["s"])], out)
    if op == "maxpool":
        return window_sum(x, layer, out, leaves)
    if op == "avgpool":
        pads = [(p, p + max(0, (o - 1) * s + k - (n + 2 * p)))
                for n, k, s, p, o in zip(x.shape[2:], layer["k"], layer["s"], layer["p"], out)]
        y = getattr(F, f"avg_pool{dims}d")(padded(x, pads, leaves), layer["k"], layer["s"])
        return window_at(y, [0] * dims, out)
    if op == "upsample" and layer["mode"] != "nearest" and not layer["align"]:
        # src = (o + 1/2)*n/m - 1/2 reads floor(src) and the next position, clamped at the edges;
        # extending the input by n/g positions each side (m/g outputs) keeps the ratio n/m
        ns, ms = x.shape[2:], out
        extra = [1 if layer["scale"] else n // gcd(n, m) for n, m in zip(ns, ms)]
        x = padded(x, [(e, e) for e in extra], leaves, replicate=True)
        if layer["scale"]:
            y = F.interpolate(x, scale_factor=layer["scale"], mode=LINEAR[dims], align_corners=False)
        else:
            y = F.interpolate(x, size=[m + 2 * e * m // n for n, m, e in zip(ns, ms, extra)], mode=LINEAR[dims], align_corners=False)
        return window_at(y, [e * m // n for n, m, e in zip(ns, ms, extra)], out)
    return real_layer(layer, x)  # nearest and align_corners upsampling, adaptive pooling, crop: no borders


def run_network(items: list, x, leaves, det=None):
    """(real output, detector output) of the chain on x (the detector's own input: `det`)."""
    real, det = x, x.detach() if det is None else det
    for item in items:
        if item["op"] in ("add", "concat"):
            outs = [run_network(branch, real, leaves, det) for branch in item["branches"]]
            merge = (lambda a, b: a + b) if item["op"] == "add" else (lambda a, b: torch.cat([a, b], 1))
            real, det = merge(outs[0][0], outs[1][0]), merge(outs[0][1], outs[1][1])
        else:
            y = real_layer(item, real)
            det = detector_layer(item, det, y.shape, leaves)
            assert det.shape == y.shape, (item, det.shape, y.shape)
            real = y
    return real, det


# ---- autograd against the pass --------------------------------------------------------------------

def measured(x, y, det=None, leaves=(), positions=None, floor=0.0):
    """{output position: (per-dimension (first, last) input index with a nonzero gradient (above
    `floor`), or None where it depends on nothing; whether the detector's padding was read)}."""
    results = {}
    for pos in positions if positions is not None else itertools.product(*map(range, y.shape[2:])):
        index = (0, slice(None)) + tuple(pos)
        target = y[index].sum() + (det[index].sum() if det is not None else 0)
        grads = torch.autograd.grad(target, [x, *leaves], retain_graph=True, allow_unused=True)
        border = any(g is not None and bool(g.ne(0).any()) for g in grads[1:])
        reached = grads[0][0].abs().gt(floor).any(0)  # over channels: one flag per input position
        if not reached.any():
            results[pos] = (None, border)
            continue
        spans = []
        for axis in range(reached.dim()):
            other = tuple(a for a in range(reached.dim()) if a != axis)
            hits = (reached.any(other) if other else reached).nonzero().flatten()
            spans.append((hits[0].item(), hits[-1].item()))
        results[pos] = (tuple(spans), border)
    return results


def compare(field, results, in_sizes, where="", inside_only=False):
    """Every position no border touches: the predicted intervals are the measured ones. Returns how
    many positions were compared. The reported size is the widest measured extent where the
    positions compared cover every phase of the maps, at least it otherwise; the jump is checked
    on positions a period apart. `inside_only`: compare only the positions whose predicted region
    lies inside the input (enough for one layer, where only the input's border can cut)."""
    dims = len(in_sizes)
    compared, widest = 0, [0] * dims
    phases = [set() for _ in range(dims)]
    firsts = {}
    for pos, (spans, border) in results.items():
        pos = pos or (0,) * dims  # a flat output: one position
        predicted = tuple(rf.interval(m, o) for m, o in zip(field, pos))
        if border or inside_only and not all(p and 0 <= p[0] and p[1] < n for p, n in zip(predicted, in_sizes)):
            continue
        compared += 1
        if spans is None:
            assert None in predicted or not rf.is_exact(field), f"{where}: output {pos} depends on nothing, predicted {predicted}"
            continue
        assert None not in predicted, f"{where}: output {pos} depends on {spans}, predicted nothing"
        for d, (got, want) in enumerate(zip(spans, predicted)):
            if rf.is_exact(field):
                assert got == want, f"{where}: output {pos}, dimension {d}: depends on {got}, predicted {want}"
                assert 0 <= want[0] and want[1] < in_sizes[d], f"{where}: output {pos} reads no border, predicted {want}"
            else:
                assert want[0] <= got[0] and got[1] <= want[1], f"{where}: output {pos}: {got} outside the bound {want}"
            widest[d] = max(widest[d], got[1] - got[0] + 1)
            phases[d].add(pos[d] % field[d][0] if field[d][0] else 0)
            firsts[pos] = [s[0] for s in spans]
    sizes = rf.rf_sizes(field)
    for d in range(dims):
        P, D = field[d][0], field[d][1]
        if not P:
            assert widest[d] <= sizes[d], f"{where}: dimension {d}: measured {widest[d]} above the bound {sizes[d]}"
            continue
        every = {i for i in range(P) if field[d][2][i] is not None}
        if every <= phases[d]:
            assert widest[d] == sizes[d], f"{where}: dimension {d}: widest measured {widest[d]}, reported {sizes[d]}"
        else:
            assert widest[d] <= sizes[d], f"{where}: dimension {d}: widest measured {widest[d]}, reported {sizes[d]}"
        for pos, first in firsts.items():
            later = pos[:d] + (pos[d] + P,) + pos[d + 1:]
            if later in firsts:
                assert firsts[later][d] - first[d] == D, f"{where}: outputs {pos} and {later}: not {D} apart"
    return compared


def check_chain(shape: tuple, items: list):
    spec = spec_text(shape, items)
    note(spec)
    field, row = field_of(spec)
    x = (torch.rand((1, *shape), dtype=DTYPE) + 0.5).requires_grad_()
    leaves: list = []
    y, det = run_network(items, x, leaves)
    assert tuple(y.shape[1:]) == row.output_shape, f"the torch network gives {tuple(y.shape[1:])}, archdsl {row.output_shape}"
    assert tuple(rf.rf_sizes(field)) == row.receptive_field[0]
    assert tuple(rf.rf_strides(field)) == row.receptive_field[1]
    compared = compare(field, measured(x, y, det, leaves), shape[1:], where=spec)
    note(f"{compared} of {y[0, 0].numel()} outputs compared; maps {field}")
    return compared


# ---- random chains -----------------------------------------------------------------------------------

def power_of_two(q: int) -> bool:
    return q & (q - 1) == 0


def exact_in_float(n: int, m: int, align: bool) -> bool:
    """Linear upsampling n -> m whose source positions float64 computes exactly."""
    if align:
        return m == 1 or n == 1 or power_of_two((m - 1) // gcd(n - 1, m - 1))
    return power_of_two(m // gcd(n, m))


def nearest_backward(n: int, m: int, f: int | None) -> list[int]:
    """Where PyTorch's nearest upsampling (n to m positions, or by a scale f) sends the gradient of
    each output: it computes the index in float32 even for float64 tensors, whose forward pass uses
    float64 (62 to 118: output 59 is input 31, its gradient goes to 30)."""
    scale = torch.tensor(1.0 / f, dtype=torch.float32) if f else torch.tensor(n, dtype=torch.float32) / m
    return (torch.arange(m, dtype=torch.float32) * scale).floor().long().clamp(max=n - 1).tolist()


def nearest_exact(n: int, m: int, f: int | None) -> bool:
    return nearest_backward(n, m, f) == [o * n // m for o in range(m)]


def per_dim(draw, dims, strategy):
    values = draw(st.lists(strategy, min_size=dims, max_size=dims))
    return tuple(values) if draw(st.booleans()) else (values[0],) * dims


@st.composite
def layers(draw, shape: tuple, stride_one: bool = False):
    """One layer for an input of `shape`, or None where PyTorch refuses it or it grows too large."""
    dims, sizes = len(shape) - 1, shape[1:]
    op = draw(st.sampled_from(["conv", "conv", "avgpool", "maxpool", "convT", "convT", "upsample", "crop", "adaptive"]
                              if not stride_one else ["conv", "avgpool", "maxpool", "convT", "crop"]))
    strides = st.just(1) if stride_one else st.integers(1, 3)
    if op == "conv":
        k, d, s = per_dim(draw, dims, st.integers(1, 4)), per_dim(draw, dims, st.integers(1, 3)), per_dim(draw, dims, strides)
        if all(v == 1 for v in s) and draw(st.booleans()):
            layer = {"op": op, "k": k, "s": s, "d": d, "p": "same"}
        else:
            layer = {"op": op, "k": k, "s": s, "d": d,
                     "p": tuple(draw(st.integers(0, dd * (kk - 1))) for kk, dd in zip(k, d))}
    elif op == "avgpool":
        k, s = per_dim(draw, dims, st.integers(1, 4)), per_dim(draw, dims, strides)
        layer = {"op": op, "k": k, "s": s, "p": tuple(draw(st.integers(0, kk // 2)) for kk in k), "ceil": draw(st.booleans())}
    elif op == "maxpool":
        k, d, s = per_dim(draw, dims, st.integers(1, 4)), per_dim(draw, dims, st.integers(1, 3)), per_dim(draw, dims, strides)
        layer = {"op": op, "k": k, "s": s, "d": d, "p": tuple(draw(st.integers(0, kk // 2)) for kk in k),
                 "ceil": draw(st.booleans()), "windows": True}
    elif op == "convT":
        k, d, s = per_dim(draw, dims, st.integers(1, 4)), per_dim(draw, dims, st.integers(1, 2)), per_dim(draw, dims, strides)
        layer = {"op": op, "k": k, "s": s, "d": d,
                 "p": tuple(draw(st.integers(0, dd * (kk - 1) + 1)) for kk, dd in zip(k, d)),
                 "outpad": tuple(draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))}
    elif op == "upsample":
        mode = draw(st.sampled_from(["nearest", "linear"]))
        align = mode == "linear" and draw(st.booleans())
        if draw(st.booleans()):
            scale = per_dim(draw, dims, st.integers(1, 3) if mode == "nearest" else st.sampled_from([1, 2, 4]))
            out = tuple(n * f for n, f in zip(sizes, scale))
            size = None
        else:
            scale = None
            out = size = per_dim(draw, dims, st.integers(max(1, min(sizes) // 2), 2 * max(sizes) + 2))
        if mode == "linear" and not all(exact_in_float(n, m, align) for n, m in zip(sizes, out)):
            return None
        if mode == "nearest" and not all(nearest_exact(n, m, f) for n, m, f in zip(sizes, out, scale or (None,) * dims)):
            return None
        layer = {"op": op, "mode": mode if mode == "nearest" else LINEAR[dims], "align": align, "scale": scale, "size": size}
    elif op == "crop":
        layer = {"op": op, "size": tuple(draw(st.integers(max(1, n - 6), n)) for n in sizes)}
    else:
        layer = {"op": op, "size": tuple(draw(st.integers(1, n + 3)) for n in sizes)}
    return layer


def output_shape(layer: dict, shape: tuple):
    try:
        with torch.no_grad():
            y = real_layer(layer, torch.zeros((1, *shape), dtype=DTYPE))
    except (RuntimeError, ValueError):
        return None
    return tuple(y.shape[1:]) if y.numel() else None


@st.composite
def chains(draw, dims: int, max_items: int, merges: bool = True):
    side = {1: (20, 64), 2: (8, 16)}[dims]
    limit = {1: 200, 2: 24}[dims]
    shape = (draw(st.integers(1, 2)),) + tuple(draw(st.integers(*side)) for _ in range(dims))
    start, items = shape, []
    for _ in range(draw(st.integers(1, max_items))):
        if merges and draw(st.integers(0, 3)) == 0:
            branches, shapes = [], []
            for _ in range(2):
                branch, s = [], shape
                for _ in range(draw(st.integers(0, 2))):
                    layer = draw(layers(s, stride_one=True))
                    t = output_shape(layer, s) if layer else None
                    if t:
                        branch.append(layer)
                        s = t
                branches.append(branch)
                shapes.append(s)
            smallest = tuple(min(a, b) for a, b in zip(shapes[0][1:], shapes[1][1:]))
            for branch, s in zip(branches, shapes):
                if s[1:] != smallest:
                    branch.append({"op": "crop", "size": smallest})
            kind = draw(st.sampled_from(["add", "concat"]))
            if kind == "concat" and shape[0] > 2:
                kind = "add"
            items.append({"op": kind, "branches": branches})
            shape = (shape[0] * (2 if kind == "concat" else 1),) + smallest
            continue
        layer = draw(layers(shape))
        t = output_shape(layer, shape) if layer else None
        if t and max(t[1:]) <= limit:
            items.append(layer)
            shape = t
    if draw(st.integers(0, 5)) == 0:
        items.append({"op": "fc"})  # mixes every position; nothing spatial after it
    return start, items


# ---- the tests --------------------------------------------------------------------------------------

@SETTINGS
@given(chains(dims=1, max_items=5))
def test_chains_1d(chain):
    check_chain(*chain)


@SETTINGS
@given(chains(dims=2, max_items=3))
def test_chains_2d(chain):
    check_chain(*chain)


# ---- fixed chains (1D layers written out) ------------------------------------------------------------

def upsample(scale=None, size=None, mode="nearest", align=False):
    return {"op": "upsample", "mode": mode, "align": align, "scale": scale, "size": size}


def conv(k, s=1, p=0, d=1):
    return {"op": "conv", "k": (k,), "s": (s,), "p": (p,), "d": (d,)}


def convT(k, s=1, p=0, outpad=0, d=1):
    return {"op": "convT", "k": (k,), "s": (s,), "p": (p,), "outpad": (outpad,), "d": (d,)}


def maxpool(k, s=1, p=0, d=1, ceil=False):
    return {"op": "maxpool", "k": (k,), "s": (s,), "p": (p,), "d": (d,), "ceil": ceil, "windows": True}


FIXED = {
    # taps of a dilated window that all fall between the taps of a transposed conv: odd outputs
    # depend on nothing (a contiguous window would reach the even ones)
    "dilated window on a phase map": [convT(1, s=2), maxpool(2, d=2)],
    "dilated window, stride 3": [convT(2, s=3), maxpool(3, s=2, d=3), {"op": "avgpool", "k": (2,), "s": (3,), "p": (1,), "ceil": True}],
    # stride 3, dilation 2: which input an output reads jumps back and forth (o = 3, 4 read 1, 0)
    "transposed conv, stride 3, dilation 2": [convT(3, s=3, d=2, p=1), conv(2, d=2), conv(3, s=2)],
    # downsampling 24 -> 8 linearly: src = 3*o + 1 is whole, only that position counts
    "whole source positions": [upsample(size=(8,), mode="linear"), upsample(scale=(2,), mode="linear")],
    "align_corners": [upsample(size=(33,), mode="linear", align=True), conv(3), upsample(size=(9,), mode="linear", align=True)],
    # the crop shifts the skip branch by (n - size)//2 against the unpadded conv
    "crop in a merge": [upsample(scale=(2,)), {"op": "concat", "branches": [[conv(3)], [{"op": "crop", "size": (46,)}]]}, conv(2, s=2)],
    "even kernels, pad=same": [{"op": "conv", "k": (4,), "s": (1,), "d": (1,), "p": "same"}, upsample(scale=(3,)),
                               {"op": "conv", "k": (2,), "s": (1,), "d": (3,), "p": "same"}, conv(2, s=3)],
    "fc after a phase map": [convT(3, s=2, p=1), upsample(scale=(3,)), {"op": "fc"}],
    "flat branches of different jumps": [upsample(scale=(2,)), {"op": "add", "branches": [[{"op": "fc"}], [conv(3, s=3), {"op": "fc"}]]}],
    "adaptive pooling up and down": [{"op": "adaptive", "size": (37,)}, conv(2), {"op": "adaptive", "size": (10,)}],
}


@pytest.mark.parametrize("name", FIXED)
def test_fixed_chains(name):
    """Chains that the random search reaches only now and then."""
    assert check_chain((1, 24), FIXED[name]) > (0 if FIXED[name][-1]["op"] in ("fc", "add") else 5)


def test_upsampling_to_one_position():
    """align_corners to one output: src = 0 for every output (PyTorch's scale is 0), stride 0."""
    items = [upsample(scale=(2,)), upsample(size=(1,), mode="linear", align=True)]
    field, row = field_of(spec_text((1, 20), items))
    assert row.receptive_field == ((1,), (0,))
    assert check_chain((1, 20), items) == 1


@pytest.mark.slow
@SLOW
@given(chains(dims=1, max_items=10))
def test_deep_chains_1d(chain):
    check_chain(*chain)


@pytest.mark.slow
@SLOW
@given(chains(dims=2, max_items=6))
def test_deep_chains_2d(chain):
    check_chain(*chain)


@SETTINGS
@given(st.data())
def test_max_pooling_windows(data):
    """Max pooling's own windows (dilation, ceil mode): on an increasing ramp the gradient of an
    output reaches the last position of its window, on a decreasing one the first."""
    dims = data.draw(st.integers(1, 2))
    sizes = tuple(data.draw(st.integers(4, 24 if dims == 1 else 12)) for _ in range(dims))
    k = per_dim(data.draw, dims, st.integers(1, 4))
    layer = {"op": "maxpool", "k": k, "s": per_dim(data.draw, dims, st.integers(1, 3)),
             "d": per_dim(data.draw, dims, st.integers(1, 3)),
             "p": tuple(data.draw(st.integers(0, kk // 2)) for kk in k), "ceil": data.draw(st.booleans())}
    shape = (1,) + sizes
    out = output_shape(layer, shape)
    if out is None:
        return
    spec = spec_text(shape, [layer])
    note(spec)
    field, row = field_of(spec)
    assert row.output_shape == out
    compared = 0
    for sign in (1, -1):
        x = (sign * torch.arange(torch.Size(sizes).numel(), dtype=DTYPE)).reshape(1, 1, *sizes).requires_grad_()
        y = real_layer(layer, x)
        for pos in itertools.product(*map(range, out[1:])):
            predicted = [rf.interval(m, o) for m, o in zip(field, pos)]
            if not all(0 <= a and b < n for (a, b), n in zip(predicted, sizes)):
                continue  # a window that reaches into the padding or past the end
            (g,) = torch.autograd.grad(y[(0, 0) + pos], x, retain_graph=True)
            hit = tuple(v.item() for v in g[0, 0].nonzero()[0])
            assert hit == tuple(b if sign > 0 else a for a, b in predicted), f"output {pos}: {hit}, window {predicted}"
            compared += 1
    note(f"{compared} windows compared")


@SETTINGS
@given(st.data())
def test_single_upsampling_any_ratio(data):
    """One upsampling layer of any ratio, where floating point leaves residues up to 4e-15 for
    weights that are 0 (see the module docstring); real weights are at least 1/(2m)."""
    dims = data.draw(st.integers(1, 2))
    sizes = tuple(data.draw(st.integers(1, 30 if dims == 1 else 9)) for _ in range(dims))
    mode = data.draw(st.sampled_from(["nearest", LINEAR[dims]]))
    if data.draw(st.booleans()):
        scale, size = per_dim(data.draw, dims, st.integers(1, 5)), None
    else:
        scale, size = None, tuple(data.draw(st.integers(1, 3 * n + 2)) for n in sizes)
    layer = {"op": "upsample", "mode": mode, "align": mode != "nearest" and data.draw(st.booleans()),
             "scale": scale, "size": size}
    shape = (1,) + sizes
    spec = spec_text(shape, [layer])
    note(spec)
    field, row = field_of(spec)
    x = (torch.rand((1, *shape), dtype=DTYPE) + 0.5).requires_grad_()
    y = real_layer(layer, x)
    assert tuple(y.shape[1:]) == row.output_shape
    results = measured(x, y, floor=1e-9)
    if mode == "nearest":  # leave out the outputs whose gradient PyTorch sends one position lower
        backward = [nearest_backward(n, m, f) for n, m, f in zip(sizes, y.shape[2:], scale or (None,) * dims)]
        odd = [{o for o, i in enumerate(b) if i != o * n // len(b)} for b, n in zip(backward, sizes)]
        for pos in [pos for pos in results if any(o in skip for o, skip in zip(pos, odd))]:
            spans, _ = results.pop(pos)
            assert all(span == (b[o], b[o]) for span, b, o in zip(spans, backward, pos))
    compare(field, results, sizes, where=spec, inside_only=True)


def test_nearest_gradient_in_float32():
    """PyTorch's nearest upsampling: the value of output 59 of 118 (from 62) is input 31 (59*62/118
    = 31 exactly, computed in float64), but its gradient goes to input 30 (the index in float32).
    The pass follows the arithmetic: 31."""
    field, _ = field_of("input 62x1\nupsample size=118\n")
    assert rf.interval(field[0], 59) == (31, 31)
    x = torch.arange(62, dtype=DTYPE).reshape(1, 1, 62).requires_grad_()
    y = F.interpolate(x, size=118, mode="nearest")
    assert y[0, 0, 59].item() == 31
    (g,) = torch.autograd.grad(y[0, 0, 59], x)
    assert g[0, 0].nonzero().flatten().tolist() == [30] == nearest_backward(62, 118, None)[59:60]


def test_reproducer_of_issue_7():
    """Average pooling, then two stride-2 transposed convs: the recurrence said 3, outputs of one
    phase depend on 4 rows (and columns)."""
    spec = "input 64x64x2\navgpool 2\nconvT 2 2 /2\nconvT 2 3 /2\n"
    field, row = field_of(spec)
    assert row.receptive_field == ((4, 4), (0.5, 0.5))
    items = [{"op": "avgpool", "k": (2, 2), "s": (2, 2), "p": (0, 0), "ceil": False},
             {"op": "convT", "k": (2, 2), "s": (2, 2), "d": (1, 1), "p": (0, 0), "outpad": (0, 0)},
             {"op": "convT", "k": (3, 3), "s": (2, 2), "d": (1, 1), "p": (0, 0), "outpad": (0, 0)}]
    assert field_of(spec_text((2, 64, 64), items))[0] == field
    x = (torch.rand((1, 2, 64, 64), dtype=DTYPE) + 0.5).requires_grad_()
    y, _ = run_network(items, x, [])
    centre = range(60, 68)  # two periods of the map (4 outputs) in each dimension
    results = measured(x, y, positions=itertools.product(centre, centre))
    assert compare(field, results, (64, 64)) == 64
    assert max(spans[0][1] - spans[0][0] + 1 for spans, _ in results.values()) == 4


def unet_1d_spec() -> str:
    """specs/unet.arch in 1D: the same layers with every size written once (3x3 -> 3)."""
    text = (SPECS / "unet.arch").read_text().replace("input 572x572x1", "input 572x1")
    return re.sub(r"(?<![\dx])(\d+)x\1(?!\d)", r"\1", text)


def unet(x, dims: int):
    """U-Net (Ronneberger et al. 2015, Fig. 1) with one channel, by hand: unpadded 3-convs, 2-pools
    (average pooling: max pooling's windows), 2-up-convs of stride 2, each concatenated with the
    centre crop of the encoder map of its level, a 1-conv head. Returns the output of every level,
    by the spec's names."""
    def conv(x, k=3):
        return ones(CONV[dims](x.shape[1], 1, k, bias=False))(x)

    def double(x):
        return conv(conv(x))

    levels, skips = {}, []
    for name in ("enc1", "enc2", "enc3", "enc4"):
        x = levels[name] = double(x)
        skips.append(x)
        x = AVG[dims](2)(x)
    x = levels["bottom"] = double(x)
    for name, skip in zip(("dec4", "dec3", "dec2", "dec1"), reversed(skips)):
        up = ones(CONVT[dims](1, 1, 2, stride=2, bias=False))(x)
        x = levels[name] = double(torch.cat([crop(skip, up.shape[2:]), up], 1))
    levels["head"] = conv(x, 1)
    return levels


def test_unet_receptive_field():
    """U-Net's output depends on 204x204 input pixels (the recurrence said 200x200): outputs of
    different phases of the four up-convolutions see regions of 188 or 204 positions per dimension
    (a map of period 16). Checked by autograd on every output of a 1D U-Net with one channel, whose
    per-dimension map is the same."""
    field, row = field_of((SPECS / "unet.arch").read_text())
    assert row.receptive_field == ((204, 204), (1, 1))
    field_1d, row_1d = field_of(unet_1d_spec())
    assert row_1d.output_shape == (2, 388)
    assert field_1d[0] == field[0] == field[1]
    assert field[0][0] == 16  # the period: four stride-2 up-convolutions
    x = (torch.rand((1, 1, 572), dtype=DTYPE) + 0.5).requires_grad_()
    levels = unet(x, 1)
    nodes = {node.name: node for node in archdsl.load(unet_1d_spec()).analysed().nodes}
    for name, y in levels.items():  # the last layer of each level: its second conv, or the head
        node = nodes[{"head": "head", "enc1": "enc1.2"}.get(name) or f"{name}.{2 if name.startswith('dec') else 1}.2"]
        assert tuple(y.shape[2:]) == node.shape[1:]
        results = measured(x, y)
        assert compare(node.rf, results, (572,), where=name) == y.shape[2]  # no padding: no border cuts
    extents = {spans[0][1] - spans[0][0] + 1 for spans, _ in results.values()}
    assert extents == {188, 204}


def test_unet_2d_central_outputs():
    """The same on the real 2D U-Net (one channel, 572x572): 16 central outputs along the diagonal,
    one of each phase in both dimensions."""
    field, _ = field_of((SPECS / "unet.arch").read_text())
    x = (torch.rand((1, 1, 572, 572), dtype=DTYPE) + 0.5).requires_grad_()
    y = unet(x, 2)["head"]
    results = measured(x, y, positions=[(o, o) for o in range(186, 202)])
    assert compare(field, results, (572, 572)) == 16
    assert max(spans[0][1] - spans[0][0] + 1 for spans, _ in results.values()) == 204


# ---- bounds -------------------------------------------------------------------------------------

def test_bound_when_the_pattern_is_too_long(monkeypatch):
    """Past MAX_PERIOD outputs (here 2) a dimension becomes a bound: every output's region inside it."""
    monkeypatch.setattr(rf, "MAX_PERIOD", 2)
    items = [upsample(scale=(3,)), conv(3, p=1), upsample(size=(70,), mode="linear"), conv(2, s=2)]
    field, row = field_of(spec_text((1, 24), items))
    assert not rf.is_exact(field)
    assert check_chain((1, 24), items) > 20


def test_bound_when_the_work_is_spent(monkeypatch):
    monkeypatch.setattr(rf, "WORK", 10)
    items = [upsample(scale=(2,), mode="linear"), conv(3, p=1, d=2), upsample(scale=(2,)), conv(3)]
    field, row = field_of(spec_text((1, 24), items))
    assert not rf.is_exact(field)
    assert check_chain((1, 24), items) > 20


def test_bound_for_branches_of_different_jumps():
    """A stride-3 conv upsampled back to 10 positions (jump 6/5), added to its input (jump 1): their
    union repeats with no period."""
    items = [{"op": "add", "branches": [[conv(1, s=3), upsample(size=(10,))], []]}]
    field, row = field_of(spec_text((1, 10), items))
    assert not rf.is_exact(field) and row.receptive_field == ((3,), (1.2,))
    assert check_chain((1, 10), items) == 10


@pytest.mark.parametrize("spec, size", [
    ("input 3x1\nupsample size=999999937\n", 1),  # nearest: a pattern of 999,999,937 outputs
    ("input 3x1\nupsample size=999999937 mode=linear\n", 2),
    ("input 2x1\nconvT 1 3 /1000000\n", 1),  # each output reads one input, or none
    # a bound from the upsampling on: the whole input and one position past each end, which the
    # first and last outputs of a linear upsampling read (src < 0, src > n - 1)
    ("input 16x1\nupsample size=999999937 mode=linear\nconv 1 3\nmaxpool 2\ngap\n", 18),
])
def test_long_patterns_are_quick(spec, size):
    """Patterns too long to follow (limits.py allows sizes and strides up to 10^9) become bounds at
    once: no analysis runs long."""
    field, row = field_of(spec)
    assert row.receptive_field[0] == (size,)


# ---- Swin's windows --------------------------------------------------------------------------------

@pytest.mark.parametrize("size, window, shift, v2", [((8, 8), 4, 2, False), ((7, 10), 3, 1, False), ((6, 6), 4, 2, True),
                                                     ((5, 9), (2, 4), (1, 2), True), ((7, 7), 7, 3, False)])
def test_window_attention_reads_its_window(size, window, shift, v2):
    """Output o of a shifted-window attention depends on the window it falls in (the windows start
    at shift + j*k; the mask keeps the rolled-over part of the last window apart) and nothing else,
    and patch merging's output o on 2o and 2o + 1. Measured with autograd on archdsl's layers
    (tests/test_build.py checks them against torchvision's logits), random weights, float64: the
    mask adds -100 to the attention logits between regions, so weights of about e^-100 remain,
    which count as zero here (below 1e-20 of the largest gradient). Borders clip the windows."""
    from archdsl.backends.layers import PatchMerging, WindowAttention

    h, w = size
    ws = (window,) * 2 if isinstance(window, int) else window
    sh = (shift,) * 2 if isinstance(shift, int) else shift
    spec = (f"input {h}x{w}x4\npermute 0 2 3 1\nwindow_attention 2 {'x'.join(map(str, ws))} "
            f"shift={'x'.join(map(str, sh))}{' v2' if v2 else ''}\npatch_merging\n")
    nodes = archdsl.load(spec).analysed().nodes
    torch.manual_seed(0)
    attention = WindowAttention(4, ws, sh, 2, v2).to(DTYPE)
    merging = PatchMerging(4).to(DTYPE)
    with torch.no_grad():
        for p in (*attention.parameters(), *merging.parameters()):
            p.normal_()
    x = torch.randn((1, 4, h, w), dtype=DTYPE, requires_grad=True)
    a = attention(x.permute(0, 2, 3, 1))
    for node, y in ((nodes[2], a), (nodes[3], merging(a))):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                (grad,) = torch.autograd.grad(y[0, i, j].sum(), x, retain_graph=True)
                g = grad[0].abs().sum(0)
                rows = (g > 1e-20 * g.max()).nonzero()
                got = [(int(rows[:, d].min()), int(rows[:, d].max())) for d in (0, 1)]
                want = [rf.interval(m, o) for m, o in zip(node.rf, (i, j))]
                want = [(max(lo, 0), min(hi, n - 1)) for (lo, hi), n in zip(want, size)]
                assert got == want, f"{node.name} output {(i, j)}: reads {got}, the analysis says {want}\n{spec}"


def test_attention_reads_the_whole_input():
    """A ViT in small (8x8 patches of a 24x32 image, a class token, one attention): before the
    attention a token's output depends on its own patch, after it on every pixel; autograd on
    the built module says so (one token's gradient with respect to the image)."""
    text = ("input 24x32x3\nconv_proj: conv 8 8 /8\ntokens\nclass_token: class_token\npos: pos_embedding\n"
            "ln: layernorm dims=1\nmix: attention 2\npick: select 3\nhead: fc 3\n")
    net = archdsl.load(text)
    rows = {r.name: r.receptive_field for r in net.analyze().layers}
    assert rows["ln"] == ((8, 8), (8, 8)) and rows["mix"] == rows["head"] == ((24, 32), (24, 32))
    module = net.build().double().eval()
    for upto, size in (("ln", (8, 8)), ("head", (24, 32))):
        x = torch.randn(1, 3, 24, 32, dtype=torch.float64, requires_grad=True)
        y = {}
        handle = module.get_submodule(upto).register_forward_hook(lambda m, a, out: y.setdefault("out", out))
        module(x)
        handle.remove()
        out = y["out"]
        picked = out[0, 3] if upto == "ln" else out[0]  # token 3: the third patch (after the class token)
        (picked * torch.randn(picked.shape, dtype=torch.float64)).sum().backward()  # a LayerNorm's sum is constant
        touched = x.grad.abs().sum(1)[0].nonzero()
        extent = tuple(int(touched[:, d].max() - touched[:, d].min()) + 1 for d in (0, 1))
        assert extent == size, upto
