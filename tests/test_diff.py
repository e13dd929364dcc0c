"""`archdsl diff`: golden diffs whose every delta is worked out by hand, the ablation of the issue
(ResNet-50 with a wider stage 3) at two depths, totals against each spec's own `analyze`, errors."""
import json

import pytest
from click.testing import CliRunner

from archdsl.cli import main

A = """\
network a
input 8x8x3
conv1: conv 4 3x3 pad=1
relu1: relu
conv2: conv 8 3x3 pad=1
pool: gap
drop: dropout 0.5
head: fc 10
"""
B = """\
network b
input 8x8x3
conv1: conv 6 3x3 pad=1
relu1: relu
conv2: conv 8 3x3 pad=1
extra: conv 8 1x1
pool: gap
classifier: fc 10
"""
# By hand (params = C_out·C_in·k·k + C_out; MACs = H·W·C_out·C_in·k·k, 8x8 everywhere):
#   conv1  4 -> 6 filters: params 4·27+4 = 112 -> 6·27+6 = 168 (+56); MACs 64·4·27 = 6,912 -> 64·6·27 = 10,368 (+3,456)
#   relu1  its shape 8x8x4 -> 8x8x6; no params, no MACs
#   conv2  reads 6 channels, not 4: 8·36+8 = 296 -> 8·54+8 = 440 (+144); MACs 64·8·36 = 18,432 -> 64·8·54 = 27,648 (+9,216)
#   extra  added: 8·8+8 = 72 params, 64·8·8 = 4,096 MACs
#   drop   removed (no params, no MACs)
#   head   renamed classifier: the same fc 10 (8·10+10 = 90 params, 80 MACs)
#   totals: params 112+296+90 = 498 -> 168+440+72+90 = 770 (+272 = 56+144+72);
#           MACs 6,912+18,432+80 = 25,424 -> 10,368+27,648+4,096+80 = 42,192 (+16,768); FLOPs twice that
#   activations: input 192 + conv1 256 + conv2 512 + gap 8 + fc 10 = 978 (relu in place, eval dropout makes none)
#           -> 192 + 384 + 512 + extra 512 + 8 + 10 = 1,618 (+640)
GOLDEN = """\
a -> b  (batch 1, dtype float32, optimizer sgd, device cpu)
         name                layer                                         output  Δ params  Δ MACs
changed  conv1               conv 4 3x3 pad=1 -> conv 6 3x3 pad=1  8x8x4 -> 8x8x6       +56  +3,456
changed  relu1               relu                                  8x8x4 -> 8x8x6
changed  conv2               conv 8 3x3 pad=1                               8x8x8      +144  +9,216
added    extra               conv 8 1x1                                     8x8x8       +72  +4,096
removed  drop                dropout 0.5                                    1x1x8
renamed  head -> classifier  fc 10                                             10

3 changed, 1 added, 1 removed, 1 renamed; 2 the same
layers          6 -> 6  (no change)
parameters      498 -> 770  (+272; +54.62%)
MACs            25,424 -> 42,192  (+16,768; +65.95%)
FLOPs           50,848 -> 84,384  (+33,536; +65.95%)
activations     978 -> 1,618  (+640; +65.44%)
"""


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def specs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.arch").write_text(A)
    (tmp_path / "b.arch").write_text(B)
    return tmp_path


def test_golden_table(specs):
    result = invoke("diff", "a.arch", "b.arch")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(GOLDEN)  # then the memory totals, checked below against analyze


