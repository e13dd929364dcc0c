"""The Python API: a Network and an Analysis read well in a REPL and a notebook, convert to plain
data, and take another input; docs/notebook.md and the README's Python section run as shown."""
import ast
import contextlib
import io
import json
import re

import pytest
from click.testing import CliRunner

import archdsl
from archdsl.cli import main

from .conftest import ROOT, SPECS

TINY = "network tiny\ninput 32x32x3\nconv1: conv 16 3x3 pad=1 act=relu\npool1: maxpool 2x2\nfc 10\n"


def cli(*args):
    result = CliRunner().invoke(main, [*map(str, args)])
    return result


def lines(text):
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


# ---- repr and str ------------------------------------------------------------------------------

def test_network_repr_names_the_spec_its_input_layers_and_params():
    net = archdsl.load(SPECS / "vgg16.arch")
    assert repr(net) == f"<Network vgg16 ({SPECS / 'vgg16.arch'}): input 224x224x3, 40 layers, 138,357,544 params>"
    assert repr(archdsl.load(TINY)) == "<Network tiny (<spec>): input 32x32x3, 4 layers, 41,418 params>"
    assert repr(archdsl.load("input 4\nfc 2\n")) == "<Network network (<spec>): input 4, 1 layer, 10 params>"
    # the README's example
    net = archdsl.load(SPECS / "resnet50.arch", set={"classes": 10}, input="160x160x3")
    assert repr(net).replace(str(SPECS), "specs") == "<Network resnet50 (specs/resnet50.arch): input 160x160x3, 175 layers, 23,528,522 params>"
    assert repr(net) in repr([net])  # a list of networks in a REPL


def test_network_repr_of_a_spec_that_does_not_analyse():
    text = repr(archdsl.load("input 5x5x3\nconv 8 7x7\n"))
    assert text.startswith("<Network network (<spec>): input 5x5x3, 1 layer, does not analyse: ")
    assert "reaches zero" in text and len(text) < 200


def test_analysis_repr_is_one_line():
    a = archdsl.load(SPECS / "vgg16.arch").analyze(batch=2, dtype="float16", depth=1)
    assert repr(a) == "<Analysis vgg16: 40 layers, 138,357,544 params, 30,940,528,640 MACs (batch 2, float16, depth 1)>"


@pytest.mark.parametrize("spec,args", [("lenet5", ()), ("resnet18", ("--depth", "2", "--batch", "8"))])
def test_str_is_the_table_the_command_prints(spec, args):
    options = {"depth": 2, "batch": 8} if args else {}
    a = archdsl.load(SPECS / f"{spec}.arch").analyze(**options)
    out = cli("analyze", SPECS / f"{spec}.arch", *args).output
    assert lines(str(a)) == lines(out)
    assert "\x1b" not in str(a) and str(a).splitlines()[0].startswith(spec)


def test_print_is_the_table_not_the_dataclass():
    a = archdsl.load(SPECS / "vgg16.arch").analyze()
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        print(a)
    assert buf.getvalue() == str(a) + "\n"
    assert "Row(" not in buf.getvalue() and "features.0" in buf.getvalue() and len(buf.getvalue()) < 6000


# ---- notebooks -------------------------------------------------------------------------------

def test_markdown_and_html_for_jupyter():
    a = archdsl.load(TINY).analyze(depth=1)
    md = a._repr_markdown_()
    assert md.startswith("### tiny (batch 1, float32, depth 1)\n")
    page = a._repr_html_()
    assert page.startswith("<div><b>tiny (batch 1, float32, depth 1)</b><table>")
    assert page.count("<tr>") == len(a.rows) + 1  # the header and one per row
    assert "<td>conv1</td>" in page and "<code>conv 16 3x3 pad=1 -&gt; relu</code>" in page
    assert "41,418 parameters" in page


def test_html_escapes_what_the_spec_wrote(tmp_path):
    a = archdsl.load("network a_b\ninput 8\nfc 4\n").analyze()
    assert "<b>a_b (batch 1, float32)</b>" in a._repr_html_()
    for row in a.rows:
        assert f"<code>{row.description}</code>" in a._repr_html_()


