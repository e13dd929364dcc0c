"""Memory figures against PyTorch itself (tests/memory_oracle.py measures).

saved_bytes: what autograd keeps for backward in a training-mode forward, for every spec at
batch 1 and 8, with freeze, and for random networks drawn as the cost oracle draws them.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import archdsl  # noqa: E402

from .helpers import analyze_text  # noqa: E402
from .memory_oracle import inference_peak, optimizer_bytes, saved_bytes, train_peak  # noqa: E402
from .test_cost_oracle import SETTINGS, Built, draw_program, note, render  # noqa: E402
from .conftest import SPECS  # noqa: E402

SPEC_FILES = sorted(SPECS.glob("*.arch"))

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _measured_saved(net, batch: int, device: str = "meta") -> int:
    module = net.build(device=device)
    x = torch.randn((batch, *net.analyze().input_shape), device=device)
    return saved_bytes(module, x)


SLOW = pytest.mark.slow
LARGEST = {"resnet101", "resnet152", "densenet121", "inception_v3", "resnext50_32x4d", "wide_resnet50_2", "googlenet",
           "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_m", "efficientnet_v2_l",
           "convnext_base", "convnext_large", "swin_s", "swin_b", "swin_v2_s", "swin_v2_b"}
SPEC_BATCHES = [pytest.param(p, b, id=f"{p.stem}-{b}", marks=SLOW if b > 1 and p.stem in LARGEST else ())
                for p in SPEC_FILES for b in (1, 8)]


@pytest.mark.parametrize("path,batch", SPEC_BATCHES)
def test_saved_bytes_of_every_spec(path, batch):
    net = archdsl.load(path)
    estimated = net.analyze(batch=batch).totals["saved_bytes"]
    measured = _measured_saved(net, batch)
    assert abs(estimated - measured) <= 0.01 * measured, f"{path.stem} batch {batch}: {estimated:,} vs autograd {measured:,}"


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "squeezenet1_0"])
def test_meta_saves_what_the_cpu_saves(name):
    """The oracle's meta shortcut: the same storages as a real forward on the CPU."""
    net = archdsl.load(name)
    assert _measured_saved(net, 2, "meta") == _measured_saved(net, 2, "cpu")


FROZEN = """
input 32x32x3
stem: conv 16 3x3 pad=1 bn act=relu
body: conv 32 3x3 /2 pad=1 bn act=relu
pool: maxpool 2
head: fc 10
"""


@pytest.mark.parametrize("frozen", ["stem", "body", "head", "stem, body", "stem, body, head"])
def test_frozen_parts_save_less(frozen):
    net = archdsl.load(FROZEN + f"freeze {frozen}\n")
    for batch in (1, 3):
        assert net.analyze(batch=batch).totals["saved_bytes"] == _measured_saved(net, batch, "cpu")


def test_saved_rules_by_hand():
    """conv 4 3x3 on 8x8x3: the input (192 floats); bn: its input (4x6x6 = 144) and mean and
    inverse std (2 x 4); relu: its output (144, the bn's); maxpool: its input (the relu's output,
    counted once) and 4x3x3 int64 indices."""
    a = analyze_text("input 8x8x3\nconv 4 3x3\nbn\nrelu\nmaxpool 2", batch=2)
    rows = {r.name: r for r in a.layers}
    assert rows["0"].saved_bytes == 2 * 192 * 4
    assert rows["1"].saved_bytes == 2 * 144 * 4 + 8 * 4
    assert rows["2"].saved_bytes == 2 * 144 * 4
    assert rows["3"].saved_bytes == 2 * 36 * 8
    assert a.totals["saved_bytes"] == sum(r.saved_bytes for r in a.layers)


def _torch_saved(built: Built, shape: tuple, batch: int, amp: str | None = None) -> int:
    from .memory_oracle import autocast

    own = {t.untyped_storage()._cdata for m in built.modules.values() for t in (*m.parameters(), *m.buffers())}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s._cdata not in own:
            seen[s._cdata] = s.nbytes()
        return t

    for m in built.modules.values():
        m.train()
    x = torch.randn((batch, *shape))
    with autocast(x, amp), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        built.forward(x)
    return sum(seen.values())


def _draw_network(data):
    """A random chain with branches, drawn as the cost oracle draws them: (shape, program), the
    program possibly empty."""
    rank = data.draw(st.integers(1, 3))
    return draw_program(data, rank, data.draw(st.integers(1, 6)))


