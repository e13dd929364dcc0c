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
           "convnext_base", "convnext_large"}
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


def _torch_saved(built: Built, shape: tuple, batch: int) -> int:
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
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        built.forward(x)
    return sum(seen.values())


def _oversized_storage(d: dict, shape: tuple) -> bool:
    """A CPU kernel quirk left out (docs/conventions.md): a 3D transposed conv with a 1x1x1 kernel
    and fewer filters than input channels may return its output in a storage as large as its
    input (slow_conv_transpose3d; by the batch and the number of threads)."""
    return d["kind"] == "convT" and len(shape) == 4 and set(d["k"]) == {1} or any(
        _oversized_storage(layer, shape) for branch in d.get("branches", ()) for layer in branch)


@SETTINGS
@given(data=st.data())
def test_saved_bytes_of_random_networks(data):
    """Random chains with branches (the cost oracle's programs), some layers frozen."""
    rank = data.draw(st.integers(1, 3))
    shape, program = draw_program(data, rank, data.draw(st.integers(1, 6)))
    if not program or any(_oversized_storage(d, shape) for _, d in program):
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
        a = net.analyze(batch=batch)
        try:
            measured = _torch_saved(built, shape, batch)
        except (ValueError, RuntimeError) as err:
            note(f"PyTorch refuses it: {err}")
            return
        assert a.totals["saved_bytes"] == measured, f"batch {batch}: {a.totals['saved_bytes']:,} vs autograd {measured:,}\n{spec}"


# ---- peaks and the optimizer ----------------------------------------------------------------

PEAK_SPECS = ["lenet5", "resnet18", "mobilenet_v2", "squeezenet1_0", "m5", "mobilenet_v3_small", "convnext_tiny"] + [
    pytest.param(name, marks=SLOW) for name in ("googlenet", "vgg11_bn", "densenet121", "inception_v3", "unet", "c3d",
                                                  "resnet50", "alexnet", "mobilenet_v3_large", "efficientnet_b0",
                                                  "efficientnet_v2_s", "vit_b_16", "vit_b_32")]


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
