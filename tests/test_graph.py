"""`archdsl graph`: the diagram is read back from the SVG that `dot` writes (nodes, edges, labels,
clusters), not only checked to exist. Tests that run `dot` are skipped where Graphviz is not
installed; the `.dot` output and the message for a missing `dot` are tested without it."""
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

import archdsl
from archdsl.analysis import collapse
from archdsl.backends import dot as backend
from archdsl.cli import main
from archdsl.report.table import human, shape_text

from .conftest import ROOT, SPECS

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's `dot` is not installed")
SVG = "{http://www.w3.org/2000/svg}"

SPEC = """\
network tiny
input 32x32x3
stem: conv 16 3x3 pad=1 bn act=relu
def mixed(c) {
  concat {
    b1: conv c 1
    b2: conv c 1 -> conv c 3x3 pad=1
    b3: maxpool 3 /1 pad=1 -> conv c 1
  }
}
def res(c) {
  add {
    { conv1: conv c 3x3 pad=1 ; relu: relu ; conv2: conv c 3x3 pad=1 }
    @input
  }
  relu: relu
}
mix: mixed 8
block: res 24
pool: gap
fc: fc 10
"""


def parse_svg(text: str) -> dict:
    """Nodes (title -> label text and classes), edges (source, target, classes) and clusters."""
    root = ET.fromstring(text)
    nodes, edges, clusters = {}, [], {}
    for g in root.iter(SVG + "g"):
        kind = (g.get("class") or "").split()
        if not kind:
            continue
        title = g.find(SVG + "title").text
        words = " ".join(" ".join(t.itertext()) for t in g.iter(SVG + "text"))
        words = " ".join(words.replace("\xa0", " ").split())
        if kind[0] == "node":
            box = next(iter(g.iter(SVG + "text")))
            nodes[title] = {"label": words, "class": kind[1:], "x": float(box.get("x")), "y": float(box.get("y")),
                            "fill": next((e.get("fill") for e in g.iter() if e.tag in (SVG + "path", SVG + "polygon", SVG + "ellipse")), None),
                            "shape": "ellipse" if g.find(f".//{SVG}ellipse") is not None else "box"}
        elif kind[0] == "edge":
            src, dst = title.split("->")
            edges.append((src, dst, tuple(kind[1:])))
        elif kind[0] == "cluster":
            clusters[title.removeprefix("cluster_")] = words
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def diagram(spec=SPEC, **options):
    net = archdsl.load(spec)
    return net, backend.build(net.analyze(), **options)


def svg_of(spec=SPEC, **options) -> dict:
    net, d = diagram(spec, **options)
    return parse_svg(backend.render_bytes(d, "svg").decode())


# --- the diagram ------------------------------------------------------------------------------


@needs_dot
def test_nodes_edges_and_labels():
    net = archdsl.load(SPEC)
    a = net.analyze()
    svg = svg_of()
    assert len(svg["nodes"]) == len(net.graph.nodes)  # one node per layer, shared names kept apart
    assert "block.relu" in svg["nodes"] and "block.relu#2" in svg["nodes"]
    # the example: name, op with its key attributes, output shape (slide order)
    assert svg["nodes"]["stem.0"]["label"] == "0 conv 16 3x3 pad=1 32x32x16"
    assert svg["nodes"]["mix.b2.1"]["label"] == "1 conv 8 3x3 pad=1 32x32x8"
    assert svg["nodes"]["fc"]["label"] == "fc fc 10 10"
    for row, node in zip(a.rows, net.graph.nodes):
        title = node.name if node.name in svg["nodes"] else None
        if title:
            assert shape_text(row.output_shape) in svg["nodes"][title]["label"]
    expected = {(net.graph.nodes[i].name, node.name) for node in net.graph.nodes for i in node.inputs}
    drawn = {(s.split("#")[0], d.split("#")[0]) for s, d, _ in svg["edges"]}
    assert drawn == expected
    assert ("mix.concat", "block.conv1") in drawn


@needs_dot
def test_blocks_are_clusters_and_merges_are_merges():
    svg = svg_of()
    clusters = svg["clusters"]
    assert set(clusters) == {"stem", "mix", "mix.b2", "mix.b3", "block"}
    assert clusters["mix"].startswith("mix mixed 8") and clusters["block"].startswith("block res 24")
    for merge in ("mix.concat", "block.add"):
        assert svg["nodes"][merge]["shape"] == "ellipse" and "merge" in svg["nodes"][merge]["class"]
    # branches side by side, in the spec's order, left to right
    xs = [svg["nodes"][n]["x"] for n in ("mix.b1", "mix.b2.0", "mix.b3.0")]
    assert xs == sorted(xs) and len(set(xs)) == 3
    ys = {svg["nodes"][n]["y"] for n in ("mix.b1", "mix.b2.0", "mix.b3.0")}
    assert len(ys) == 1
    # the identity path of the residual block is drawn as a shortcut; ordinary edges are not
    shortcuts = {(s, d) for s, d, c in svg["edges"] if "shortcut" in c}
    assert shortcuts == {("mix.concat", "block.add")}