def _kernel_not_in_the_spec(net, batch: int, amp: str | None = None) -> bool:
    """Whether PyTorch runs a 3D transposed conv, whose input is larger than its output, through
    its slow CPU kernel (output storage as large as its input) where archdsl expects oneDNN: that
    choice hangs on the thread count and, under autocast, on the CPU's instructions, not on the
    spec (docs/conventions.md, "Saved for backward"). Asked of PyTorch's own backend selection."""
    from math import prod

    from archdsl.ops import OPS
    from .memory_oracle import AMP

    graph = net.analysed()
    for node in graph.nodes:
        r, ins = node.resolved, graph.nodes[node.inputs[0]].shape if node.inputs else ()
        if node.op != "convT" or r["dims"] != 3 or prod(ins) <= prod(node.shape) or OPS["convT"].cpu_storage(r, [ins], node.shape):
            continue
        dtype = AMP[amp] if amp else torch.float32
        x = torch.empty((batch, *ins), dtype=dtype)
        w = torch.empty((r["in_channels"], r["out_channels"] // r["groups"], *r["kernel_size"]), dtype=dtype)
        backend = torch._C._select_conv_backend(x, w, None, r["stride"], r["padding"], r["dilation"], True,
                                                r["output_padding"], r["groups"], None)
        if str(backend).endswith("SlowTranspose3d"):
            return True
    return False


SLOW_CONVT3D = "input 5x5x5x1\nconv 2 1 bias=no\nconvT 1 1x1x2 outpad=0x1x0 dilation=1x2x1 bias=no\nrelu\n"


@pytest.mark.parametrize("amp", [None, "bf16", "fp16"])
def test_slow_transposed_conv3d_keeps_its_input_sized_storage(amp):
    """An output padding not below the stride (allowed by the dilation) sends a 3D transposed conv
    to PyTorch's slow CPU kernel: its 1x5x6x6 output (180 values a sample) lives in a storage of
    its 2x5x5x5 input's size (250), which the in-place relu keeps (found by the autocast property test)."""
    net = archdsl.load(SLOW_CONVT3D)
    a = net.analyze(batch=2, amp=amp)
    size = 2 if amp else 4
    assert a.layers[-1].saved_bytes == 2 * 250 * size
    module = net.build()
    x = torch.randn(2, *a.input_shape)
    assert a.totals["saved_bytes"] == saved_bytes(module, x, amp)
    measured = train_peak(module, x, "sgd", amp)
    assert abs(a.totals["train_peak_bytes"] - measured) <= 0.05 * measured, (a.totals["train_peak_bytes"], measured)
    measured = inference_peak(module, x, amp)
    assert abs(a.totals["inference_peak_bytes"] - measured) <= 0.05 * measured, (a.totals["inference_peak_bytes"], measured)


@SETTINGS
@given(data=st.data())
def test_saved_bytes_of_random_networks(data):
    """Random chains with branches (the cost oracle's programs), some layers frozen."""
    shape, program = _draw_network(data)
    if not program:
        return
    names = [name for name, d in program if d["kind"] not in ("concat", "add", "mul")]
    frozen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=2)) if names else []
    spec = render(shape, program, frozen)
    note(spec)
    built = Built(shape, program)
    for name in frozen:
        built.modules[name].requires_grad_(False)
    net = archdsl.load(spec)
    for batch in (2, 3):  # PyTorch refuses batch norm's training statistics of one value
        if _kernel_not_in_the_spec(net, batch):
            note("PyTorch's CPU kernel choice is not the spec's")
            continue
        a = net.analyze(batch=batch)
        try:
            measured = _torch_saved(built, shape, batch)
        except (ValueError, RuntimeError) as err:
            note(f"PyTorch refuses it: {err}")
            return
        assert a.totals["saved_bytes"] == measured, f"batch {batch}: {a.totals['saved_bytes']:,} vs autograd {measured:,}\n{spec}"


