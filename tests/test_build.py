"""Built modules against PyTorch itself: torchvision's state_dict and logits, FlopCounterMode,
real output shapes from forward hooks, requires_grad, torch.compile."""
import json
import zlib

import pytest

torch = pytest.importorskip("torch")

import archdsl  # noqa: E402
from archdsl.ops import OPS  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from .conftest import DATA, SIBLINGS, SPECS, load_reference  # noqa: E402
from .test_torchvision_specs import MODELS, spec_path  # noqa: E402

REFERENCE = load_reference()
FAST = ["resnet18", "vgg11_bn", "googlenet", "mobilenet_v2", "squeezenet1_0", "densenet121", "mnasnet0_5", "mobilenet_v3_small", "efficientnet_b0",
        "regnet_x_400mf", "regnet_y_400mf", "shufflenet_v2_x0_5", "convnext_tiny", "swin_t", "swin_v2_t", "vit_b_16"]
ALL_SPECS = sorted(p.name for p in SPECS.glob("*.arch"))


def fill(module):
    """tests/data/README.md's recipe (shared/reference/make_reference.py): weights from key names."""
    sd = module.state_dict()
    with torch.no_grad():
        for key, t in sd.items():
            if not t.is_floating_point():
                t.zero_()
                continue
            g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
            leaf = key.rsplit(".", 1)[-1]
            if leaf == "running_var":
                t.copy_(1.0 + 0.1 * torch.rand(t.shape, generator=g))
            elif leaf == "running_mean":
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif t.dim() >= 2:
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / t[0].numel()) ** 0.5)
            elif leaf == "weight":
                t.copy_(1.0 + 0.1 * torch.randn(t.shape, generator=g))
            else:
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    module.load_state_dict(sd)


def calibrate(module, shape):
    """tests/data/README.md's second recipe (shared/reference/make_reference_classification.py):
    batch-norm statistics from one training-mode batch (seed 1), everything else in eval mode."""
    module.eval()
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:  # nothing to calibrate (the ViTs): the forward would change nothing
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        module(x)
    module.eval()


def check_torchvision(model):
    ref = REFERENCE[model]
    # built on meta and materialised uninitialised: `fill` writes every entry of the state_dict
    module = archdsl.build(spec_path(model), device="meta").to_empty(device="cpu").eval()
    assert [[k, list(v.shape)] for k, v in module.state_dict().items()] == ref["state_dict"]
    fill(module)
    x = torch.randn(ref["input_shape"], generator=torch.Generator().manual_seed(0))
    for recipe in ("output", "output_calibrated"):
        if recipe == "output_calibrated":
            calibrate(module, ref["input_shape"])
        with torch.no_grad():
            y = module(x)
        expected = torch.tensor(ref[recipe])
        assert (y - expected).abs().max() <= 1e-3 * expected.abs().max(), recipe


@pytest.mark.parametrize("model", FAST)
def test_torchvision_weights_load_and_logits_match(model):
    check_torchvision(model)


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m in MODELS if m not in FAST])
def test_torchvision_weights_load_and_logits_match_all(model):
    check_torchvision(model)


def test_window_attention_buffers_are_torchvision_s():
    """The fixed tensors of Swin's attention, which the logits cannot check (the fill recipe zeroes
    relative_position_index and draws relative_coords_table at random), against torchvision's own,
    recorded in tests/data/torchvision_swin_buffers.json: exactly, float32 values included."""
    from archdsl.backends.layers import WindowAttention

    recorded = json.loads((DATA / "torchvision_swin_buffers.json").read_text())
    for key, want in recorded.items():
        if key == "source":
            continue
        window = tuple(int(v) for v in key.split("x"))
        v1, v2 = WindowAttention(8, window, (0, 0), 2), WindowAttention(8, window, (0, 0), 2, v2=True)
        assert v1.relative_position_index.tolist() == v2.relative_position_index.tolist() == want["relative_position_index"]
        assert list(v2.relative_coords_table.shape) == want["relative_coords_table_shape"]
        assert v2.relative_coords_table.flatten().tolist() == want["relative_coords_table"]
        assert v2.logit_scale.flatten().tolist() == want["logit_scale"]
        assert v2.qkv.bias[8:16].abs().sum() == 0  # no bias for the keys


def _input(net, batch=2):
    return torch.randn((batch, *net.analyze().input_shape))


# FLOPs, parameters and shapes need no arithmetic: every spec runs on the meta device. Two small
# specs (2D and 1D) also run on the CPU, where the kernels are the real ones.
@pytest.mark.parametrize("spec, device", [pytest.param(s, "meta", marks=[pytest.mark.slow] if s[:-5] in SIBLINGS else [])
                                          for s in ALL_SPECS] + [("lenet5.arch", "cpu"), ("m5.arch", "cpu")])
def test_module_matches_analysis(spec, device):
    """Parameters, FlopCounterMode FLOPs and every layer's real output shape, layer by layer.
    FLOPs are counted as the reference data counts them: eval mode with autograd enabled and
    scaled dot-product attention on its MATH backend (no_grad would let nn.MultiheadAttention
    take its fused fast path, whose projections FlopCounterMode does not see)."""
    net = archdsl.load(SPECS / spec)
    module = net.build(device=device).eval()
    a = net.analyze(batch=2)
    assert sum(p.numel() for p in module.parameters()) == a.totals["params"]
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == a.totals["trainable_params"]
    rows = {}
    for row in a.layers:
        if OPS[row.op].lowering.call == "module":  # merges and block parameters have no module
            rows.setdefault(row.name, []).append(row.output_shape)
    seen = {}

    def hook(name):
        def record(mod, args, out):
            seen.setdefault(name, []).append(tuple(out.shape[1:]))
        return record


    def inside_a_layer(name):  # a layer's own submodules (Swin's attn.qkv) are not rows
        parts = name.split(".")
        return any(".".join(parts[:i]) in rows for i in range(1, len(parts)))

    for name, sub in module.named_modules():
        if name and (name in rows or not list(sub.children())) and not inside_a_layer(name):
            sub.register_forward_hook(hook(name))
    x = _input(net).to(device)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        module(x)
    assert counter.get_total_flops() == a.totals["flops"]
    assert seen == rows


