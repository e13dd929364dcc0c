"""`--convention`: every other tool's MACs, to the unit, against the tool itself.

The oracle is the real tool (tests/tool_oracle.py: fvcore, torchinfo, ptflops with its pytorch
and aten backends, thop, FlopCounterMode), run on the module archdsl builds for the spec
(`Network.build`), in eval mode, at batch 1 (ptflops runs nothing else). Under every convention
but flopcounter the tool's number is the `macs` total; FlopCounterMode reports FLOPs, the `flops`
total. Specs with branches (concat, residual adds, gates, crops) by default at a small input;
the library's large networks at their own input under `-m slow`; random networks of every op
(the cost oracle's programs, tests/test_cost_oracle.py) by hypothesis.
"""
from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")
for _tool in ("fvcore", "ptflops", "thop", "torchinfo"):
    pytest.importorskip(_tool)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import archdsl  # noqa: E402
from archdsl.figures import CONVENTIONS  # noqa: E402

from .conftest import SPECS  # noqa: E402
from .helpers import analyze_text  # noqa: E402
from .test_cost_oracle import draw_program, draw_single_layer, note, render  # noqa: E402
from .tool_oracle import TOOLS, measure  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

EXAMPLES = int(os.environ.get("ARCHDSL_CONVENTION_EXAMPLES", 25))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def reported(analysis, tool: str) -> int:
    """archdsl's total that `tool`'s number is: FLOPs for FlopCounterMode, MACs for the others."""
    return analysis.totals["flops" if tool == "flopcounter" else "macs"]


def check(net, tools=TOOLS, batch: int = 1) -> None:
    module = net.build()
    shape = net.analyze().input_shape
    wrong = []
    for tool in tools:
        want = reported(net.analyze(batch=batch, convention=tool), tool)
        got = measure(module, shape, tool, batch)
        if got != want:
            wrong.append(f"{tool}: the tool says {got:,}, archdsl --convention {tool} {want:,}")
    assert not wrong, "\n".join(wrong)


# ---- specs -----------------------------------------------------------------------------------

SMALL = [  # (spec, --input): branches of every kind, at an input small enough for the default run
    ("lenet5", None),
    ("m5", None),  # 1D
    ("squeezenet1_0", "64x64x3"),  # concat
    ("resnet18", "64x64x3"),  # residual adds
    ("mobilenet_v2", "64x64x3"),  # relu6, adds without a relu after them
    ("efficientnet_b0", "64x64x3"),  # squeeze-and-excitation gates (mul), silu, stochastic depth
    ("unet", None),  # crops, transposed convs, concat: U-Net's two levels below (TINY_UNET)
]
TINY_UNET = """input 36x36x1
enc1: { conv 8 3x3 ; relu ; conv 8 3x3 ; relu }
enc2: maxpool 2x2 -> { conv 16 3x3 ; relu ; conv 16 3x3 ; relu }
up: convT 8 2x2 /2
dec: concat { @enc1 -> crop 24x24 ; @up }
head: { conv 8 3x3 ; relu ; conv 2 1x1 }
"""
LARGE = ["googlenet", "densenet121", "resnet50", "mobilenet_v2", "squeezenet1_0", "unet", "inception_v3",
         "convnext_tiny", "efficientnet_b0", "shufflenet_v2_x1_0", "vgg16_bn", "alexnet", "mobilenet_v3_small",
         "regnet_y_400mf", "mnasnet0_5", "c3d", "swin_t", "swin_v2_t"]


@pytest.mark.parametrize("name,size", SMALL, ids=[n for n, _ in SMALL])
def test_every_tool_on_small_specs(name, size):
    check(archdsl.load(TINY_UNET if name == "unet" else name, input=size))


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE)
def test_every_tool_on_library_specs(name):
    check(archdsl.load(name))


@pytest.mark.parametrize("tool", ["fvcore", "torchinfo", "thop", "flopcounter"])
def test_tools_that_take_a_batch_count_it_as_archdsl_scales_it(tool):
    """ptflops runs at batch 1 only; the others at batch 3 count three times batch 1, as archdsl."""
    check(archdsl.load("squeezenet1_0", input="64x64x3"), tools=(tool,), batch=3)


# ---- random networks --------------------------------------------------------------------------