@needs_dot
def test_colours_by_op_family_and_stable():
    svg = svg_of()
    fills = {}
    for title, node in svg["nodes"].items():
        fills.setdefault(node["class"][0], set()).add(node["fill"])
    assert all(len(f) == 1 for f in fills.values()), fills
    assert fills["conv"] == {backend.FAMILY_COLORS["conv"][0]}
    assert len({next(iter(fills[k])) for k in ("conv", "pool", "linear", "norm", "activation", "merge")}) == 6
    assert diagram()[1].source == diagram()[1].source
    assert backend.family_colors("attention") == backend.family_colors("attention")


@needs_dot
def test_depth_collapses_blocks_with_summed_figures():
    net = archdsl.load(SPEC)
    a = net.analyze()
    folded = {r.name: r for r in collapse(a, net.graph, 1).rows}
    svg = svg_of(depth=1, stats=True)
    assert set(svg["nodes"]) == {"input", "stem", "mix", "block", "pool", "fc"}
    assert svg["clusters"] == {}
    mix = svg["nodes"]["mix"]
    assert "block" in mix["class"]
    assert mix["label"].startswith("mix mixed 8 32x32x24")
    assert f"{human(folded['mix'].params)} params" in mix["label"] and f"{human(folded['mix'].macs)} MACs" in mix["label"]
    assert f"{folded['block'].layers} layers" in svg["nodes"]["block"]["label"]
    assert {(s, d) for s, d, _ in svg["edges"]} == {("input", "stem"), ("stem", "mix"), ("mix", "block"),
                                                    ("block", "pool"), ("pool", "fc")}
    # depth 2: blocks stay clusters, the branches inside collapse into one node each
    svg = svg_of(depth=2)
    assert {"mix.b1", "mix.b2", "mix.b3", "mix.concat"} <= set(svg["nodes"])
    assert svg["nodes"]["mix.b2"]["label"].startswith("b2 conv 8 1x1 -> conv 8 3x3 pad=1")
    assert "mix" in svg["clusters"]


@needs_dot
def test_stats_and_rankdir():
    plain, stats = svg_of(), svg_of(stats=True)
    assert "params" not in plain["nodes"]["fc"]["label"]
    assert stats["nodes"]["fc"]["label"].endswith("250 params, 240 MACs")
    assert "params" in stats["clusters"]["mix"]
    lr = svg_of(rankdir="LR")
    chain = [lr["nodes"][n]["x"] for n in ("input", "stem.0", "pool", "fc")]
    assert chain == sorted(chain)
    tb = [plain["nodes"][n]["y"] for n in ("input", "stem.0", "pool", "fc")]
    assert tb == sorted(tb)  # SVG y grows downwards


# --- the command line ---------------------------------------------------------------------------