def test_markdown_is_the_markdown_format(tmp_path):
    path = tmp_path / "tiny.arch"
    path.write_text(TINY)
    a = archdsl.load(path).analyze()
    assert a._repr_markdown_() == cli("analyze", path, "--format", "markdown").output


# ---- plain data ------------------------------------------------------------------------------

def test_to_dict_and_to_json_are_the_json_format():
    path = SPECS / "resnet18.arch"
    a = archdsl.load(path).analyze(batch=4, depth=1)
    printed = cli("analyze", path, "--format", "json", "--batch", "4", "--depth", "1").output
    assert a.to_json() == printed.rstrip("\n")
    doc = a.to_dict()
    assert doc == json.loads(printed)
    assert doc["schema"] == "archdsl.analysis/1" and doc["depth"] == 1
    assert a.to_csv() == cli("analyze", path, "--format", "csv", "--batch", "4", "--depth", "1").output

    def plain(value):  # dicts, lists, strings, numbers, None: nothing json would turn into something else
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float))

    assert plain(doc)


def test_to_dict_is_a_fresh_copy():
    a = archdsl.load(TINY).analyze()
    a.to_dict()["totals"]["params"] = 0
    a.to_dict()["layers"][0]["output_shape"].append(1)
    assert a.to_dict()["totals"]["params"] == 41_418 and a.to_dict()["layers"][0]["output_shape"] == [16, 32, 32]


# ---- the input -------------------------------------------------------------------------------

def test_load_with_another_input():
    base = archdsl.load(TINY).analyze()
    for given in ("64x64x3", (64, 64, 3), " 64x64x3 "):
        net = archdsl.load(TINY, input=given)
        a = net.analyze()
        assert a.input_shape == (3, 64, 64) and net.input == "64x64x3"
        assert [r.output_shape for r in a.layers][:3] == [(16, 64, 64), (16, 64, 64), (16, 32, 32)]
        assert a.layers[-1].params == 16 * 32 * 32 * 10 + 10  # fc flattens: its weights follow the input
        assert a.totals["macs"] > base.totals["macs"]
    assert "input 64x64x3" in repr(archdsl.load(TINY, input="64x64x3"))
    # the input row stays the spec's `input` line
    assert archdsl.load(TINY, input="64x64x3").analyze().rows[0].line == 2


def test_input_of_other_ranks_and_a_flat_one():
    assert archdsl.load("input 8000x1\nconv 4 9 /4\n", input="16000x2").analyze().input_shape == (2, 16000)
    assert archdsl.load("input 784\nfc 10\n", input=100).analyze().layers[0].params == 1010


def test_another_input_keeps_the_spec_s_let_values_and_set():
    net = archdsl.load("let classes = 5\ninput 32x32x3\ngap\nfc classes\n", input="8x8x2", set={"classes": 7})
    a = net.analyze()
    assert a.input_shape == (2, 8, 8) and a.layers[-1].output_shape == (7,) and a.layers[-1].params == 2 * 7 + 7


def test_shape_assertions_warn_with_another_input():
    net = archdsl.load(SPECS / "alexnet.arch", input="224x224x3")
    a = net.analyze()
    (warning,) = [w for w in a.warnings if "asserts" in w.message]
    assert warning.message.startswith("conv1.1 gives [54x54x96], not the [55x55x96] the spec asserts for `input 227x227x3` "
                                      "(the input is 224x224x3); ")
    assert warning.span.line == 20 and "do not stop" in warning.hint
    assert a.layers[-1].output_shape == (1000,)
    # fc6 flattens 5x5x256 instead of 6x6x256: its weights, and the totals, follow the input
    assert a.totals["params"] == archdsl.load(SPECS / "alexnet.arch").analyze().totals["params"] - (36 - 25) * 256 * 4096
    assert len(net.analyze().warnings) == len(a.warnings)  # said once, not once per analysis
    # the spec's own input: every assertion holds, nothing to say
    assert not [w for w in archdsl.load(SPECS / "alexnet.arch", input="227x227x3").analyze().warnings if "asserts" in w.message]


def test_without_another_input_an_assertion_still_fails():
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load("input 224x224x3\n[55x55x96] conv 96 11x11 /4\n").analyze()
    assert "but the spec expects [55x55x96]" in info.value.message