def check_program(shape, program) -> None:
    spec = render(shape, program)
    note(spec)
    check(archdsl.load(spec))


@SETTINGS
@given(data=st.data())
def test_every_tool_on_a_single_random_layer(data):
    """One layer: the network's total is that layer's figure, op by op."""
    drawn = draw_single_layer(data)
    if drawn is not None:
        shape, d = drawn
        check_program(shape, [("l0", d)])


@SETTINGS
@given(data=st.data())
def test_every_tool_on_random_networks(data):
    shape, program = draw_program(data, data.draw(st.sampled_from([1, 2, 2, 3])), data.draw(st.integers(1, 7)))
    if program:
        check_program(shape, program)


# ---- fixed examples: the cases each tool counts its own way ---------------------------------------


@pytest.mark.parametrize("text", [
    "input 8x8x4\ncrop 3\nfc 5 last",  # ptflops-aten: mm, then the bias added by an op it does not count
    "input 8x8x4\nfc 5 last",  # torchinfo: the parameters once, not at each of the 32 positions
    "input 8x8x4\nconvT 6 2x2 /2",  # torchinfo and thop count it as a convolution
    "input 9x9x4\nadaptiveavgpool 2x4",  # thop: float64, truncated
    "input 4x4x4\nlrn 3",  # ptflops: the Tensor.mul, Tensor.add and avg_pool3d inside F.local_response_norm
    "input 4x4x3\nupsample 2 mode=bilinear",
    "input 4x4x4x3\nupsample 2 mode=trilinear",  # thop: no rule for trilinear
    "input 6x6x8\nconv 8 1\nrelu\nb: add {\n  { conv 8 3 pad=1 ; bn ; relu }\n  identity\n}\nsoftmax",
])
def test_fixed_networks(text):
    check(archdsl.load(text + "\n"))


@pytest.mark.parametrize("text", [
    # nn.MultiheadAttention's fast path (even heads, with biases): no tool sees it
    "input 8x8x3\nconv 8 2 /2\ntokens\nclass_token\npos_embedding\nattention 2\nselect 0\nfc 3",
    # the slow path: odd heads, or no biases; in-projection biases in addmm on a contiguous input
    "input 8x8x3\nconv 6 2 /2\ntokens\nattention 3\nattention 3 bias=no\nselect 0\nfc 3",
    "input 8x8x3\nconv 6 2 /2\ntokens\nclass_token\nlayernorm dims=1\nattention 3\nattention 1 bias=no\nselect 1\nfc 3",
])
def test_vit_layers(text):
    """ViT's layers: the views, the class token's concatenation and the position embedding's `+`
    counted by nobody; attention as each tool sees nn.MultiheadAttention (ops/attention.py)."""
    check(archdsl.load(text + "\n"))


@pytest.mark.parametrize("text", [
    "input 8x8x16\npermute 0 2 3 1\nlayernorm dims=1\nwindow_attention 2 4",
    "input 8x8x16\npermute 0 2 3 1\nlayernorm dims=1\nwindow_attention 2 4 shift=2",
    "input 7x10x12\npermute 0 2 3 1\nwindow_attention 3 4 shift=2",  # padded to 8x12
    "input 8x8x16\npermute 0 2 3 1\nwindow_attention 2 4 v2",
    "input 7x10x12\npermute 0 2 3 1\nlayernorm dims=1\nwindow_attention 3 4 shift=2 v2",
    # ptflops-aten: the windows of a permuted map are a view, contiguous (addmm, bias counted) or not (mm)
    "input 4x4x8\npermute 0 2 3 1\nwindow_attention 1 4",
    "input 8x4x12\npermute 0 2 3 1\nwindow_attention 2 4",
    "input 8x8x8\npermute 0 2 3 1\nwindow_attention 2 4",
    "input 8x8x16\npermute 0 2 3 1\npatch_merging",
    "input 7x9x6\npermute 0 2 3 1\npatch_merging",  # padded to even sizes
    "input 8x8x16\npermute 0 2 3 1\npatch_merging v2",
    "input 7x9x6\npermute 0 2 3 1\npatch_merging v2",
])
def test_swin_layers(text):
    """torchvision's ShiftedWindowAttention(V2) and PatchMerging(V2), as archdsl builds them."""
    check(archdsl.load(text + "\n"))