@SETTINGS
@given(data=st.data())
def test_saved_bytes_of_swin_layers(data):
    """Shifted-window attention and patch merging (v1, v2; frozen or not) after a per-token layer
    norm, so that their input requires grad: every window, shift, padding and head count."""
    from .test_cost_oracle import draw_layer

    shape = (data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)), data.draw(st.sampled_from([2, 4, 6])))
    program = [("l0", {"kind": "layernorm", "dims": 1}), ("l1", draw_layer(data, shape, ["window_attention", "patch_merging"]))]
    frozen = ["l1"] if data.draw(st.booleans()) else []
    spec = render(shape, program, frozen)
    note(spec)
    built = Built(shape, program)
    for name in frozen:
        built.modules[name].requires_grad_(False)
    net = archdsl.load(spec)
    for batch in (2, 3):
        assert net.analyze(batch=batch).totals["saved_bytes"] == _torch_saved(built, shape, batch), spec


# ---- peaks and the optimizer ----------------------------------------------------------------

# every spec; the default run measures these, `-m slow` the others (about 10 minutes on 2 cores)
FAST_PEAKS = ["lenet5", "resnet18", "mobilenet_v2", "squeezenet1_0", "m5", "mobilenet_v3_small", "convnext_tiny"]
PEAK_SPECS = FAST_PEAKS + [pytest.param(p.stem, marks=SLOW) for p in SPEC_FILES if p.stem not in FAST_PEAKS]


@pytest.mark.parametrize("name", PEAK_SPECS)
@pytest.mark.parametrize("batch", [1, 8])
def test_inference_peak(name, batch):
    net = archdsl.load(name)
    module = net.build(device="meta")
    x = torch.randn((batch, *net.analyze().input_shape), device="meta")
    measured = inference_peak(module, x)
    estimated = net.analyze(batch=batch).totals["inference_peak_bytes"]
    assert abs(estimated - measured) <= 0.05 * measured, f"{estimated:,} vs {measured:,}"


