"""`archdsl compare`: each network's figures are the ones its own `archdsl analyze` prints (and, for
parameters, what the built module holds); a golden table whose numbers are worked out by hand;
depth against the number in the networks' names; the accuracies against torchvision's; the plot."""
import json
import re
import sys

import pytest
from click.testing import CliRunner

import archdsl
from archdsl.cli import main

from .conftest import DATA, SPECS

# Hand calculation (docs/conventions.md):
#   conv 4 3x3 on 8x8x3: params 4·3·3·3 + 4 = 112, MACs 8·8·4·27 = 6,912
#   fc 2 on 4 features:  params 4·2 + 2 = 10,       MACs 4·2 = 8
#   totals: params 122, MACs 6,920, FLOPs 13,840
#   activations: input 192 + conv 256 + relu in place 0 + gap 4 + fc 2 = 454 (1,816 bytes in float32)
#   saved for backward: conv's input 192·4 + relu's output 256·4 + fc's input 4·4 = 1,808 bytes
#   inference peak (at gap): weights 122·4 + input 768 + conv output 1,024 + gap output 16 = 2,296 bytes
#   depth 2 (conv, fc); receptive field: 3x3 /1 after the conv, the whole 8x8 window of 3x3s (10x10) /8 after gap
TINY = """\
network tiny top1=50
input 8x8x3
conv 4 3x3 pad=1
relu
gap
fc 2
"""
TINY_TABLE = """\
compare  (batch 1, dtype float32, optimizer sgd, device cpu)
network  input  params  MACs  FLOPs  activations  act. memory  saved  train peak  infer. peak  depth        RF  top-1 %
tiny     8x8x3     122  6.9K  13.8K          454        1.8KB  1.8KB       4.4KB        2.3KB      2  10x10 /8       50
"""
TINY_CSV_ROW = "tiny,8x8x3,122,6920,13840,454,1816,1808,{train},2296,2,10x10 /8,50.0,4,tiny.arch"


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_golden_table_and_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.arch").write_text(TINY)
    result = invoke("compare", "tiny.arch")
    assert result.exit_code == 0, result.output
    assert result.output == TINY_TABLE
    result = invoke("compare", "tiny.arch", "--format", "csv")
    train = archdsl.load("tiny.arch").analyze().totals["train_peak_bytes"]  # not worked out by hand: see below
    assert result.output.splitlines()[1] == TINY_CSV_ROW.format(train=train)
    result = invoke("compare", "tiny.arch", "--format", "markdown")
    assert "| tiny | 8x8x3 | 122 | 6.9K | 13.8K | 454 | 1.8KB | 1.8KB | 4.4KB | 2.3KB | 2 | 10x10 /8 | 50 |" in result.output


OPTIONS = [("--batch", "4", "--dtype", "float16", "--optimizer", "adam"), ("--device", "cuda", "--optimizer", "momentum")]


@pytest.mark.parametrize("options", OPTIONS)
def test_figures_are_each_networks_own_analyze_json(options):
    names = ["lenet5", "resnet18", "googlenet", "unet"]
    result = invoke("compare", *names, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "archdsl.compare/1"
    for name, entry in zip(names, doc["networks"], strict=True):
        own = json.loads(invoke("analyze", name, "--format", "json", *options).output)
        assert entry["network"] == own["network"]
        assert entry["totals"] == own["totals"]  # params, MACs, FLOPs, activations, saved, both peaks, ...
        assert entry["input"] == own["input"]["shape"]
        out = own["outputs"][0]["name"]
        assert entry["receptive_field"] == [r for r in own["layers"] if r["name"] == out][-1]["receptive_field"]
        for key in ("batch", "dtype", "optimizer", "device"):
            assert doc[key] == own[key]


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "googlenet", "mobilenet_v2", "unet", "alexnet"])
def test_params_are_the_built_modules(name):
    pytest.importorskip("torch")
    module = archdsl.load(name).build(device="meta")
    entry = json.loads(invoke("compare", name, "--format", "json").output)["networks"][0]
    assert entry["totals"]["params"] == sum(p.numel() for p in module.parameters())


# Depth is the number papers put in the name: conv and fc layers on the longest path.
DEPTHS = {
    "resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101, "resnet152": 152,
    "vgg11": 11, "vgg13": 13, "vgg16": 16, "vgg19": 19, "vgg16_bn": 16,
    "densenet121": 121, "densenet161": 161, "densenet169": 169, "densenet201": 201,
    "googlenet": 22,  # Szegedy et al. 2015: "22 layers deep when counting only layers with parameters"
    "inception_v3": 48,  # "48 layers deep" (torchvision's and Keras' descriptions)
    "alexnet": 8,  # five conv, three fc
    "lenet5": 5,  # LeCun et al. 1998's C1, C3, C5, F6 and the output layer
    "unet": 23,  # Ronneberger et al. 2015: "In total the network has 23 convolutional layers"
}


def test_depth_is_the_number_in_the_name():
    doc = json.loads(invoke("compare", *DEPTHS, "--format", "json").output)
    assert {n["network"]: n["depth"] for n in doc["networks"]} == DEPTHS


def test_recorded_accuracies_are_torchvisions():
    documented = {k: v for k, v in json.loads((DATA / "torchvision_top1.json").read_text()).items() if not k.startswith("_")}
    recorded = {}
    for path in sorted(SPECS.glob("*.arch")):
        top1 = archdsl.load(path).graph.records.get("top1")
        if top1 is not None:
            recorded[path.stem] = top1
    assert recorded == documented
    doc = json.loads(invoke("compare", "resnet50", "lenet5", "--format", "json").output)
    assert [n["top1"] for n in doc["networks"]] == [76.13, None]


