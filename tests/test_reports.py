"""The report formats: golden files pin the layout of the table and the JSON contract; every
number in the golden files is also checked here against a hand calculation, so regenerating them
(python -m tests.golden.regen) cannot hide a wrong figure."""
import csv
import io
import json

from click.testing import CliRunner

from archdsl.cli import main

from .conftest import ROOT, SPECS

GOLDEN = ROOT / "tests" / "golden"


def run(*args):
    result = CliRunner().invoke(main, ["analyze", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_matches_golden(monkeypatch):
    monkeypatch.chdir(ROOT)  # "file" is the path as given (tests/golden/regen.py gives this one)
    assert json.loads(run("specs/lenet5.arch", "--format", "json")) == json.loads((GOLDEN / "lenet5.json").read_text())


def test_table_matches_golden():
    assert run(SPECS / "lenet5.arch") == (GOLDEN / "lenet5.txt").read_text()


def test_golden_numbers_are_the_hand_calculation():
    doc = json.loads((GOLDEN / "lenet5.json").read_text())
    layer = {r["name"]: r for r in doc["layers"]}
    # conv1: 6 filters of 5x5x1 + bias; 28x28x6 outputs, 25 multiply-adds each
    assert layer["conv1.0"]["params"] == 6 * (5 * 5 * 1) + 6
    assert layer["conv1.0"]["macs"] == 28 * 28 * 6 * 25
    assert layer["conv2.0"]["params"] == 16 * (5 * 5 * 6) + 16
    assert layer["conv2.0"]["macs"] == 10 * 10 * 16 * (5 * 5 * 6)
    assert layer["fc1.0"]["params"] == 400 * 120 + 120
    macs = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    params = (6 * 25 + 6) + (16 * 150 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    # every tensor created: input, conv1, tanh, pool1, conv2, tanh, pool2, fc1, tanh, fc2, tanh, fc3
    acts = 784 + 2 * 28 * 28 * 6 + 14 * 14 * 6 + 2 * 10 * 10 * 16 + 5 * 5 * 16 + 2 * 120 + 2 * 84 + 10
    assert doc["totals"]["params"] == params == 61_706
    assert doc["totals"]["macs"] == macs and doc["totals"]["flops"] == 2 * macs
    assert doc["totals"]["activations"] == acts
    assert doc["totals"]["activation_bytes"] == 4 * acts
    assert layer["conv1.0"]["receptive_field"] == {"size": [5, 5], "stride": [1, 1]}
    # a training step: conv1's input needs no gradient (its weights' only), every other conv and fc makes two
    assert doc["totals"]["train_step_macs"] == macs + 28 * 28 * 6 * 25 + 2 * (macs - 28 * 28 * 6 * 25)


def test_json_contract():
    doc = json.loads(run(SPECS / "vgg16.arch", "--format", "json", "--batch", "2", "--dtype", "float16"))
    assert doc["schema"] == "archdsl.analysis/1"
    assert (doc["network"], doc["batch"], doc["dtype"]) == ("vgg16", 2, "float16")
    assert doc["input"]["shape"] == [3, 224, 224]
    first = doc["layers"][0]
    # the example row, doubled for batch 2
    assert first["name"] == "features.0" and first["op"] == "conv" and first["output_shape"] == [64, 224, 224]
    assert first["params"] == first["trainable_params"] == 1792
    assert first["macs"] == 2 * 86704128 and first["flops"] == 2 * 173408256
    assert first["activations"] == 2 * 3211264
    assert first["receptive_field"] == {"size": [3, 3], "stride": [1, 1]}
    assert set(doc["totals"]) >= {"params", "trainable_params", "macs", "flops", "activations", "activation_bytes", "param_bytes"}
    assert doc["totals"]["param_bytes"] == 2 * doc["totals"]["params"]


def test_csv_and_markdown_carry_the_same_rows():
    doc = json.loads(run(SPECS / "resnet18.arch", "--format", "json"))
    rows = list(csv.DictReader(io.StringIO(run(SPECS / "resnet18.arch", "--format", "csv"))))
    assert [r["name"] for r in rows] == ["input"] + [r["name"] for r in doc["layers"]]
    assert sum(int(r["params"]) for r in rows) == doc["totals"]["params"]
    assert sum(int(r["macs"]) for r in rows) == doc["totals"]["macs"]
    md = run(SPECS / "resnet18.arch", "--format", "markdown")
    assert md.count("| layer1.0.conv1 |") == 1 and md.count("\n| ") == len(rows) + 1  # header + rows
    assert f"{doc['totals']['params']:,} parameters" in md


def test_depth_in_every_format():
    doc = json.loads(run(SPECS / "resnet50.arch", "--format", "json", "--depth", "1"))
    assert doc["depth"] == 1
    names = [r["name"] for r in doc["layers"]]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc"]
    assert sum(r["params"] for r in doc["layers"]) == doc["totals"]["params"]
    assert "layer3" in run(SPECS / "resnet50.arch", "--depth", "1")


def test_set_on_the_command_line():
    doc = json.loads(run(SPECS / "resnet18.arch", "--format", "json", "--set", "classes=10"))
    assert doc["layers"][-1]["output_shape"] == [10]
    assert doc["totals"]["params"] == 11_689_512 - 512 * 990 - 990  # torchvision's count less 990 classes


def test_json_and_csv_name_the_file_of_every_layer(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.arch").write_text("def block(c) {\n  conv c 3x3 pad=1\n  relu\n}\n")
    spec = tmp_path / "net.arch"
    spec.write_text('use "lib/blocks.arch"\ninput 8x8x3\nb1: block 4\nfc 2\n')
    doc = json.loads(run(spec, "--format", "json"))
    lib = [r for r in doc["layers"] if r["name"].startswith("b1.")]
    assert [(r["file"].replace("\\", "/").endswith("lib/blocks.arch"), r["line"]) for r in lib] == [(True, 2), (True, 3)]
    assert doc["layers"][-1]["file"] == str(spec) and doc["layers"][-1]["line"] == 4
    rows = list(csv.DictReader(io.StringIO(run(spec, "--format", "csv"))))
    assert list(rows[0])[:5] == ["name", "op", "description", "line", "output_shape"]  # columns keep their places
    assert list(rows[0])[-2:] == ["file", "convention"]  # columns added later go last
    assert [(r["name"], r["file"] == str(spec), r["line"]) for r in rows] == [
        ("input", True, "2"), ("b1.0", False, "2"), ("b1.1", False, "3"), ("1", True, "4")]
    # a folded block is the call's: in the spec's file, on the call's line
    folded = json.loads(run(spec, "--format", "json", "--depth", "1"))
    assert [(r["name"], r["file"] == str(spec), r["line"]) for r in folded["layers"]] == [("b1", True, 3), ("1", True, 4)]


def test_markdown_title_has_the_depth_and_in_place_layers_say_so():
    md = run(SPECS / "resnet18.arch", "--format", "markdown", "--depth", "1", "--batch", "2")
    assert md.startswith("### resnet18 (batch 2, float32, depth 1)\n")
    assert run(SPECS / "resnet18.arch", "--format", "markdown").startswith("### resnet18 (batch 1, float32)\n")
    relu = next(line for line in md.splitlines() if line.startswith("| relu |"))
    assert relu.split(" | ")[-3] == "in place"  # activations, then saved (its output, 6.4MB at batch 2)
    table = next(line for line in run(SPECS / "resnet18.arch", "--depth", "1").splitlines() if line.startswith("relu "))
    assert "in place" in table
    full = run(SPECS / "resnet18.arch", "--format", "markdown")
    assert "| layer1.0.relu | `relu` | 56x56x64 | 0 | 0 | in place |" in full
    assert "| layer1.0.bn1 | `bn` | 56x56x64 | 128 | 0 | 200.7K |" in full  # not in place: counted