def test_golden_json(specs):
    doc = json.loads(invoke("diff", "a.arch", "b.arch", "--format", "json").output)
    assert doc["schema"] == "archdsl.diff/1" and doc["counts"] == {"changed": 3, "added": 1, "removed": 1, "renamed": 1, "same": 2}
    rows = {r["name"]: r for r in doc["layers"]}
    assert [(r["status"], r["name"]) for r in doc["layers"]] == [
        ("changed", "conv1"), ("changed", "relu1"), ("changed", "conv2"), ("added", "extra"), ("removed", "drop"),
        ("renamed", "classifier")]
    assert rows["conv1"]["delta"] == {"params": 56, "macs": 3456, "flops": 6912, "activations": 128}
    assert rows["conv2"]["a"]["params"] == 296 and rows["conv2"]["b"]["params"] == 440
    assert rows["extra"]["a"] is None and rows["extra"]["delta"]["macs"] == 4096
    assert rows["drop"]["b"] is None
    assert rows["classifier"]["a"]["name"] == "head" and rows["classifier"]["delta"] == dict.fromkeys(rows["classifier"]["delta"], 0)
    assert doc["totals"]["delta"]["params"] == 272 and doc["totals"]["delta"]["macs"] == 16768


def test_totals_are_the_difference_of_each_specs_analyze(specs):
    options = ("--batch", "3", "--optimizer", "adam")
    doc = json.loads(invoke("diff", "a.arch", "b.arch", "--format", "json", *options).output)
    ta, tb = (json.loads(invoke("analyze", f, "--format", "json", *options).output)["totals"] for f in ("a.arch", "b.arch"))
    for key, change in doc["totals"]["delta"].items():
        assert (doc["totals"]["a"][key], doc["totals"]["b"][key], change) == (ta[key], tb[key], tb[key] - ta[key]), key


def test_csv_and_markdown(specs):
    lines = invoke("diff", "a.arch", "b.arch", "--format", "csv").output.splitlines()
    assert lines[0].startswith("status,name,name_a,description_a,description_b,output_shape_a,output_shape_b,params_a,params_b,params_delta")
    assert lines[1].startswith("changed,conv1,conv1,conv 4 3x3 pad=1,conv 6 3x3 pad=1,8x8x4,8x8x6,112,168,56,6912,10368,3456")
    assert lines[6].startswith("renamed,classifier,head,fc 10,fc 10,10,10,90,90,0")
    md = invoke("diff", "a.arch", "b.arch", "--format", "markdown").output
    assert "| added | extra | `conv 8 1x1` | 8x8x8 | +72 | +4,096 |" in md
    assert "- parameters: 498 -> 770  (+272; +54.62%)" in md


def test_a_spec_against_itself(specs):
    result = invoke("diff", "a.arch", "a.arch")
    assert "0 changed, 0 added, 0 removed, 0 renamed; 7 the same" in result.output
    assert "parameters      498 -> 498  (no change)" in result.output
    every = invoke("diff", "a.arch", "a.arch", "--all", "--format", "json").output
    assert [r["status"] for r in json.loads(every)["layers"]] == ["same"] * 7


WIDE3 = """\
use "lib/resnet.arch"
network resnet50_wide3
let classes = 1000
input 224x224x3
conv1: conv 64 7x7 /2 pad=3 bias=no
bn1: bn
relu: relu
maxpool: maxpool 3 /2 pad=1
layer1: bottleneck_stage 64 blocks=3
layer2: bottleneck_stage 128 blocks=4 /2
layer3: bottleneck_stage 320 blocks=6 /2
layer4: bottleneck_stage 512 blocks=3 /2
avgpool: gap
flatten: flatten
fc: fc classes
"""