def write_spec(tmp_path, text=SPEC, name="tiny.arch"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_dot_source_needs_no_dot_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "tiny.dot"
    result = CliRunner().invoke(main, ["graph", write_spec(tmp_path), "-o", str(out), "--depth", "1"])
    assert result.exit_code == 0, result.output
    source = out.read_text()
    assert source.startswith("digraph tiny {")
    assert re.search(r'\bmix \[label=<<b>mix</b>  mixed 8', source)
    assert "input -> stem" in source


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for ext in ("svg", "png", "pdf"):
        out = tmp_path / f"tiny.{ext}"
        result = CliRunner().invoke(main, ["graph", write_spec(tmp_path), "-o", str(out)])
        assert result.exit_code == 1 and not out.exists()
        message = result.output.strip()
        assert "\n" not in message and "Traceback" not in message
        assert message.startswith(f"error: writing {ext.upper()} needs the `dot` program of Graphviz")
        for needed in ("apt-get install graphviz", "brew install graphviz", "conda install", ".dot"):
            assert needed in message


def test_missing_dot_in_jupyter_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert archdsl.load(SPEC)._repr_svg_() is None


@needs_dot
def test_repr_svg():
    svg = parse_svg(archdsl.load(SPEC)._repr_svg_())
    assert "mix.concat" in svg["nodes"] and "mix" in svg["clusters"]


def test_errors_are_one_formatted_message(tmp_path):
    runner = CliRunner()
    bad = write_spec(tmp_path, "input 32x32x3\ncnov 8 3\n", "bad.arch")
    result = runner.invoke(main, ["graph", bad, "-o", str(tmp_path / "bad.dot")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "bad.arch:2:1: error: unknown layer or block 'cnov'" in result.output and "^^^^" in result.output
    result = runner.invoke(main, ["graph", write_spec(tmp_path), "-o", str(tmp_path / "tiny.jpg")])
    assert result.exit_code == 1 and "name the output .svg, .png, .pdf or .dot" in result.output
    result = runner.invoke(main, ["graph", write_spec(tmp_path), "-o", str(tmp_path / "x" / "tiny.dot")])
    assert result.exit_code == 1 and result.output.startswith("error: cannot write")
    result = runner.invoke(main, ["graph", write_spec(tmp_path), "-o", str(tmp_path / "t.dot"), "--depth", "0"])
    assert result.exit_code == 2 and "--depth must be at least 1" in result.output
    result = runner.invoke(main, ["graph", write_spec(tmp_path)])
    assert result.exit_code == 2 and "--output" in result.output


def test_set_overrides_a_constant(tmp_path):
    spec = write_spec(tmp_path, "input 32x32x3\nlet classes = 10\ngap\nfc classes\n", "s.arch")
    out = tmp_path / "s.dot"
    result = CliRunner().invoke(main, ["graph", spec, "-o", str(out), "--set", "classes=7", "--rankdir", "LR"])
    assert result.exit_code == 0, result.output
    assert "fc 7" in out.read_text() and "rankdir=LR" in out.read_text()


def test_analyze_does_not_import_graphviz(tmp_path):
    spec = write_spec(tmp_path)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "archdsl", "analyze", spec, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "archdsl.cli" in modules
    assert not {m for m in modules if m.split(".")[0] in ("graphviz", "torch")} and "archdsl.backends.dot" not in modules


# --- the spec library ---------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.arch")))
def test_every_spec_renders(spec):
    net = archdsl.load(SPECS / spec)
    a = net.analyze()
    svg = parse_svg(backend.svg(a))
    assert len(svg["nodes"]) == len(net.graph.nodes)
    assert len(svg["edges"]) == len({(i, n.id) for n in net.graph.nodes for i in n.inputs})
    out = net.graph.nodes[net.graph.outputs[0]].name
    assert shape_text(a.outputs[0][1]) in svg["nodes"][out]["label"]
    top = {g.split(".")[0] for g in net.graph.groups}
    assert top <= set(svg["clusters"])


@needs_dot
def test_resnet152_stays_usable():
    net = archdsl.load(SPECS / "resnet152.arch")
    a = net.analyze()
    start = time.perf_counter()
    full = backend.render_bytes(backend.build(a), "svg")
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"ResNet-152 took {elapsed:.1f} s"
    assert len(parse_svg(full.decode())["nodes"]) == len(net.graph.nodes)
    small = parse_svg(backend.svg(a, depth=1))
    assert len(small["nodes"]) == 12  # input, the stem, four stages, pool, flatten, fc
    root = ET.fromstring(backend.svg(a, depth=1))
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert width < 800 and height < 800  # points: fits on a screen


# --- the docs -----------------------------------------------------------------------------------


def test_docs_commands_run(tmp_path):
    """Every `archdsl graph` command in docs/graph.md runs (written as .dot so no `dot` is needed)."""
    text = (ROOT / "docs" / "graph.md").read_text()
    commands = re.findall(r"^archdsl graph (specs/.+)$", text, re.M)
    assert len(commands) >= 4
    for command in commands:
        args = command.split()
        out = args.index("-o") + 1
        args[out] = str(tmp_path / (args[out].rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".dot"))
        args = [str(ROOT / a) if a.startswith("specs/") else a for a in args]
        result = CliRunner().invoke(main, ["graph", *args])
        assert result.exit_code == 0, (command, result.output)


def test_readme_and_docs_show_the_images():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Diagrams", 1)[1].split("\n## ", 1)[0]
    for name in ("googlenet", "resnet50", "unet"):
        image = ROOT / "docs" / "images" / f"{name}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"docs/images/{name}.png" in section
        assert f"images/{name}.png" in (ROOT / "docs" / "graph.md").read_text()
    assert "archdsl graph" in section