def test_shape_error_after_another_input():
    spec = "input 32x32x3\nconv 8 3x3 /8\n"
    archdsl.load(spec).analyze()
    with pytest.raises(archdsl.ArchError) as info:  # the op's own hint stays
        archdsl.load(spec, input="2x2x3").analyze()
    assert "reaches zero" in info.value.message and "too small" in info.value.hint
    with pytest.raises(archdsl.ArchError) as info:  # an error without a hint of its own gets one
        archdsl.load(TINY, input="8x32x32x3").analyze()
    assert "kernel 3x3 has 2 dimensions" in info.value.message
    assert info.value.hint == "the spec was written for `input 32x32x3`; --input 8x32x32x3 changes every shape after it"


def test_bad_input_values():
    for bad in ("a b", "", "224x224x3x", "1x2x3x4x5", "0x4x3", "yes"):
        with pytest.raises(archdsl.ArchError) as info:
            archdsl.load(TINY, input=bad)
        assert info.value.message.startswith(f"--input {bad.strip()}"), (bad, info.value.message)
        assert info.value.span is None


def test_input_on_the_command_line(tmp_path):
    path = tmp_path / "tiny.arch"
    path.write_text(TINY)
    doc = json.loads(cli("analyze", path, "--input", "160x160x3", "--format", "json").output)
    assert doc["input"]["shape"] == [3, 160, 160] and doc["layers"][0]["output_shape"] == [16, 160, 160]
    table = cli("analyze", path, "--input", "160x160x3").output
    assert "160x160x3" in table.splitlines()[2]
    result = cli("analyze", SPECS / "resnet18.arch", "--input", "160x160x3")
    assert result.exit_code == 0 and "fc [1000]" in result.output
    assert "warning[W0002]: conv1 gives [80x80x64], not the [112x112x64]" in result.output
    bad = cli("analyze", path, "--input", "160x160")
    assert bad.exit_code == 1 and "error[E0504]:" in bad.output  # 160 channels of 160 positions: a 1D input, conv 3x3 does not fit
    usage = cli("analyze", path, "--input", "big")
    assert usage.exit_code == 1 or usage.exit_code == 2
    swapped = cli("analyze", path, "--input", "3x160x160")
    assert swapped.exit_code == 1 and "did you mean `--input 160x160x3`?" in swapped.output
    assert "--input SIZE" in cli("analyze", "--help").output


def test_input_for_graph_and_build(tmp_path):
    path = tmp_path / "tiny.arch"
    path.write_text(TINY)
    out = tmp_path / "tiny.dot"
    result = cli("graph", path, "-o", out, "--input", "64x64x3")
    assert result.exit_code == 0, result.output
    assert "64x64x16" in out.read_text() and "16x16x16" not in out.read_text()  # pool1 of 32x32x3 gives 16x16x16
    assert "--input SIZE" in cli("graph", "--help").output
    assert "--input SIZE" in cli("build", "--help").output
    pytest.importorskip("torch")
    result = cli("build", path, "--device", "meta", "--input", "64x64x3")
    assert result.exit_code == 0, result.output
    params = 16 * 27 + 16 + 16 * 32 * 32 * 10 + 10
    assert f"{params:,} parameters" in result.output


# ---- the docs' Python examples run as shown ------------------------------------------------------

def cells(text):
    """(code, shown) for every ```python block; shown is the ```text block right after it, or None."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M)
    for k, (lang, body) in enumerate(blocks):
        if lang == "python":
            after = blocks[k + 1] if k + 1 < len(blocks) else None
            yield body, (after[1] if after and after[0] == "text" else None)


def run_cell(code, namespace):
    """Run a cell as a notebook does: what it prints, then the repr of its last expression."""
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    return buf.getvalue()


def test_notebook_doc_runs_as_shown(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace = {}
    found = list(cells((ROOT / "docs" / "notebook.md").read_text()))
    assert len(found) >= 6
    for code, shown in found:
        out = run_cell(code, namespace)
        if shown is not None:
            assert lines(out) == lines(shown), code


def test_readme_python_section_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    section = (ROOT / "README.md").read_text().split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    found = list(cells(section))
    assert found
    namespace = {}
    for code, shown in found:
        out = run_cell(code, namespace)
        if shown is not None:
            assert lines(out) == lines(shown), code