def test_resnet50_with_a_wider_stage_3(tmp_path, monkeypatch):
    """The issue's ablation. By hand, bottleneck c (bias=no, bn = 2 per channel):
    block = in·c + 2c + 9c² + 2c + 4c² + 8c, the first with a downsample in·4c + 8c.
    c=256 (in 512, then 1024): 1,512,448 + 5 · 1,117,184 = 7,098,368 (torchvision's layer3)
    c=320 (in 512, then 1280): 2,156,800 + 5 · 1,744,640 = 10,880,000: +3,781,632.
    layer4 reads 1280 channels, not 1024: its conv1 (1x1 to 512) +256·512 = 131,072 and its
    downsample (1x1 to 2048) +256·2048 = 524,288, MACs at 14x14 and 7x7: 196·131,072 + 49·524,288
    = 25,690,112 + 25,690,112 = 51,380,224."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wide3.arch").write_text(WIDE3)
    doc = json.loads(invoke("diff", "resnet50", "wide3.arch", "--depth", "1", "--format", "json").output)
    assert [(r["name"], r["delta"]["params"]) for r in doc["layers"]] == [("layer3", 3_781_632), ("layer4", 655_360)]
    assert doc["layers"][1]["delta"]["macs"] == 51_380_224
    assert doc["layers"][0]["a"]["params"] == 7_098_368 and doc["layers"][0]["b"]["params"] == 10_880_000
    assert doc["totals"]["delta"]["params"] == 3_781_632 + 655_360
    table = invoke("diff", "resnet50", "wide3.arch", "--depth", "1").output
    assert "bottleneck_stage 256 blocks=6 /2 -> bottleneck_stage 320 blocks=6 /2" in table
    # layer by layer: every layer of stage 3 and the two of layer4 that read it; nothing else
    full = json.loads(invoke("diff", "resnet50", "wide3.arch", "--format", "json").output)
    changed = {r["name"].split(".")[0] for r in full["layers"]}
    assert changed == {"layer3", "layer4"} and full["counts"]["added"] == full["counts"]["removed"] == 0
    assert {r["name"] for r in full["layers"] if r["name"].startswith("layer4")} == {"layer4.0.conv1", "layer4.0.downsample.0"}
    assert sum(r["delta"]["params"] for r in full["layers"]) == doc["totals"]["delta"]["params"]


@pytest.mark.parametrize("args, message", [
    (["diff", "resnet50"], "error[E0901]: diff compares two specs, A and B, not 1"),
    (["diff"], "error[E0901]: diff compares two specs, A and B, not 0"),
    (["diff", "resnet18", "resnet34", "resnet50"], "error[E0901]: diff compares two specs, A and B, not 3"),
    (["diff", "resnet50", "missing.arch"], "error[E0001]: no spec 'missing.arch': it is neither a file nor a spec of the library"),
    (["diff", "resnet18", "resnet34", "--depth", "0"], "error[E0901]: --depth must be at least 1, not 0"),
])
def test_errors_are_one_sentence(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == message and "Traceback" not in result.output


@pytest.mark.parametrize("a, b, depth", [("resnet50", "resnet101", 1), ("resnet18", "resnet34", None),
                                         ("efficientnet_b0", "efficientnet_b1", 2)])
def test_a_narrow_terminal_wraps_and_abbreviates(a, b, depth):
    """At 80 columns every line fits; each change's name and layer, read across its wrapped lines,
    are the full table's, and its deltas the full ones abbreviated."""
    import archdsl
    from archdsl.diff import diff_networks
    from archdsl.report.diff import _shown, cells, table_lines
    from archdsl.report.table import human

    from .conftest import SPECS

    d = diff_networks(archdsl.load(SPECS / f"{a}.arch"), archdsl.load(SPECS / f"{b}.arch"), depth=depth)
    settings = {"batch": 1, "dtype": "float32", "optimizer": "sgd", "device": "cpu"}
    full = table_lines(d, settings)
    assert max(map(len, full)) > 80 and table_lines(d, settings, width=10_000) == full
    lines = table_lines(d, settings, width=80)
    assert max(map(len, lines)) <= 80 and not any(line.endswith(" ") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("name"))
    name_at, layer_at = lines[header].index("name"), lines[header].index("layer")
    body, k = lines[header + 1:], 0
    for change in _shown(d, everything=False):
        status, name, layer, shape, _, _ = cells(change)
        first, rest = body[k], []
        k += 1
        while k < len(body) and body[k] and not body[k][0].strip():  # its continuation lines
            rest.append(body[k])
            k += 1
        names = first[name_at:layer_at].strip() + "".join(p[name_at:layer_at].strip() for p in rest)
        layers = " ".join(t for t in [first[layer_at:first.rindex(shape)].strip(), *(p[layer_at:].strip() for p in rest)] if t)
        assert first.startswith(status) and names == name and layers == layer
        deltas = [("+" if n > 0 else "-") + human(abs(n)) for n in (change.delta("params"), change.delta("macs")) if n]
        assert first[first.rindex(shape) + len(shape):].split() == deltas