def test_frozen_parts_do_not_train():
    text = "input 16x16x3\nfeatures: { conv 8 3x3 bn act=relu ; conv 8 3x3 }\nclassifier: fc 10\nfreeze features\n"
    module = archdsl.build(text)
    frozen = {n for n, p in module.named_parameters() if not p.requires_grad}
    assert frozen == {"features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                      "features.3.weight", "features.3.bias"}
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == archdsl.load(text).analyze().totals["trainable_params"]


def test_several_outputs_are_a_tuple():
    module = archdsl.build("input 8x8x3\nc: conv 4 3x3 pad=1\nmain: gap -> fc 5\naux: @c -> conv 2 1x1\noutput @main, @aux\n")
    main, aux = module(torch.randn(2, 3, 8, 8))
    assert main.shape == (2, 5) and aux.shape == (2, 2, 8, 8)


def test_meta_build_allocates_nothing_and_is_instant():
    import time

    start = time.perf_counter()
    module = archdsl.build("input 224x224x3\nfc 100000\nfc 100000\n", device="meta")
    assert time.perf_counter() - start < 5  # 25 billion parameters: nothing allocated
    assert all(p.device.type == "meta" for p in module.parameters())


def test_too_large_fails_before_allocating():
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.build("input 224x224x3\nfc 1000000\nfc 1000000\n", device="cpu")
    assert "GB" in info.value.message and "--device meta" in info.value.hint


def test_in_place_relu_only_where_the_analysis_says():
    text = "input 8x8x3\na: conv 4 3x3 pad=1\nr1: relu\nb: conv 4 3x3 pad=1\nadd {\n  r2: relu\n  @b\n}\n"
    module = archdsl.build(text)
    assert module.r1.inplace is True
    assert module.r2.inplace is False  # b is read again by the add


def test_backward_and_training_step():
    module = archdsl.build(SPECS / "resnet18.arch", set={"classes": 10})
    opt = torch.optim.SGD(module.parameters(), lr=0.01)
    x, y = torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,))
    loss = torch.nn.functional.cross_entropy(module(x), y)
    loss.backward()
    opt.step()
    assert all(p.grad is not None for p in module.parameters())


def test_dtype_and_channels_last():
    module = archdsl.build(SPECS / "resnet18.arch", dtype="bfloat16", memory_format="channels_last")
    conv = module.conv1.weight
    assert conv.dtype == torch.bfloat16 and conv.is_contiguous(memory_format=torch.channels_last)


# fx writes one straight-line forward for any spec, so a graph break would come from a layer's own
# module: the default run compiles one spec per kind of code (residual adds in place, concat,
# crop and transposed conv) and one with archdsl's own layers (Maxout) and the rest; -m slow all.
EVERY_KIND = "input 12x12x8\nlrn 3\nmaxout 2\nupsample 2 mode=bilinear\ncrop 20\nprelu channelwise\ngmp\nfc 3\n"
COMPILED = ["resnet18.arch", "googlenet.arch", "unet.arch"]


def _explain(net):
    module = net.build(device="meta").eval()
    explanation = torch._dynamo.explain(module)(_input(net, 1).to("meta"))
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


@pytest.mark.parametrize("spec", COMPILED)
def test_compile_has_no_graph_breaks(spec):
    _explain(archdsl.load(SPECS / spec))


def test_compile_has_no_graph_breaks_with_every_kind_of_layer():
    _explain(archdsl.load(EVERY_KIND))


@pytest.mark.slow
@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s not in COMPILED])
def test_compile_has_no_graph_breaks_all(spec):
    _explain(archdsl.load(SPECS / spec))


def test_optimize_for_inference_folds_batch_norm():
    from archdsl.backends.torch import optimize_for_inference

    module = archdsl.build(SPECS / "resnet18.arch").eval()
    fill(module)
    fused = optimize_for_inference(module)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 3, 64, 64)  # the weights are the point, not the map size
    with torch.no_grad():
        a, b = module(x), fused(x)
    assert (a - b).abs().max() <= 1e-4 * a.abs().max()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_amp_training_step():
    module = archdsl.build(SPECS / "resnet18.arch", device="cuda", memory_format="channels_last")
    x = torch.randn(8, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = module(x).float().logsumexp(1).mean()
    loss.backward()
    assert module.conv1.weight.grad is not None


def test_in_place_never_overwrites_what_autograd_saved():
    module = archdsl.build("input 8x8x3\nconv 4 3x3\nsigmoid\nrelu\nrelu\n")
    assert [m.inplace for m in module.modules() if isinstance(m, torch.nn.ReLU)] == [False, False]
    module(torch.randn(2, 3, 8, 8)).sum().backward()


def test_forward_is_straight_line_code():
    """No per-call Python work beyond a hand-written forward: no loops, lookups or shape checks."""
    module = archdsl.build(SPECS / "googlenet.arch", device="meta")
    code = module.code
    for construct in ("for ", "while ", "if ", "[\"", "getattr(self, name", ".shape", "dict("):
        assert construct not in code, construct
    assert code.count("torch.cat") == 9  # one per inception module
