"""Parameters, FLOPs, MACs, trainable parameters and activations against PyTorch itself.

Each example is a random program: a list of layer descriptions (plain dicts). The same description
is rendered twice, independently: as archdsl spec text, and as a hand-built torch module
(`nn.Conv2d(...)` from the same numbers; nothing is taken from archdsl's internals). The torch
side is then measured:

- params: sum of `p.numel()` over the module's parameters (per layer and in total);
- trainable params: the same over parameters with `requires_grad`, after setting it to False on
  the modules the spec freezes (`freeze l0, l3_1_0`), by hand;
- FLOPs: `torch.utils.flop_counter.FlopCounterMode` around each layer's forward (per layer) and
  around the whole forward (total), at batch 1 and 2 (`net.analyze(batch=B)`); MACs = FLOPs / 2;
- activations: `AllocationCounter` below, a `TorchDispatchMode` over an eval, no-grad forward with
  in-place activations (`nn.ReLU(inplace=True)` ...) on the CPU. It counts the network input plus,
  for every aten op the forward runs, the elements of the op's first (primary) result when that
  result lives in a storage that did not exist before the op: views (flatten, `t`), in-place ops
  (`relu_`), ops that return their input (identity, eval dropout) and the parameters' own storage
  count nothing, and neither do an op's secondary results (max pooling's indices, the saved
  mean/invstd of batch/layer/group norm) nor empty tensors. Every tensor is kept alive during the
  count so that a freed block cannot be reused and mistaken for an old storage. One layer is
  several aten ops: `nn.LocalResponseNorm` squares, pads, averages and raises its input before
  the division that makes its output; archdsl counts a layer's output (docs/conventions.md: norms
  "create their output"), so for it the counter takes the layer's result and not its temporaries;
  so for `attention` (nn.MultiheadAttention: its projections, q, k, v, scores and softmax are
  temporaries of one layer).
  A dispatch mode also changes one aten path: `aten::linear` on a non-contiguous input (`fc last`
  after a crop's slice) is `mm` then the bias added in place (`add_`), but while any dispatch mode
  is active aten takes the input for a tensor subclass and adds the bias out of place, a second
  tensor a plain forward never makes; the counter runs that layer as the plain forward does
  (`test_linear_on_a_strided_input_adds_its_bias_in_place` checks the premise with torch.profiler).

Two layers have no `torch.nn` class and are written here as plain torch code: maxout
(`x.unflatten(1, (-1, pieces)).amax(2)`) and the centre crop (`narrow` on each spatial dimension).
Swin's shifted-window attention and patch merging are archdsl's own layers (backends/layers.py),
which tests/test_build.py checks against torchvision's logits and whole-network FLOPs; here they
check the analysis' formulas for any window, shift, padding and head count. Like local response
normalisation, each counts its output as its activations (its temporaries are the layer's own).

Conventions kept out of the random programs (documented in docs/conventions.md, not compared):
an in-place activation directly on the network input or on a tensor read by several branches is
counted out of place by archdsl, so the chains never put one there (a single activation layer is
built with `inplace=False`).
"""
from __future__ import annotations

import os
from math import prod

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import note as _note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_leaves  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import archdsl  # noqa: E402
from archdsl.backends.layers import PatchMerging, WindowAttention  # noqa: E402

EXAMPLES = int(os.environ.get("ARCHDSL_ORACLE_EXAMPLES", 150))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def note(text: str) -> None:
    try:
        _note(text)
    except Exception:  # outside a hypothesis test
        pass


pytestmark = pytest.mark.usefixtures("torch_one_thread")


# ---- the oracle: what a forward pass allocates -------------------------------------------------


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


class AllocationCounter(TorchDispatchMode):
    """Elements of the tensors the aten ops of a forward create (see the module docstring)."""

    def __init__(self, existing=()):
        super().__init__()
        self.seen = {_storage(t) for t in existing if t.numel()}
        self.keep = list(existing)
        self.by_layer: dict[str, int] = {}
        self.layer = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for t in tree_leaves((args, kwargs)):
            if isinstance(t, torch.Tensor) and t.numel():
                self.seen.add(_storage(t))
        out = func(*args, **kwargs)
        results = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        first = results[0] if results else None
        if first is not None and first.numel() and _storage(first) not in self.seen and self.layer is not None:
            self.by_layer[self.layer] = self.by_layer.get(self.layer, 0) + first.numel()
        for t in results:
            if t.numel():
                self.seen.add(_storage(t))
        self.keep.extend(results)
        return out


# ---- layer descriptions -> archdsl text and torch modules -------------------------------------