def test_warnings_reach_standard_error():
    result = CliRunner().invoke(main, ["compare", "squeezenet1_0"])
    assert result.exit_code == 0
    assert "warning[W0001]:" in result.stderr and "features.0" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["compare"], "error[E0901]: compare needs at least one SPEC"),
    (["compare", "resnet50", "nosuch.arch"], "error[E0001]: no spec 'nosuch.arch': it is neither a file nor a spec of the library"),
    (["compare", "resnet50", "--plot", "chart.pdf"], "error[E0901]: --plot chart.pdf: write a .png or an .svg file"),
    (["compare", "resnet50", "lenet5", "--plot", "c.png", "--plot-y", "top1"], "error[E0902]: --plot-y top1: lenet5 records no accuracy"),
    (["compare", "resnet50", "--batch", "0"], "error[E0901]: --batch must be at least 1, not 0"),
])
def test_errors_are_one_sentence(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code in (1, 2)
    assert result.output.splitlines()[0] == message
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_spec_that_does_not_analyse_is_located(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.arch").write_text("input 8x8x3\nconv 4 9x9\n")
    result = invoke("compare", "lenet5", "bad.arch")
    assert result.exit_code == 1
    assert result.output.startswith("bad.arch:2:1: error[E0501]:") and "Traceback" not in result.output


def test_plot_png_and_svg(tmp_path):
    pytest.importorskip("matplotlib")
    names = ["resnet18", "resnet50", "vgg16", "mobilenet_v2"]
    png, svg = tmp_path / "c.png", tmp_path / "c.svg"
    assert invoke("compare", *names, "--plot", str(png)).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = CliRunner().invoke(main, ["compare", *names, "lenet5", "--plot", str(svg), "--plot-x", "flops"])
    assert result.exit_code == 0 and result.stderr == f"wrote {svg}\n"
    text = svg.read_text()
    for name in [*names, "lenet5"]:  # one label per network, as text
        assert re.search(rf">{name}<", text), name
    assert "parameters (millions)" in text and "GFLOPs" in text  # lenet5 records no accuracy: parameters
    assert "top-1 accuracy" not in text


def test_plot_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails as if not installed
    result = invoke("compare", "resnet50", "--plot", str(tmp_path / "c.png"))
    assert result.exit_code == 1
    assert result.output == "error[E0708]: --plot needs matplotlib, which is not installed: pip install 'archdsl[plot]'\n"
    assert not (tmp_path / "c.png").exists()


def test_python_api():
    from archdsl.compare import compare

    nets = [archdsl.load("resnet18"), archdsl.load("resnet50")]
    one, two = compare(nets, batch=8)
    assert (one.depth, two.depth) == (18, 50)
    assert two.totals == nets[1].analyze(batch=8).totals


def test_plot_into_a_missing_folder(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "nowhere" / "c.png"
    result = invoke("compare", "lenet5", "--plot", str(target))
    assert result.exit_code == 2
    assert result.output == f"error[E0903]: cannot write {target}: No such file or directory\n"


def test_a_narrow_terminal_leaves_out_columns_in_the_stated_order():
    """At 100, 80 and 60 columns every line of the table fits; the columns left out are the first
    of DROP_ORDER, each network's cells in the columns kept are the full table's, and a last
    line names what `--wide` adds."""
    from archdsl.compare import compare as summarise
    from archdsl.report.compare import COLUMNS, DROP_ORDER, table_lines

    header = {key: text for key, text, _, _ in COLUMNS}
    nets = [archdsl.load(SPECS / f"{n}.arch") for n in ("resnet18", "resnet50", "vgg16", "efficientnet_b0")]
    summaries = summarise(nets)
    settings = {"batch": 1, "dtype": "float32", "optimizer": "sgd", "device": "cpu"}
    full = table_lines(summaries, settings)
    assert max(map(len, full)) > 80 and table_lines(summaries, settings, 10_000) == full
    full_headers = re.split(r"  +", full[1])
    for width in (100, 80, 60):
        lines = table_lines(summaries, settings, width)
        table, note = lines[1:2 + len(summaries)], lines[2 + len(summaries):]
        assert max(map(len, table)) <= width and not any(line.endswith(" ") for line in lines)
        headers = re.split(r"  +", table[0])
        left_out = [header[k] for k in DROP_ORDER[:len(full_headers) - len(headers)]]
        assert set(headers) == set(full_headers) - set(left_out)
        assert {"network", "params", "MACs", "top-1 %"} <= set(headers)
        assert " ".join(note) == f"(--wide: also {', '.join(left_out)})"
        kept = [full_headers.index(h) for h in headers]
        for row, full_row in zip(table[1:], full[2:]):
            assert re.split(r"  +", row.strip()) == [re.split(r"  +", full_row.strip())[i] for i in kept]


def test_compare_on_a_terminal_and_wide():
    from .test_table import run_in_terminal

    specs = [str(SPECS / f"{n}.arch") for n in ("resnet18", "vgg16")]
    _, lines = run_in_terminal(["compare", *specs], 80)
    assert max(map(len, lines)) <= 80 and lines[-1].startswith("(--wide: also FLOPs")
    _, wide = run_in_terminal(["compare", *specs, "--wide"], 80)
    assert max(map(len, wide)) > 80 and wide == invoke("compare", *specs).output.splitlines()
    pair = [str(SPECS / "resnet50.arch"), str(SPECS / "resnet101.arch"), "--depth", "1"]
    _, lines = run_in_terminal(["diff", *pair], 80)
    assert max(map(len, lines)) <= 80 and any(line.lstrip().startswith("->") for line in lines)  # the layer wrapped
    _, wide = run_in_terminal(["diff", *pair, "--wide"], 80)
    assert max(map(len, wide)) > 80 and wide == invoke("diff", *pair).output.splitlines()