@pytest.mark.parametrize("name", PEAK_SPECS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", pytest.param("momentum", marks=SLOW), pytest.param("adamw", marks=SLOW)])
def test_train_peak(name, batch, optimizer):
    """forward, `output.sum().backward()`, the optimizer's first step: every storage aten returns, tracked until freed."""
    net = archdsl.load(name)
    module = net.build(device="meta")
    x = torch.randn((batch, *net.analyze().input_shape), device="meta")
    measured = train_peak(module, x, optimizer)
    estimated = net.analyze(batch=batch, optimizer=optimizer).totals["train_peak_bytes"]
    assert abs(estimated - measured) <= 0.05 * measured, f"{estimated:,} vs {measured:,}"


@pytest.mark.parametrize("name", ["resnet18", "lenet5"])
def test_peaks_on_the_cpu_are_the_meta_peaks(name):
    net = archdsl.load(name)
    shape = net.analyze().input_shape
    for device in ("cpu", "meta"):
        module = net.build(device=device)
        torch.manual_seed(0)
        x = torch.randn((2, *shape), device=device)
        got = (inference_peak(module, x), train_peak(module, x, "adam"))
        if device == "cpu":
            cpu = got
    assert abs(got[0] - cpu[0]) <= 1024 and got[1] == cpu[1]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
@pytest.mark.parametrize("spec", ["resnet18", FROZEN + "freeze stem\n"])
def test_optimizer_bytes_are_what_torch_optim_holds(spec, optimizer):
    net = archdsl.load(spec)
    module = net.build(device="cpu")
    x = torch.randn((2, *net.analyze().input_shape))
    a = net.analyze(batch=2, optimizer=optimizer)
    assert a.totals["optimizer_bytes"] == optimizer_bytes(module, x, optimizer)
    grads = sum(p.numel() * p.element_size() for p in module.parameters() if p.requires_grad)
    assert a.totals["grad_bytes"] == grads
    assert a.totals["buffer_bytes"] == sum(b.numel() * b.element_size() for b in module.buffers())


def test_train_peak_with_freeze():
    net = archdsl.load(FROZEN + "freeze stem\n")
    module = net.build(device="cpu")
    x = torch.randn((4, *net.analyze().input_shape))
    measured = train_peak(module, x, "adam")
    assert abs(net.analyze(batch=4, optimizer="adam").totals["train_peak_bytes"] - measured) <= 0.05 * measured


def test_cuda_rounds_to_512_byte_blocks_and_keeps_bool_masks():
    """On CUDA every tensor takes whole 512-byte blocks of the caching allocator; dropout's mask
    is a bool tensor (CPU: the activations' dtype)."""
    spec = "input 100\nfc 100\ndropout 0.5\nfc 10\n"
    cpu = {r.name: r.saved_bytes for r in analyze_text(spec, batch=3).layers}
    cuda = {r.name: r.saved_bytes for r in analyze_text(spec, batch=3, device="cuda").layers}
    assert cpu == {"0": 3 * 100 * 4, "1": 3 * 100 * 4, "2": 3 * 100 * 4}  # the input, the mask, dropout's output
    assert cuda == {"0": 1536, "1": 512, "2": 1536}  # 1,200 bytes -> 3 blocks; a 300-byte bool mask -> 1


def test_cli_options(tmp_path):
    from .helpers import run_cli

    result, _ = run_cli(tmp_path, "input 8x8x3\nconv 4 3x3\nbn\nrelu\n", "--optimizer", "adam", "--device", "cuda")
    assert result.exit_code == 0, result.output
    assert "adam state" in result.output and "512-byte blocks" in result.output
    doc = __import__("json").loads(run_cli(tmp_path, "input 8x8x3\nconv 4 3x3\n", "--format", "json", "--optimizer", "momentum")[0].output)
    assert doc["optimizer"] == "momentum" and doc["totals"]["optimizer_bytes"] == doc["totals"]["grad_bytes"] == 4 * 112
    assert doc["layers"][0]["saved_bytes"] == 8 * 8 * 3 * 4


@pytest.mark.parametrize("spec", ["input 16x3\nmaxpool 2", "input 8x8x3\nmaxpool 2", "input 4x4x4x3\nmaxpool 2",
                                  "input 16x3\nadaptivemaxpool 4", "input 8x8x3\nadaptivemaxpool 3", "input 8x8x3\ngmp",
                                  "input 4x4x4x3\nadaptivemaxpool 2", "input 8x8x3\navgpool 2"])
def test_indices_are_what_an_eval_forward_allocates(spec):
    """torch.profiler's memory events of an eval, no-grad forward of the layer (no dispatch mode:
    under one, 1D max pooling takes the path with indices): output + int64 indices."""
    from torch.profiler import ProfilerActivity, profile

    net = archdsl.load(spec + "\n")
    a = net.analyze(batch=2)
    module = net.build().eval()
    x = torch.randn((2, *a.input_shape))
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        module(x)
    allocated = sum(e.self_cpu_memory_usage for e in prof.events() if e.self_cpu_memory_usage > 0 and e.name != "[memory]")
    layer = a.layers[0]
    assert allocated == 4 * layer.activations + 8 * layer.indices, (allocated, layer.activations, layer.indices)


# ---- autocast (--amp) -------------------------------------------------------------------------
# CPU autocast runs on real tensors (it has no meta rules): small batches, the larger specs under -m slow.

AMP_SPECS = [("lenet5", "bf16"), ("resnet18", "bf16"), ("mobilenet_v3_small", "fp16"), ("m5", "bf16"), ("alexnet", "fp16")] + [
    pytest.param(name, amp, marks=SLOW) for name, amp in (("convnext_tiny", "bf16"), ("c3d", "fp16"), ("mobilenet_v2", "bf16"),
                                                           ("googlenet", "bf16"), ("unet", "fp16"), ("efficientnet_b0", "bf16"))]


# small transformers from the library's own blocks (specs/lib): ViT's encoder, Swin's and Swin V2's stages
VIT_SMALL = """use "lib/vit.arch"
input 32x32x3
conv_proj: conv 32 8 /8
tokens
class_token: class_token
encoder: encoder 2 32 64 4
select 0
heads: { head: fc 10 }
"""
SWIN_SMALL = """use "lib/swin.arch"
input 32x32x3
features: {{
  patch_embed 16
  {stage} 16 2 2 0 4 0.1
  patch_merging{v2}
  {stage} 32 4 2 2 2 0.1
}}
norm: layernorm dims=1
permute 0 3 1 2
gap
flatten
head: fc 10
"""
TRANSFORMERS = {"vit_small": VIT_SMALL, "swin_small": SWIN_SMALL.format(stage="stage", v2=""),
                "swin_v2_small": SWIN_SMALL.format(stage="stage_v2", v2=" v2")}


def _load(name: str):
    if name in TRANSFORMERS:
        from archdsl.network import load_text

        return load_text(TRANSFORMERS[name], path=str(SPECS / f"{name}.arch"))
    return archdsl.load(name)


@pytest.mark.parametrize("name,amp", AMP_SPECS + [(name, amp) for name in TRANSFORMERS for amp in ("bf16", "fp16")])
def test_saved_bytes_under_autocast(name, amp):
    """What autograd saves in a training forward under torch.autocast on the CPU: casts of inputs
    and weights, float32 statistics, the 3D pools' float32 copies, LRN's float32 steps, the
    transformer layers' float32 softmax (attention's MATH backend: float32 q, k and v)."""
    net = _load(name)
    module = net.build()
    x = torch.randn((2, *net.analyze().input_shape))
    assert net.analyze(batch=2, amp=amp).totals["saved_bytes"] == saved_bytes(module, x, amp)


AMP_PEAKS = ["lenet5", "squeezenet1_0", "mobilenet_v3_small", *TRANSFORMERS] + [
    pytest.param(name, marks=SLOW) for name in ("resnet18", "mobilenet_v2", "alexnet", "convnext_tiny", "c3d")]


@pytest.mark.parametrize("name", AMP_PEAKS)
def test_peaks_under_autocast(name):
    """Training step (forward and loss under autocast, backward and the optimizer outside) and
    eval inference, on the CPU, within 5%. With SGD the peak falls in the backward (where the
    casts' float32 gradients are made after the layer frees what it saved), with Adam at the
    step. (m5 is left out of the inference check: under a dispatch mode its 1D max pooling makes
    indices that a plain forward does not.) vit_small's first attention, on a float32 input,
    takes the fused _native_multi_head_attention in the eval, no-grad forward, the second the
    MATH path, whose float32 steps hold its inference peak."""
    net = _load(name)
    module = net.build()
    x = torch.randn((2, *net.analyze().input_shape))
    for optimizer in ("sgd", "adam"):  # a tiny Swin V2's peaks fall in its position-bias MLP's backward
        a = net.analyze(batch=2, amp="bf16", optimizer=optimizer)
        measured = train_peak(module, x, optimizer, "bf16")
        assert abs(a.totals["train_peak_bytes"] - measured) <= 0.05 * measured, (optimizer, a.totals["train_peak_bytes"], measured)
    measured = inference_peak(module, x, "bf16")
    assert abs(a.totals["inference_peak_bytes"] - measured) <= 0.05 * measured, (a.totals["inference_peak_bytes"], measured)


@pytest.mark.parametrize("spec", ["input 32x17\nattention 4\nattention 4\n", "input 30x17\nattention 3\n",
                                  "input 16x50\nattention 8\nattention 8\n", "input 32x9\nattention 4\nattention 4 bias=no\n"])
@pytest.mark.parametrize("batch", [1, 3])
def test_attention_inference_peak_under_autocast(spec, batch):
    """The MATH path's float32 steps under CPU autocast (a lower-precision input, odd heads or no
    biases; a float32 input with an even number of heads takes the fused path, whose temporaries
    the dispatch mode does not see: the first layer, below the second's peak here)."""
    net = archdsl.load(spec)
    x = torch.randn((batch, *net.analyze().input_shape))
    assert net.analyze(batch=batch, amp="bf16").totals["inference_peak_bytes"] == inference_peak(net.build(), x, "bf16")


@pytest.mark.parametrize("spec", ["input 28x192x28\nwindow_attention 6 7 shift=3\n", "input 14x64x14\nwindow_attention 2 7 v2\n",
                                  "input 11x64x13\nwindow_attention 4 7 shift=3 v2\n", "input 14x64x14\nwindow_attention 1 7 shift=3\n",
                                  "input 28x96x28\nwindow_attention 3 7\nwindow_attention 3 7 shift=3\n"])
@pytest.mark.parametrize("amp", [None, "bf16"])
def test_window_attention_inference_peak(spec, amp):
    """Swin layers' temporaries in an eval forward (padding, shift, v2, one head, a lower-precision
    input under autocast), in their dtypes, within 1%; a shifted window with one head, in float32,
    holds its peak in the mask's own steps instead (0.967)."""
    net = archdsl.load(spec)
    device = "cpu" if amp else "meta"  # autocast has no meta rules
    x = torch.randn((3, *net.analyze().input_shape), device=device)
    measured = inference_peak(net.build(device=device), x, amp)
    tolerance = 0.05 if "window_attention 1 " in spec and not amp else 0.01
    assert abs(net.analyze(batch=3, amp=amp).totals["inference_peak_bytes"] - measured) <= tolerance * measured


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_train_peak_in_the_position_bias_mlps_backward(amp):
    """A lone Swin V2 layer at batch 1: its step's peak is in the cpb_mlp's backward, run last."""
    net = archdsl.load("input 8x8x16\nwindow_attention 2 4 v2\n")
    x = torch.randn((1, *net.analyze().input_shape))
    measured = train_peak(net.build(), x, "sgd", amp)
    assert abs(net.analyze(batch=1, amp=amp).totals["train_peak_bytes"] - measured) <= 0.01 * measured


@SETTINGS
@given(data=st.data())
def test_saved_bytes_of_random_networks_under_autocast(data):
    shape, program = _draw_network(data)
    if not program:
        return
    amp = data.draw(st.sampled_from(["bf16", "fp16"]))
    spec = render(shape, program, [])
    note(spec)
    net = archdsl.load(spec)
    if _kernel_not_in_the_spec(net, 2, amp):
        note("PyTorch's CPU kernel choice is not the spec's")
        return
    a = net.analyze(batch=2, amp=amp)
    try:  # the module archdsl builds: under autocast the order of a merge's mixed-dtype adds matters
        measured = saved_bytes(net.build(), torch.randn((2, *shape)), amp)
    except (ValueError, RuntimeError) as err:
        note(f"PyTorch refuses it: {err}")
        return
    assert a.totals["saved_bytes"] == measured, f"{amp}: {a.totals['saved_bytes']:,} vs autograd {measured:,}\n{spec}"


@SETTINGS
@given(data=st.data())
def test_saved_bytes_of_transformer_layers_under_autocast(data):
    """Attention, window attention and patch merging (v1, v2; frozen or not) under autocast, after
    a per-token layer norm so that their input requires grad, or first (it does not)."""
    from .test_cost_oracle import draw_layer

    kind = data.draw(st.sampled_from(["attention", "window_attention", "patch_merging"]))
    shape = (data.draw(st.integers(1, 9)), data.draw(st.sampled_from([2, 4, 6])))
    if kind != "attention":
        shape = (data.draw(st.integers(1, 9)), *shape)
    program = [("l0", {"kind": "layernorm", "dims": 1})] if data.draw(st.booleans()) else []
    program.append((f"l{len(program)}", draw_layer(data, shape, [kind])))
    frozen = [program[-1][0]] if data.draw(st.booleans()) else []
    amp = data.draw(st.sampled_from(["bf16", "fp16"]))
    spec = render(shape, program, frozen)
    note(spec)
    net = archdsl.load(spec)
    if not any(node.grad for node in net.analysed().nodes):
        return  # frozen and first: nothing records a graph
    module = net.build()
    for name in frozen:
        module.get_submodule(name).requires_grad_(False)
    for batch in (2, 3):
        assert net.analyze(batch=batch, amp=amp).totals["saved_bytes"] == saved_bytes(module, torch.randn((batch, *shape)), amp), spec


def test_amp_needs_a_float32_model():
    with pytest.raises(archdsl.ArchError, match="autocast runs a float32 model"):
        analyze_text("input 4\nfc 2", amp="bf16", dtype="float16")


def test_amp_in_json_and_fit(tmp_path):
    from .helpers import run_cli

    doc = __import__("json").loads(run_cli(tmp_path, "input 8x8x3\nconv 4 3x3\n", "--format", "json", "--amp", "bf16")[0].output)
    assert doc["amp"] == "bf16"
    assert doc["layers"][0]["saved_bytes"] == 8 * 8 * 3 * 2 + 4 * 3 * 3 * 3 * 2  # the input's and the weight's bf16 casts


# ---- checkpoint NAME ----------------------------------------------------------------------------

def _flops(module, x) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    module.train()
    with FlopCounterMode(display=False) as counter:
        out = module(x)
        sum(o.sum() for o in (out if isinstance(out, tuple) else (out,))).backward()
    return counter.get_total_flops()


ENDS_IN_A_CONV = """
input 64x64x3
stem: conv 16 3x3 pad=1 bn act=relu
body: { conv 16 3x3 pad=1 ; relu ; conv 16 3x3 pad=1 }
head: { gap ; fc 10 }
"""

CHECKPOINTS = [("resnet18", "layer3", None), ("resnet18", "layer1, layer4", None), ("mobilenet_v2", "features.3", None),
               (FROZEN + "freeze stem\n", "body", None), ("resnet18", "layer2", "bf16"),
               (ENDS_IN_A_CONV, "body", None), (ENDS_IN_A_CONV, "body", "bf16")]


def _text(spec: str) -> str:
    return spec if "\n" in spec else (SPECS / f"{spec}.arch").read_text()


@pytest.mark.parametrize("spec,blocks,amp", CHECKPOINTS, ids=lambda v: str(v)[:20].replace("\n", " "))
def test_checkpoint_against_pytorch(spec, blocks, amp):
    """The built module runs the blocks through torch.utils.checkpoint: what stays alive for
    backward (autograd's saved tensors and the blocks' inputs: saved_tensors_hooks, and every
    storage still alive after the forward), the training peak, and FlopCounterMode's count of
    forward + backward (the recomputed forward included; a block's last conv, whose input is all
    it keeps, is not run again)."""
    from .memory_oracle import kept_bytes

    plain, net = archdsl.load(_text(spec)), archdsl.load(_text(spec) + f"\ncheckpoint {blocks}\n")
    shape = (2, *net.analyze().input_shape)
    module = net.build()
    a, before = net.analyze(batch=2, amp=amp), plain.analyze(batch=2, amp=amp)
    assert a.totals["saved_bytes"] < before.totals["saved_bytes"]
    assert a.totals["saved_bytes"] == saved_bytes(module, torch.randn(shape), amp) == kept_bytes(module, shape, amp)
    measured = train_peak(module, torch.randn(shape), "sgd", amp)
    assert abs(a.totals["train_peak_bytes"] - measured) <= 0.05 * measured, (a.totals["train_peak_bytes"], measured)
    # FlopCounterMode counts a grouped conv's weight gradient `groups` times (test_flop_counter_groups): MobileNet left out
    if amp is None and spec != "mobilenet_v2":
        assert 2 * a.totals["train_step_macs"] == _flops(module, torch.randn(shape))
        assert 2 * before.totals["train_step_macs"] == _flops(plain.build(), torch.randn(shape))
        assert a.totals["train_step_macs"] - before.totals["train_step_macs"] == a.totals["recomputed_macs"] > 0


def test_checkpointed_source_is_the_built_module(tmp_path):
    """-o model.py: the same state_dict, outputs and saved bytes as the built module."""
    import importlib.util

    net = archdsl.load(_text("resnet18") + "\ncheckpoint layer2\n")
    path = tmp_path / "model.py"
    path.write_text(net.source())
    spec = importlib.util.spec_from_file_location("model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert "checkpoint(self.layer2, x, use_reentrant=False)" in path.read_text()
    built = net.build()
    emitted = getattr(mod, type(built).__name__)()
    emitted.load_state_dict(built.state_dict())
    x = torch.randn(2, *net.analyze().input_shape)
    assert saved_bytes(emitted, x) == saved_bytes(built, x) == net.analyze(batch=2).totals["saved_bytes"]
    built.eval(), emitted.eval()
    assert torch.allclose(built(x), emitted(x))


@pytest.mark.parametrize("line,message", [("checkpoint layer", "nothing is named 'layer'"),
                                          ("checkpoint a, a.b", "'a.b' is inside 'a'")])
def test_checkpoint_errors(line, message):
    with pytest.raises(archdsl.ArchError, match=message):
        analyze_text("input 8x8x3\na: { conv 3 3x3 pad=1 ; b: { relu } }\n" + line)


def test_flop_counter_groups():
    """Why the grouped convs are left out above: FlopCounterMode's convolution_backward counts the
    weight gradient of a conv with g groups g times its forward (here 4x for a depthwise conv on
    4 channels); archdsl counts it once, as the arithmetic is."""
    net = archdsl.load("input 8x8x4\nconv 4 3x3 pad=1\nconv 4 3x3 pad=1 groups=4\n")
    a = net.analyze(batch=2)
    depthwise = a.layers[-1].macs
    assert _flops(net.build(), torch.randn(2, 4, 8, 8)) == 2 * (a.totals["train_step_macs"] + (4 - 1) * depthwise)