def size_text(values) -> str:
    values = tuple(values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def input_line(shape: tuple) -> str:
    return "input " + ("x".join(map(str, (*shape[1:], shape[0]))) if len(shape) > 1 else str(shape[0]))


def spec_of(d: dict) -> str:
    """One layer as archdsl writes it."""
    kind = d["kind"]
    if kind == "conv":
        return (f"conv {d['c']} {size_text(d['k'])} /{size_text(d['s'])} pad={size_text(d['p'])}"
                f" dilation={size_text(d['d'])} groups={d['g']}" + ("" if d["bias"] else " bias=no"))
    if kind == "convT":
        return (f"convT {d['c']} {size_text(d['k'])} /{size_text(d['s'])} pad={size_text(d['p'])}"
                f" outpad={size_text(d['op'])} dilation={size_text(d['d'])} groups={d['g']}" + ("" if d["bias"] else " bias=no"))
    if kind == "maxpool":
        return f"maxpool {size_text(d['k'])} /{size_text(d['s'])} pad={size_text(d['p'])}" + (" ceil" if d["ceil"] else "")
    if kind == "avgpool":
        return (f"avgpool {size_text(d['k'])} /{size_text(d['s'])} pad={size_text(d['p'])}" + (" ceil" if d["ceil"] else "")
                + ("" if d["count_pad"] else " count_pad=no"))
    if kind == "fc":
        return f"fc {d['f']}" + ("" if d["bias"] else " bias=no") + (" last" if d.get("last") else "")
    if kind == "layernorm":
        return kind + ("" if d.get("affine", True) else " affine=no") + (f" dims={d['dims']}" if d.get("dims") else "")
    if kind == "layernorm2d":
        return kind + ("" if d["affine"] else " affine=no")
    if kind == "scale":
        return f"scale {d['init']}"
    if kind == "permute":
        return "permute " + " ".join(map(str, d["order"]))
    if kind == "attention":
        return f"attention {d['heads']} dropout={d['dropout']}" + ("" if d["bias"] else " bias=no")
    if kind == "select":
        return f"select {d['index']}"
    if kind == "dropout":
        return f"dropout {d['p']}"
    if kind == "stochastic_depth":
        return f"stochastic_depth {d['p']} mode={d['mode']}"
    if kind == "chunk":
        return f"chunk {d['chunks']} {d['index']}"
    if kind == "channel_shuffle":
        return f"channel_shuffle {d['groups']}"
    if kind == "groupnorm":
        return f"groupnorm {d['g']}" + ("" if d["affine"] else " affine=no")
    if kind in ("bn", "layernorm"):
        return kind + ("" if d.get("affine", True) else " affine=no")
    if kind == "prelu":
        return "prelu" + (" channelwise" if d["channelwise"] else "")
    if kind in ("adaptiveavgpool", "adaptivemaxpool"):
        return f"{kind} {size_text(d['size'])}"
    if kind == "upsample":
        how = size_text(d["scale"]) if d["scale"] else f"size={size_text(d['size'])}"
        return f"upsample {how} mode={d['mode']}" + (" align_corners=yes" if d["align_corners"] else "")
    if kind == "leakyrelu":
        return f"leakyrelu {d['slope']}"
    if kind == "elu":
        return f"elu alpha={d['alpha']}"
    if kind == "lrn":
        return f"lrn {d['size']} alpha={d['alpha']} beta={d['beta']} k={d['k']}"
    if kind == "maxout":
        return f"maxout {d['pieces']}"
    if kind == "crop":
        return f"crop {size_text(d['size'])}"
    if kind == "window_attention":
        return (f"window_attention {d['heads']} {size_text(d['window'])} shift={size_text(d['shift'])}"
                + (" v2" if d["v2"] else ""))
    if kind == "patch_merging":
        return "patch_merging" + (" v2" if d["v2"] else "")
    return kind  # relu, relu6, silu, sigmoid, tanh, gelu, softmax, flatten, identity, gap, gmp


def module_of(d: dict, shape: tuple) -> nn.Module:
    """The same layer, built by hand as PyTorch writes it, for an input of `shape` (no batch)."""
    kind, rank, c = d["kind"], len(shape) - 1, shape[0]
    if kind == "conv":
        return (nn.Conv1d, nn.Conv2d, nn.Conv3d)[rank - 1](c, d["c"], d["k"], d["s"], d["p"], d["d"], d["g"], d["bias"])
    if kind == "convT":
        return (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[rank - 1](
            c, d["c"], d["k"], d["s"], d["p"], d["op"], d["g"], d["bias"], d["d"])
    if kind == "maxpool":
        return (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[rank - 1](d["k"], d["s"], d["p"], ceil_mode=d["ceil"])
    if kind == "avgpool":
        return (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[rank - 1](d["k"], d["s"], d["p"], ceil_mode=d["ceil"],
                                                                     count_include_pad=d["count_pad"])
    if kind == "bn":
        return (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[rank](c, affine=d.get("affine", True))
    if kind == "fc":
        if d.get("last"):
            return nn.Linear(shape[-1], d["f"], d["bias"])
        return nn.Sequential(nn.Flatten(), nn.Linear(prod(shape), d["f"], d["bias"]))
    if kind == "layernorm":
        return nn.LayerNorm(list(shape)[len(shape) - (d.get("dims") or len(shape)):], elementwise_affine=d.get("affine", True))
    if kind == "layernorm2d":
        return LayerNorm2d(c, affine=d["affine"])
    if kind == "scale":
        return Scale((c,) + (1,) * rank, d["init"])
    if kind == "permute":
        return Permute(d["order"])
    if kind == "tokens":
        return Tokens()
    if kind == "class_token":
        return ClassToken(shape[-1])
    if kind == "pos_embedding":
        return PosEmbedding(shape)
    if kind == "select":
        return Select(d["index"])
    if kind == "attention":
        return Attention(shape[-1], d["heads"], d["dropout"], d["bias"])
    if kind == "groupnorm":
        return nn.GroupNorm(d["g"], c, affine=d["affine"])
    if kind == "prelu":
        return nn.PReLU(c if d["channelwise"] else 1)
    if kind == "adaptiveavgpool":
        return (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[rank - 1](d["size"])
    if kind == "adaptivemaxpool":
        return (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)[rank - 1](d["size"])
    if kind == "gap":
        return (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[rank - 1](1)
    if kind == "gmp":
        return (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)[rank - 1](1)
    if kind == "upsample":
        mode = d["mode"] if d["mode"] == "nearest" else ("linear", "bilinear", "trilinear")[rank - 1]
        scale = tuple(float(f) for f in d["scale"]) if d["scale"] else None
        return nn.Upsample(size=d["size"], scale_factor=scale, mode=mode,
                           align_corners=d["align_corners"] if mode != "nearest" else None)
    if kind == "softmax":
        return nn.Softmax(dim=1)
    if kind == "lrn":
        return nn.LocalResponseNorm(d["size"], d["alpha"], d["beta"], d["k"])
    if kind == "maxout":
        return Maxout(d["pieces"])
    if kind == "stochastic_depth":
        return StochasticDepth(d["p"], d["mode"])
    if kind == "chunk":
        return Chunk(d["chunks"], d["index"])
    if kind == "channel_shuffle":
        return nn.ChannelShuffle(d["groups"])
    if kind == "crop":
        return Crop(d["size"])
    if kind == "window_attention":  # on a channels-last map: (H, W, C)
        return WindowAttention(shape[-1], d["window"], d["shift"], d["heads"], d["v2"])
    if kind == "patch_merging":
        return PatchMerging(shape[-1], d["v2"])
    inplace = d.get("inplace", True)
    return {
        "relu": lambda: nn.ReLU(inplace), "relu6": lambda: nn.ReLU6(inplace),
        "leakyrelu": lambda: nn.LeakyReLU(d["slope"], inplace), "elu": lambda: nn.ELU(d["alpha"], inplace),
        "silu": lambda: nn.SiLU(inplace), "hardswish": lambda: nn.Hardswish(inplace),
        "hardsigmoid": lambda: nn.Hardsigmoid(inplace), "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
        "flatten": nn.Flatten, "identity": nn.Identity, "dropout": lambda: nn.Dropout(d["p"]),
    }[kind]()


class Maxout(nn.Module):
    """The maximum over groups of `pieces` consecutive channels (Goodfellow et al. 2013)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        return x.unflatten(1, (-1, self.pieces)).amax(2)


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: permute to channels last, layer_norm, permute back."""

    def __init__(self, c: int, affine: bool):
        super().__init__(c, eps=1e-5, elementwise_affine=affine)

    def forward(self, x):
        x = x.permute(0, *range(2, x.dim()), 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


class Scale(nn.Module):
    """ConvNeXt's layer scale: a parameter of shape (C, 1, ...) times the input."""

    def __init__(self, shape: tuple, init: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, init))

    def forward(self, x):
        return self.weight * x


class Permute(nn.Module):
    def __init__(self, order: tuple):
        super().__init__()
        self.order = order

    def forward(self, x):
        return x.permute(self.order)


class Tokens(nn.Module):
    """torchvision's ViT on its patch embedding: reshape to (N, C, H·W), then permute(0, 2, 1)."""

    def forward(self, x):
        return x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)


class ClassToken(nn.Module):
    """torchvision's ViT: a (1, 1, D) parameter expanded over the batch, in front of the sequence."""

    def __init__(self, d: int):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))

    def forward(self, x):
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)


class PosEmbedding(nn.Module):
    """torchvision's ViT Encoder: `input + self.pos_embedding`, a parameter of the input's shape."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, *shape).normal_(std=0.02))

    def forward(self, x):
        return x + self.pos_embedding


class Select(nn.Module):
    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index]


class Attention(nn.Module):
    """torchvision's EncoderBlock calls nn.MultiheadAttention so, counted as the reference data
    counts it: off the fused fast path (which it takes under no_grad, or with autograd on when no
    parameter requires grad, and whose projections FlopCounterMode does not see), and with scaled
    dot-product attention on its MATH backend (the CPU's fused kernel hides the two matmuls; in
    training it also keeps other tensors for backward)."""

    def __init__(self, e: int, heads: int, dropout: float, bias: bool):
        super().__init__()
        self.mha = nn.MultiheadAttention(e, heads, dropout=dropout, bias=bias, batch_first=True)

    def forward(self, x):
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with sdpa_kernel(SDPBackend.MATH):
                return self.mha(x, x, x, need_weights=False)[0]
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)


class Chunk(nn.Module):
    """torch.chunk along the channels, one part; None where torch has no such part."""

    def __init__(self, chunks: int, index: int):
        super().__init__()
        self.chunks, self.index = chunks, index

    def forward(self, x):
        parts = x.chunk(self.chunks, 1)
        if self.index >= len(parts):
            raise ValueError(f"{x.shape[1]} channels in {self.chunks} chunks have no part {self.index}")
        return parts[self.index]


class StochasticDepth(nn.Module):
    """torchvision.ops.stochastic_depth: the input in eval mode (as analysed and measured here);
    in training (tests/test_memory.py) the input times a Bernoulli noise, per sample or batch."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise


class Crop(nn.Module):
    """The centre of each spatial dimension at `size` (U-Net's copy and crop): a view."""

    def __init__(self, size: tuple):
        super().__init__()
        self.size = size

    def forward(self, x):
        if x.dim() - 2 != len(self.size):
            raise ValueError(f"a {len(self.size)}D crop of a {x.dim() - 2}D input")
        for axis, s in enumerate(self.size, start=2):
            if s > x.shape[axis]:
                raise ValueError(f"a crop of {s} from {x.shape[axis]}")  # narrow would say IndexError
            x = x.narrow(axis, (x.shape[axis] - s) // 2, s)
        return x


INPLACE = {"relu", "relu6", "leakyrelu", "elu", "silu", "hardswish", "hardsigmoid"}
VIEWS = ("identity", "dropout", "flatten", "crop", "stochastic_depth", "chunk", "permute", "tokens", "select")  # they return their input or a view of it
# ops whose backward reads their output: an in-place activation right after one (through views)
# would break autograd, so a correct module runs it out of place
SAVES_OUTPUT = {"relu", "relu6", "leakyrelu", "elu", "sigmoid", "tanh", "softmax", "maxout"}


def out_shape(module: nn.Module, shape: tuple):
    """The module's output shape (no batch) on the meta device, or None where PyTorch refuses."""
    try:
        with torch.no_grad():
            y = module.to("meta")(torch.empty((2, *shape), device="meta"))
    except (ValueError, RuntimeError):
        return None
    return None if 0 in y.shape else tuple(y.shape[1:])


# ---- random programs --------------------------------------------------------------------------


def looks_swapped(shape: tuple) -> bool:
    """archdsl refuses, by design, an input that looks written channels first (`input 3x8x8`)."""
    dims = (*shape[1:], shape[0])
    return len(dims) >= 3 and dims[0] in (1, 2, 3, 4) and dims[-1] > 4 and len(set(dims[1:])) == 1


def draw_sizes(data, rank, lo, hi):
    return tuple(data.draw(st.lists(st.integers(lo, hi), min_size=rank, max_size=rank)))


def draw_layer(data, shape: tuple, kinds) -> dict:
    rank = len(shape) - 1
    kind = data.draw(st.sampled_from(kinds))
    c = shape[0]
    if kind in ("conv", "convT"):
        g = data.draw(st.sampled_from([g for g in (1, 2, 3, c) if c % g == 0]))
        d = {"kind": kind, "c": g * data.draw(st.integers(1, 4)), "g": g, "bias": data.draw(st.booleans()),
             "k": draw_sizes(data, rank, 1, 3), "s": draw_sizes(data, rank, 1, 2), "p": draw_sizes(data, rank, 0, 1),
             "d": draw_sizes(data, rank, 1, 2)}
        if kind == "convT":
            d["op"] = tuple(data.draw(st.integers(0, max(s, dd) - 1)) for s, dd in zip(d["s"], d["d"]))
        return d
    if kind in ("maxpool", "avgpool"):
        k = draw_sizes(data, rank, 1, 3)
        d = {"kind": kind, "k": k, "s": draw_sizes(data, rank, 1, 2),
             "p": tuple(data.draw(st.integers(0, kk // 2)) for kk in k), "ceil": data.draw(st.booleans())}
        if kind == "avgpool":
            d["count_pad"] = data.draw(st.booleans())
        return d
    if kind == "fc":
        return {"kind": kind, "f": data.draw(st.integers(1, 12)), "bias": data.draw(st.booleans()),
                "last": rank > 0 and data.draw(st.booleans())}
    if kind == "layernorm2d":
        return {"kind": kind, "affine": data.draw(st.sampled_from([True, True, False]))}
    if kind == "scale":
        return {"kind": kind, "init": data.draw(st.sampled_from([1.0, 1e-6]))}
    if kind == "permute":
        return {"kind": kind, "order": (0,) + tuple(data.draw(st.permutations(range(1, rank + 2))))}
    if kind == "dropout":
        return {"kind": kind, "p": data.draw(st.sampled_from([0.1, 0.5]))}
    if kind == "attention":
        if len(shape) != 2:
            return {"kind": "identity"}
        return {"kind": kind, "heads": data.draw(st.sampled_from([h for h in (1, 2, 3, 4) if shape[-1] % h == 0])),
                "dropout": data.draw(st.sampled_from([0.0, 0.0, 0.1])), "bias": data.draw(st.booleans())}
    if kind == "select":
        return {"kind": kind, "index": data.draw(st.integers(0, c - 1))}
    if kind == "stochastic_depth":
        return {"kind": kind, "p": data.draw(st.sampled_from([0.0, 0.2, 1.0])), "mode": data.draw(st.sampled_from(["row", "batch"]))}
    if kind == "chunk":
        chunks = data.draw(st.integers(1, 4))
        return {"kind": kind, "chunks": chunks, "index": data.draw(st.integers(0, chunks - 1))}
    if kind == "channel_shuffle":
        return {"kind": kind, "groups": data.draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))}
    if kind == "groupnorm":
        # PyTorch refuses groups of a single value at batch 1 only (`input 1` `groupnorm 1`), a check
        # that depends on the batch: not drawn
        groups = [g for g in (1, 2, 3, c) if c % g == 0 and prod(shape) // g > 1]
        if not groups:
            return {"kind": "identity"}
        return {"kind": kind, "g": data.draw(st.sampled_from(groups)), "affine": data.draw(st.booleans())}
    if kind == "layernorm":
        return {"kind": kind, "affine": data.draw(st.sampled_from([True, True, False])),
                "dims": data.draw(st.integers(0, len(shape)))}
    if kind == "bn":
        return {"kind": kind, "affine": data.draw(st.sampled_from([True, True, False]))}
    if kind == "prelu":
        return {"kind": kind, "channelwise": data.draw(st.booleans())}
    if kind in ("adaptiveavgpool", "adaptivemaxpool"):
        return {"kind": kind, "size": draw_sizes(data, rank, 1, 4)}
    if kind == "upsample":
        mode = data.draw(st.sampled_from(["nearest", "bilinear"]))
        d = {"kind": kind, "mode": mode, "scale": None, "size": None,
             "align_corners": mode != "nearest" and data.draw(st.booleans())}
        if data.draw(st.booleans()):
            d["scale"] = draw_sizes(data, rank, 1, 2)
        else:
            d["size"] = tuple(data.draw(st.integers(1, 2 * n)) for n in shape[1:])
        return d
    if kind == "leakyrelu":
        return {"kind": kind, "slope": data.draw(st.sampled_from([0.01, 0.2]))}
    if kind == "elu":
        return {"kind": kind, "alpha": data.draw(st.sampled_from([1.0, 0.5]))}
    if kind == "lrn":
        return {"kind": kind, "size": data.draw(st.integers(1, 6)), "alpha": data.draw(st.sampled_from([0.0001, 0.001])),
                "beta": data.draw(st.sampled_from([0.75, 0.5])), "k": data.draw(st.sampled_from([1.0, 2.0]))}
    if kind == "maxout":
        return {"kind": kind, "pieces": data.draw(st.sampled_from([p for p in (1, 2, 3, 4) if c % p == 0]))}
    if kind == "crop":
        return {"kind": kind, "size": tuple(data.draw(st.integers(1, n)) for n in shape[1:])}
    if kind in ("window_attention", "patch_merging") and len(shape) != 3:
        return {"kind": "identity"}  # both take a map (H, W, C); torchvision's patch merging would read the batch as H
    if kind == "window_attention":
        v2 = data.draw(st.booleans())
        window = draw_sizes(data, 2, 2 if v2 else 1, 4)  # v2's coordinates divide by window - 1
        return {"kind": kind, "heads": data.draw(st.sampled_from([h for h in (1, 2, 3, shape[-1]) if shape[-1] % h == 0])),
                "window": window, "shift": tuple(data.draw(st.integers(0, k - 1)) for k in window), "v2": v2}
    if kind == "patch_merging":
        return {"kind": kind, "v2": data.draw(st.booleans())}
    return {"kind": kind}


# the kinds each strategy draws, by archdsl's op names
SPATIAL = ["conv", "conv", "convT", "bn", "relu", "relu", "maxpool", "avgpool", "dropout", "identity", "upsample",
           "sigmoid", "gelu", "silu", "leakyrelu", "relu6", "elu", "tanh", "softmax", "prelu", "maxout", "layernorm",
           "groupnorm", "lrn", "crop", "adaptiveavgpool", "adaptivemaxpool", "concat", "add", "add", "mul",
           "hardswish", "hardsigmoid", "stochastic_depth", "chunk", "channel_shuffle", "scale",
           "class_token", "pos_embedding"]  # the first of these two needs a sequence (a 2D tensor)
ENDS = ["fc", "flatten", "gap", "gmp"]  # drawn in a spatial chain's last two layers
# drawn as a spatial chain's last layer only: their output is laid out otherwise than contiguously,
# which PyTorch's elementwise layers after them keep and archdsl does not follow (docs/conventions.md)
# (tokens: features strided by the tokens; attention: nn.MultiheadAttention's batch-first output is
# a transposed view of its (L, N, E) result; select: a slice whose batch stride is its input's)
LAST = ["permute", "layernorm2d", "tokens", "attention", "select"]
FLAT = ["fc", "fc", "scale", "stochastic_depth", "hardswish", "hardsigmoid", "relu", "bn", "dropout", "tanh", "identity", "softmax", "sigmoid", "gelu", "silu", "leakyrelu",
        "relu6", "elu", "prelu", "maxout", "layernorm", "groupnorm", "flatten", "pos_embedding"]
SINGLE = ["conv", "convT", "fc", "bn", "layernorm", "groupnorm", "lrn", "prelu", "maxout", "maxpool", "avgpool",
          "adaptiveavgpool", "adaptivemaxpool", "gap", "gmp", "upsample", "crop", "relu", "relu6", "leakyrelu", "elu",
          "silu", "sigmoid", "tanh", "gelu", "softmax", "flatten", "identity", "dropout", "hardswish", "hardsigmoid",
          "stochastic_depth", "chunk", "channel_shuffle", "layernorm2d", "scale", "permute", "window_attention",
          "patch_merging", "tokens", "class_token",
          "pos_embedding", "select", "attention", "attention"]
SINGLE_FLAT = ["fc", "bn", "layernorm", "groupnorm", "prelu", "maxout", "relu", "relu6", "leakyrelu", "elu", "silu",
               "softmax", "sigmoid", "tanh", "gelu", "flatten", "identity", "dropout", "hardswish", "hardsigmoid",
               "stochastic_depth", "scale", "permute", "pos_embedding"]

# every archdsl op these properties draw (test_op_registry checks the registry against it)
ORACLE_OPS = frozenset(SPATIAL + ENDS + LAST + FLAT + SINGLE + SINGLE_FLAT)


def draw_merge(data, kind: str, shape: tuple, name: str):
    """A concat/add/mul whose branches keep the spatial size in step (odd kernels, half padding, one
    stride); a mul branch may be a gate, a global pool first, broadcast over the others."""
    rank, c = len(shape) - 1, shape[0]
    stride = data.draw(st.sampled_from([1, 1, 2]))
    width = data.draw(st.integers(1, 4))
    branches = []
    for b in range(data.draw(st.integers(2, 3))):
        if kind == "concat" and stride == 1 and data.draw(st.integers(0, 3)) == 0:
            first = {"kind": "maxpool", "k": (3,) * rank, "s": (1,) * rank, "p": (1,) * rank, "ceil": False}
        elif kind == "mul" and b > 0 and data.draw(st.booleans()):
            gate = {"kind": "conv", "c": width * 2, "g": 1, "bias": data.draw(st.booleans()), "k": (1,) * rank,
                    "s": (1,) * rank, "p": (0,) * rank, "d": (1,) * rank}
            branches.append([{"kind": "gap"}, gate, {"kind": data.draw(st.sampled_from(["sigmoid", "hardsigmoid"]))}])
            continue
        else:
            k = data.draw(st.sampled_from([1, 3]))
            g = data.draw(st.sampled_from([g for g in (1, 2) if c % g == 0 and (width * 2) % g == 0]))
            first = {"kind": "conv", "c": width * 2 if kind != "concat" else data.draw(st.integers(1, 4)) * g, "g": g,
                     "bias": data.draw(st.booleans()), "k": (k,) * rank, "s": (stride,) * rank, "p": (k // 2,) * rank,
                     "d": (1,) * rank}
        branch = [first] + [{"kind": kind_} for kind_ in data.draw(st.lists(st.sampled_from(["bn", "relu"]), max_size=2))]
        for before, layer in zip(branch, branch[1:]):
            if layer["kind"] in INPLACE and before["kind"] in SAVES_OUTPUT:
                layer["inplace"] = False  # a relu right after a relu: autograd keeps the first's output
        branches.append(branch)
    if kind in ("add", "mul") and stride == 1 and c == width * 2:
        branches.append([{"kind": "identity"}])
    return {"kind": kind, "branches": branches}


def draw_program(data, rank: int, length: int):
    """(input shape, [(name, description)]) with every layer accepted by PyTorch."""
    shape = (data.draw(st.integers(1, 6)),) + draw_sizes(data, rank, 5, 12)
    assume(not looks_swapped(shape))
    program, cur = [], shape
    after_input = True  # no in-place activation straight on the network input
    after_saver = False  # the tensor comes from a layer that keeps its output for backward
    after_crop = False  # the tensor is a crop's view of a larger one (not contiguous)
    after_chunk = False  # ... a chunk's: contiguous at batch 1, not above (docs/conventions.md)
    for i in range(length):
        flat = len(cur) == 1
        kind_pool = FLAT if flat else SPATIAL + (ENDS if i >= length - 2 else []) + (LAST if i == length - 1 else [])
        if after_input:
            kind_pool = [k for k in kind_pool if k not in INPLACE]
        if after_crop:
            # flatten(2) of a slice views it where the slice cut no row's width, which archdsl
            # does not follow (docs/conventions.md): tokens reads a layer's own output
            kind_pool = [k for k in kind_pool if k != "tokens"] or ["identity"]
        if after_crop and cur[0] == 1:
            # at batch 1 PyTorch calls some slices of a one-channel map contiguous and groupnorm
            # (or fc last) copies nothing; archdsl counts as at every larger batch (docs/conventions.md)
            kind_pool = [k for k in kind_pool if k not in ("groupnorm", "fc")] or ["identity"]
        if after_chunk:
            # a channel slice is contiguous at batch 1 only: groupnorm copies it, and `fc last`
            # reshapes it with a copy, above batch 1 alone; archdsl counts one rule at every
            # batch (docs/conventions.md)
            kind_pool = [k for k in kind_pool if k not in ("groupnorm", "fc")] or ["identity"]
        d = draw_layer(data, cur, kind_pool)
        if d["kind"] in ("concat", "add", "mul"):
            d = draw_merge(data, d["kind"], cur, f"l{i}")
            new = merge_shape(d, cur)
        else:
            new = out_shape(module_of(d, cur), cur)
        if new is None or prod(new) > 20_000:
            continue
        if d["kind"] in INPLACE and (after_saver or after_chunk):
            d["inplace"] = False  # autograd's rules: see archdsl/passes/inplace.py
        program.append((f"l{i}", d))
        cur = new
        after_input = after_input and d["kind"] in VIEWS
        after_crop = d["kind"] in ("crop", "chunk") or (after_crop and d["kind"] in VIEWS + tuple(INPLACE))
        after_chunk = d["kind"] == "chunk" or (after_chunk and d["kind"] in VIEWS)
        if d["kind"] not in VIEWS:
            after_saver = d["kind"] in SAVES_OUTPUT
    return shape, program


def branch_modules(d: dict, shape: tuple):
    """[[(description, module, input shape)]] per branch."""
    out = []
    for branch in d["branches"]:
        mods, cur = [], shape
        for layer in branch:
            m = module_of(layer, cur)
            mods.append((layer, m, cur))
            cur = out_shape(module_of(layer, cur), cur)
        out.append((mods, cur))
    return out


def merge_shape(d: dict, shape: tuple):
    ends = [end for _, end in branch_modules(d, shape)]
    if any(e is None for e in ends):
        return None
    if d["kind"] == "add":
        return ends[0] if all(e == ends[0] for e in ends) else None
    if d["kind"] == "mul":
        return torch.broadcast_shapes(*ends) if all(len(e) == len(ends[0]) for e in ends) else None
    if any(e[1:] != ends[0][1:] for e in ends):
        return None
    return (sum(e[0] for e in ends),) + ends[0][1:]


# ---- the two renderings -----------------------------------------------------------------------


def render(shape: tuple, program, frozen=()) -> str:
    lines = [input_line(shape)]
    for name, d in program:
        if d["kind"] in ("concat", "add", "mul"):
            lines.append(f"{name}: {d['kind']} {{")
            for b, branch in enumerate(d["branches"]):
                stmts = [f"{name}_{b}_{j}: {spec_of(layer)}" for j, layer in enumerate(branch)]
                lines.append("  " + (stmts[0] if len(stmts) == 1 else "{ " + " ; ".join(stmts) + " }"))
            lines.append("}")
        else:
            lines.append(f"{name}: {spec_of(d)}")
    if frozen:
        lines.append("freeze " + ", ".join(frozen))
    return "\n".join(lines) + "\n"


class Built:
    """The hand-built torch network: named modules and a forward that follows the program."""

    def __init__(self, shape: tuple, program):
        self.steps = []  # (name, module) or (name, kind, [[(name, module)]])
        self.modules: dict[str, nn.Module] = {}
        cur = shape
        for name, d in program:
            if d["kind"] in ("concat", "add", "mul"):
                branches = []
                for b, (mods, _) in enumerate(branch_modules(d, cur)):
                    branch = []
                    for j, (_, m, _) in enumerate(mods):
                        self.modules[f"{name}_{b}_{j}"] = m
                        branch.append((f"{name}_{b}_{j}", m))
                    branches.append(branch)
                self.steps.append((name, d["kind"], branches))
                cur = merge_shape(d, cur)
            else:
                m = module_of(d, cur)
                self.modules[name] = m
                self.steps.append((name, m))
                cur = out_shape(module_of(d, cur), cur)
        for m in self.modules.values():
            m.eval()

    def forward(self, x, hook=lambda name, fn, *a: fn(*a)):
        """`hook(name, fn, *args)` runs each layer (the merge itself is a layer too)."""
        for step in self.steps:
            if len(step) == 2:
                x = hook(step[0], step[1], x)
                continue
            name, kind, branches = step
            ends = []
            for branch in branches:
                y = x
                for bname, m in branch:
                    y = hook(bname, m, y)
                ends.append(y)
            if kind == "concat":
                x = hook(name, lambda *t: torch.cat(t, dim=1), *ends)
            elif kind == "mul":
                x = hook(name, mul_all, *ends)
            else:
                # torchvision's `out += identity`: into the first branch's own tensor, when that
                # branch made one (not an identity of the block input) that autograd does not keep
                first = branches[0][-1][1] if branches[0] else None
                own = first is not None and not isinstance(first, (nn.Identity, nn.Dropout)) \
                    and not isinstance(first, SAVES_OUTPUT_MODULES)
                x = hook(name, add_into if own else add_all, *ends)
        return x

    def parameters(self):
        return [p for m in self.modules.values() for p in m.parameters()]


def add_all(first, second, *rest):
    """A residual add of N branches into a new tensor: `first + second`, then `+=` the rest."""
    out = first + second
    for t in rest:
        out += t
    return out


def mul_all(first, second, *rest):
    """Branches multiplied, broadcasting: `first * second` (SE's `scale * input`), then `*=` the rest."""
    out = first * second
    for t in rest:
        out *= t
    return out


def add_into(first, *rest):
    """A residual add into the first branch's tensor, as torchvision writes it: `out += identity`."""
    for t in rest:
        first += t
    return first


SAVES_OUTPUT_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Tanh, nn.Softmax, Maxout)


def torch_figures(built: Built, shape: tuple, batch: int):
    """Per-layer and total FLOPs, and per-layer activations, measured on the torch network."""
    x = torch.randn((batch, *shape))
    flops: dict[str, int] = {}

    def count_flops(name, fn, *args):
        with FlopCounterMode(display=False) as counter:
            y = fn(*args)
        flops[name] = flops.get(name, 0) + counter.get_total_flops()
        return y

    with torch.no_grad():
        built.forward(x.clone(), count_flops)
        with FlopCounterMode(display=False) as counter:
            built.forward(x.clone())
        total_flops = counter.get_total_flops()

        existing = [x] + built.parameters() + [b for m in built.modules.values() for b in m.buffers()]
        counter = AllocationCounter(existing)

        def count_alloc(name, fn, *args):
            if isinstance(fn, nn.Linear) and fn.bias is not None and not args[0].is_contiguous():
                counter.layer = name
                y = nn.functional.linear(args[0], fn.weight)  # aten's mm (module docstring)
                counter.layer = None
                return y.add_(fn.bias)
            if not isinstance(fn, (nn.LocalResponseNorm, WindowAttention, PatchMerging, Attention)):
                counter.layer = name
                return fn(*args)
            counter.layer = None  # its temporaries; the layer's output counts (module docstring, and attention's)
            y = fn(*args)
            counter.by_layer[name] = counter.by_layer.get(name, 0) + y.numel()
            return y

        with counter:
            built.forward(x, count_alloc)
    activations = dict(counter.by_layer)
    activations["input"] = x.numel()
    return flops, total_flops, activations


# ---- the comparison ---------------------------------------------------------------------------


def compare(shape: tuple, program, frozen=()):
    spec = render(shape, program, frozen)
    note(spec)
    net = archdsl.load(spec)
    built = Built(shape, program)
    for name in frozen:
        for p in built.modules[name].parameters():
            p.requires_grad_(False)
    for batch in (1, 2):
        a = net.analyze(batch=batch)
        rows = {r.name: r for r in a.layers}
        assert set(rows) == set(built.modules) | {s[0] for s in built.steps}, spec
        assert a.rows[-1].output_shape == tuple(built.forward(torch.zeros((1, *shape)))[0].shape)
        flops, total_flops, activations = torch_figures(built, shape, batch)
        for name, row in rows.items():
            m = built.modules.get(name)
            params = sum(p.numel() for p in m.parameters()) if m is not None else 0
            trainable = sum(p.numel() for p in m.parameters() if p.requires_grad) if m is not None else 0
            assert row.params == params, f"{name}: params {row.params} != torch {params}\n{spec}"
            assert row.trainable_params == trainable, f"{name}: trainable {row.trainable_params} != torch {trainable}\n{spec}"
            assert row.flops == flops.get(name, 0), f"{name}: flops {row.flops} != FlopCounterMode {flops.get(name, 0)} (batch {batch})\n{spec}"
            assert 2 * row.macs == row.flops
            assert row.activations == activations.get(name, 0), (
                f"{name}: activations {row.activations} != allocated {activations.get(name, 0)} (batch {batch})\n{spec}")
        assert a.rows[0].activations == activations["input"]
        params = built.parameters()
        assert a.totals["params"] == sum(p.numel() for p in params)
        assert a.totals["trainable_params"] == sum(p.numel() for p in params if p.requires_grad)
        assert a.totals["flops"] == total_flops, f"flops {a.totals['flops']} != FlopCounterMode {total_flops}\n{spec}"
        assert 2 * a.totals["macs"] == a.totals["flops"]
        assert a.totals["activations"] == sum(activations.values()), spec


# ---- the properties ---------------------------------------------------------------------------


def draw_single_layer(data):
    """(input shape, layer description) of one layer PyTorch accepts, on an input of 1 to 3
    spatial dimensions or a flat one; None where ten draws found no such layer."""
    rank = data.draw(st.integers(1, 3))
    shape = (data.draw(st.integers(1, 6)),) + draw_sizes(data, rank, 3, 9 if rank < 3 else 5)
    if data.draw(st.integers(0, 4)) == 0:
        shape = (data.draw(st.integers(1, 40)),)  # a flat input
    assume(not looks_swapped(shape))
    for _ in range(10):
        d = draw_layer(data, shape, SINGLE if len(shape) > 1 else SINGLE_FLAT)
        if out_shape(module_of(d, shape), shape) is not None:
            return shape, d
    return None


@SETTINGS
@given(data=st.data())
def test_single_layer_costs(data):
    drawn = draw_single_layer(data)
    if drawn is None:
        return
    shape, d = drawn
    if d["kind"] in INPLACE:
        d["inplace"] = False  # on the network input archdsl counts it out of place (module docstring)
    frozen = ("l0",) if data.draw(st.booleans()) else ()
    compare(shape, [("l0", d)], frozen)


@SETTINGS
@given(data=st.data())
def test_chain_costs(data):
    shape, program = draw_program(data, data.draw(st.sampled_from([1, 2, 2])), data.draw(st.integers(1, 7)))
    if not program:
        return
    with_params = [n for n, m in Built(shape, program).modules.items() if any(True for _ in m.parameters())]
    frozen = tuple(data.draw(st.lists(st.sampled_from(with_params), unique=True, max_size=3))) if with_params else ()
    compare(shape, program, frozen)


# ---- fixed examples -----------------------------------------------------------------------------


def test_linear_on_a_strided_input_adds_its_bias_in_place():
    """The premise of count_alloc's nn.Linear case, from torch.profiler (no dispatch mode): on a
    crop's slice, aten's linear is mm then `add_`, and under a dispatch mode it is `add`."""
    from torch.profiler import profile

    layer = nn.Linear(1, 3)
    x = torch.randn(2, 2, 5, 5)[:, :, 2:3, 2:3]
    with torch.no_grad(), profile() as prof:
        layer(x)
    names = [e.name for e in prof.events()]
    assert "aten::mm" in names and "aten::add_" in names and "aten::add" not in names, names

    class Calls(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(str(func))
            return func(*args, **(kwargs or {}))

    seen = []
    with torch.no_grad(), Calls():
        layer(x)
    assert "aten.add.Tensor" in seen and "aten.add_.Tensor" not in seen, seen


def test_fc_last_on_a_crop():
    """Found by test_chain_costs in CI: the slice reaches aten's linear non-contiguous."""
    program = [
        ("l0", {"kind": "prelu", "channelwise": False}),
        ("l1", {"kind": "layernorm", "affine": True, "dims": 0}),
        ("l2", {"kind": "crop", "size": (1, 1)}),
        ("l3", {"kind": "fc", "f": 1, "bias": True, "last": True}),
    ]
    compare((2, 5, 5), program)


def test_vgg_like_block():
    """conv -> bn -> relu -> maxpool -> conv -> relu -> fc, frozen first conv."""
    program = [
        ("l0", {"kind": "conv", "c": 8, "g": 1, "bias": False, "k": (3, 3), "s": (1, 1), "p": (1, 1), "d": (1, 1)}),
        ("l1", {"kind": "bn"}),
        ("l2", {"kind": "relu"}),
        ("l3", {"kind": "maxpool", "k": (2, 2), "s": (2, 2), "p": (0, 0), "ceil": False}),
        ("l4", {"kind": "conv", "c": 8, "g": 4, "bias": True, "k": (3, 3), "s": (2, 2), "p": (1, 1), "d": (1, 1)}),
        ("l5", {"kind": "relu"}),
        ("l6", {"kind": "dropout", "p": 0.5}),
        ("l7", {"kind": "fc", "f": 10, "bias": True}),
    ]
    compare((3, 16, 16), program, frozen=("l0", "l1"))


def test_residual_and_inception_merges():
    conv = lambda c, k, s=1, g=1: {"kind": "conv", "c": c, "g": g, "bias": False, "k": (k, k), "s": (s, s),  # noqa: E731
                                   "p": (k // 2, k // 2), "d": (1, 1)}
    program = [
        ("l0", conv(4, 3)),
        ("l1", {"kind": "relu"}),
        ("l2", {"kind": "add", "branches": [[conv(4, 3), {"kind": "bn"}, {"kind": "relu"}, conv(4, 3, g=2)],
                                            [{"kind": "identity"}]]}),
        ("l3", {"kind": "relu"}),
        ("l4", {"kind": "concat", "branches": [[conv(2, 1)], [conv(3, 3), {"kind": "relu"}],
                                               [{"kind": "maxpool", "k": (3, 3), "s": (1, 1), "p": (1, 1), "ceil": False}]]}),
        ("l5", {"kind": "convT", "c": 3, "g": 3, "bias": True, "k": (2, 2), "s": (2, 2), "p": (0, 0), "op": (1, 1), "d": (1, 1)}),
        ("l6", {"kind": "gap"}),
        ("l7", {"kind": "fc", "f": 5, "bias": True}),
    ]
    compare((3, 9, 9), program, frozen=("l2_0_0", "l5"))


@SETTINGS
@given(data=st.data())
def test_window_attention_and_patch_merging_costs(data):
    """Swin's layers on channels-last maps of every padding case: any window and shift (dropped
    where one window holds the map), heads, v1 and v2 (whose position-bias MLP runs once per
    forward, not once per sample: batch 1 and 2 tell)."""
    shape = (data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)), data.draw(st.sampled_from([2, 3, 4, 6])))
    d = draw_layer(data, shape, ["window_attention", "patch_merging"])
    frozen = ("l0",) if data.draw(st.booleans()) else ()
    compare(shape, [("l0", d)], frozen)


def test_vit_like_chain():
    """ViT's path: patch conv, tokens, class token, position embedding, per-token LayerNorm,
    self-attention (one frozen), the class token, a head."""
    program = [
        ("l0", {"kind": "conv", "c": 8, "g": 1, "bias": True, "k": (2, 2), "s": (2, 2), "p": (0, 0), "d": (1, 1)}),
        ("l1", {"kind": "tokens"}),
        ("l2", {"kind": "class_token"}),
        ("l3", {"kind": "pos_embedding"}),
        ("l4", {"kind": "layernorm", "affine": True, "dims": 1}),
        ("l5", {"kind": "attention", "heads": 2, "dropout": 0.0, "bias": True}),
        ("l6", {"kind": "attention", "heads": 4, "dropout": 0.1, "bias": False}),
        ("l7", {"kind": "select", "index": 0}),
        ("l8", {"kind": "fc", "f": 5, "bias": True}),
    ]
    compare((3, 8, 8), program, frozen=("l5",))