@pytest.mark.parametrize("name", ["swin_t", "swin_v2_t"])
def test_swin_at_a_small_input(name):
    check(archdsl.load(name, input="64x64x3"))


@pytest.mark.parametrize("tool", ["fvcore", "torchinfo", "thop", "flopcounter"])
def test_swin_v2s_position_bias_mlp_runs_once_per_forward_in_every_tool(tool):
    """The cpb_mlp reads only the layer's buffer: at batch 3 every tool counts it once."""
    check(archdsl.load("input 8x8x16\npermute 0 2 3 1\nwindow_attention 2 4 v2\n"), tools=(tool,), batch=3)


def test_fvcore_cannot_count_a_same_padded_convolution():
    """A tool that cannot count something, recorded: PyTorch's padding="same" traces as
    aten::_convolution_mode, which fvcore has no rule for (docs/conventions.md, note 9)."""
    net = archdsl.load("input 8x8x4\nconv 4 2x2 pad=same\n")
    assert measure(net.build(), (4, 8, 8), "fvcore") == 0 == net.analyze(convention="fvcore").totals["macs"]
    assert net.analyze().totals["macs"] == 4 * 4 * 2 * 2 * 64
    check(net)


@pytest.mark.xfail(strict=True, reason="an elementwise layer keeps a permuted layout in PyTorch; archdsl counts its "
                   "output contiguous, so aten's linear is mm + add_ (no bias counted by ptflops-aten) where archdsl "
                   "expects addmm (docs/conventions.md, note 1)")
def test_ptflops_aten_after_an_elementwise_layer_on_a_permuted_tensor():
    check(archdsl.load("input 8x8x4\npermute 0 2 3 1\ngelu\nfc 3 last\n"), tools=("ptflops-aten",))


# ---- the option itself --------------------------------------------------------------------------


def test_the_default_is_archdsl_and_flops_are_twice_macs_in_every_convention():
    net = archdsl.load("resnet18", input="64x64x3")
    assert net.analyze().convention == "archdsl"
    assert net.analyze().totals == net.analyze(convention="archdsl").totals
    for convention in CONVENTIONS:
        a = net.analyze(convention=convention, batch=2, depth=1)
        assert a.totals["flops"] == 2 * a.totals["macs"]
        assert sum(r.macs for r in a.layers) == a.totals["macs"]  # per layer too, collapsed or not
        followers = ("macs", "flops", "train_step_macs")  # the step's forward is the convention's MACs
        unchanged = {k: v for k, v in a.totals.items() if k not in followers}
        assert unchanged == {k: v for k, v in net.analyze(batch=2).totals.items() if k not in followers}
        assert a.totals["train_step_macs"] == a.totals["macs"] + a.totals["backward_macs"] + a.totals["recomputed_macs"]


def test_the_convention_in_every_format(tmp_path):
    from click.testing import CliRunner

    from archdsl.cli import main

    spec = str(SPECS / "lenet5.arch")
    run = lambda *args: CliRunner().invoke(main, ["analyze", spec, *args])  # noqa: E731
    doc = json.loads(run("--format", "json", "--convention", "thop").output)
    assert doc["convention"] == "thop"
    assert json.loads(run("--format", "json").output)["convention"] == "archdsl"
    table = run("--convention", "ptflops-aten").output
    assert "MACs as ptflops-aten counts them" in table.splitlines()[0]
    assert "ptflops-aten" not in run().output
    assert run("--format", "markdown", "--convention", "fvcore").output.startswith(
        "### lenet5 (batch 1, float32, MACs as fvcore counts them)")
    rows = run("--format", "csv", "--convention", "torchinfo").output.splitlines()
    assert rows[0].endswith(",file,convention") and all(r.endswith(",torchinfo") for r in rows[1:])
    bad = run("--convention", "flopth")
    assert bad.exit_code == 2 and "flopth" in bad.output and "fvcore" in bad.output


def test_an_unknown_convention_in_the_api_is_a_usage_error():
    with pytest.raises(archdsl.ArchError, match="unknown convention 'fvcore2'") as err:
        analyze_text("input 4\nfc 2", convention="fvcore2")
    assert "torchinfo" in err.value.hint
