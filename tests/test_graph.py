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

from .conftest import ROOT, SPECS, per_spec

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
            # x, y: the middle of the node's outline (its first text starts wherever its label does)
            outline = next((e for e in g.iter() if e.tag in (SVG + "path", SVG + "polygon", SVG + "ellipse")), None)
            if outline is None:  # a note (compact): its text
                x, y = float(box.get("x")), float(box.get("y"))
            elif outline.tag == SVG + "ellipse":
                x, y = float(outline.get("cx")), float(outline.get("cy"))
            else:
                pts = [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", outline.get("d") or outline.get("points"))]
                x = (min(p[0] for p in pts) + max(p[0] for p in pts)) / 2
                y = (min(p[1] for p in pts) + max(p[1] for p in pts)) / 2
            nodes[title] = {"label": words, "class": kind[1:], "x": round(x, 1), "y": round(y, 1),
                            "fill": next((e.get("fill") for e in g.iter() if e.tag in (SVG + "path", SVG + "polygon", SVG + "ellipse")), None),
                            "shape": "ellipse" if g.find(f".//{SVG}ellipse") is not None else "box"}
        elif kind[0] == "edge":
            src, dst = (end.split(":")[0] for end in title.split("->"))  # without the ports dot names
            edges.append((src, dst, tuple(kind[1:])))
        elif kind[0] == "cluster" and "~" not in title:  # `~`: the layout's invisible boxes
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
    assert svg["nodes"]["fc"]["label"] == "fc 10 10"  # named as its op: said once
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


# --- issue 13: branch order, labels clear of edges, what labels say, the compact mode -----------


def spec_svg(name: str, **options) -> dict:
    return parse_svg(backend.svg(archdsl.load(SPECS / f"{name}.arch").analyze(), **options))


def edge_path(svg_text: str, src: str, dst: str) -> list[tuple[float, float]]:
    """The points of the drawn edge src -> dst (its spline's control points)."""
    for g in ET.fromstring(svg_text).iter(SVG + "g"):
        if (g.get("class") or "").startswith("edge"):
            title = g.find(SVG + "title").text
            if [end.split(":")[0] for end in title.split("->")] == [src, dst]:
                d = g.find(SVG + "path").get("d")
                return [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", d)]
    raise KeyError(f"{src}->{dst}")


def x_halfway(points) -> float:
    """Where an edge runs halfway down (TB): the x of its point nearest the middle height."""
    middle = (points[0][1] + points[-1][1]) / 2
    return min(points, key=lambda p: abs(p[1] - middle))[0]


@needs_dot
def test_branches_left_to_right_in_the_spec_order():
    """docs/graph.md: branches are drawn left to right in the order the spec writes them (top to
    bottom with --rankdir LR), read back from the SVG's coordinates."""
    # ResNet-50: the residual branch first, the projection (`downsample`) or identity shortcut second
    net = archdsl.load(SPECS / "resnet50.arch")
    text = backend.svg(net.analyze())
    svg = parse_svg(text)
    nodes = svg["nodes"]
    for stage, blocks in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):
        block = f"{stage}.0"
        assert nodes[f"{block}.conv1"]["x"] < nodes[f"{block}.downsample.0"]["x"], block
        for b in range(1, blocks):
            block, before = f"{stage}.{b}", f"{stage}.{b - 1}.relu#3"
            shortcut = edge_path(text, before, f"{block}.add")
            for layer in ("conv1", "conv2", "conv3"):
                assert x_halfway(shortcut) > nodes[f"{block}.{layer}"]["x"], (block, layer)
    # GoogLeNet: the four branches of every inception module, at full depth and at --depth 2
    for options, firsts in (({}, ("branch1.conv", "branch2.0.conv", "branch3.0.conv", "branch4.0")),
                            ({"depth": 2}, ("branch1", "branch2", "branch3", "branch4"))):
        nodes = spec_svg("googlenet", **options)["nodes"]
        modules = sorted({n.split(".")[0] for n in nodes if n.startswith("inception")})
        assert len(modules) == 9
        for module in modules:
            xs = [nodes[f"{module}.{first}"]["x"] for first in firsts]
            assert xs == sorted(xs), (module, options, xs)
    # U-Net: `concat { @skip -> crop size ; @up }`, the crop of the copied map into the concat from
    # the left of the up-convolution (they sit ranks apart: their edges into the merge tell)
    text = backend.svg(archdsl.load(SPECS / "unet.arch").analyze())
    for level in ("dec1", "dec2", "dec3", "dec4"):
        crop, up = (edge_path(text, f"{level}.{n}", f"{level}.concat") for n in ("1", "up"))
        assert x_halfway(crop) < x_halfway(up), level
    # left to right becomes top to bottom
    for name, first, second in (("resnet50", "layer2.0.conv1", "layer2.0.downsample.0"),
                                ("googlenet", "inception4a.branch1.conv", "inception4a.branch2.0.conv"),
                                ("unet", "dec2.1", "dec2.up")):
        nodes = spec_svg(name, rankdir="LR")["nodes"]
        assert nodes[first]["y"] < nodes[second]["y"], name


def label_boxes_and_edges(diagram) -> tuple[list, list]:
    """dot's own measure (JSON output): each box label's text extent, each drawn edge's points."""
    import json

    layout = json.loads(diagram.pipe(format="json"))
    names = {obj["_gvid"]: obj["name"] for obj in layout["objects"]}
    boxes = []
    for obj in layout["objects"]:
        if not obj.get("name", "").startswith("cluster_"):
            continue
        size = 10.0
        for op in obj.get("_ldraw_", ()):
            if op["op"] == "F":
                size = op["size"]
            elif op["op"] == "T":
                x, y = op["pt"]
                left = x - {"l": 0, "c": op["width"] / 2, "r": op["width"]}[op["align"]]
                boxes.append((obj["name"], left, left + op["width"], y - 0.2 * size, y + 0.75 * size))
    paths = []
    for edge in layout.get("edges", ()):
        for op in edge.get("_draw_", ()):
            if op["op"] == "b":
                pts = op["points"]
                for k in range(0, len(pts) - 3, 3):  # cubic Bezier pieces, sampled
                    p0, p1, p2, p3 = pts[k:k + 4]
                    for t in (i / 24 for i in range(25)):
                        u = 1 - t
                        paths.append((names[edge["tail"]], names[edge["head"]],
                                      u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                                      u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]))
    return boxes, paths


@needs_dot
@pytest.mark.parametrize("name, options", [("resnet50", {}), ("googlenet", {}), ("googlenet", {"depth": 2}),
                                           ("unet", {}), ("resnet18", {"stats": True}),
                                           ("inception_v3", {}), ("densenet121", {"depth": 2}),
                                           ("resnet50", {"compact": True}), ("googlenet", {"compact": True})])
def test_edges_run_clear_of_box_labels(name, options):
    """No edge crosses the text of a box's label (dot draws the label across the top of the box,
    where the edges into it enter)."""
    diagram = backend.build(archdsl.load(SPECS / f"{name}.arch").analyze(), **options)
    boxes, points = label_boxes_and_edges(diagram)
    assert boxes and points
    crossing = {(box, tail, head) for box, x0, x1, y0, y1 in boxes for tail, head, x, y in points
                if x0 + 1 < x < x1 - 1 and y0 + 1 < y < y1 - 1}
    if name == "googlenet" and not options:
        # at full depth the edge from a module's input to its first branch sweeps left across the
        # corner of the second branch's box; only the edges into a box are kept clear of its label
        crossing = {(box, tail, head) for box, tail, head in crossing
                    if box.removeprefix("cluster_") in ".".join(head.split(".")[:-1])}
    assert not crossing


def test_block_labels_leave_out_the_called_blocks_defaults():
    """A block that passes its parameters on (`bottleneck c /stride groups=groups
    width_per_group=width_per_group`) no longer lists them at their defaults; the box labels of
    the diagram and the --depth rows of `archdsl analyze` say the same."""
    net = archdsl.load(SPECS / "resnet50.arch")
    rows = {r.name: r.description for r in net.analyze(depth=2).rows}
    assert rows["layer1.0"] == "bottleneck 64 down=yes"
    assert rows["layer1.1"] == "bottleneck 64"
    assert rows["layer2.0"] == "bottleneck 128 /2 down=yes"
    assert {r.name: r.description for r in net.analyze(depth=1).rows}["layer3"] == "bottleneck_stage 256 blocks=6 /2"
    assert net.graph.groups["layer2.0"].label == "bottleneck 128 /2 down=yes"
    rows = {r.name: r.description for r in archdsl.load(SPECS / "resnext50_32x4d.arch").analyze(depth=2).rows}
    assert rows["layer1.1"] == "bottleneck 64 groups=32 width_per_group=4"  # not the defaults: kept
    spec = ("input 8x8x3\ndef f(a, b=1, c=2) { conv a 1 }\n"
            "p: f 4 1 3\nq: f 4 1\nr: f 4 1 2\ns: f 4 c=2 b=5\nt: f 4 b=1\n")
    rows = {r.name: r.description for r in archdsl.load(spec).analyze(depth=1).rows}
    # a positional argument at its default stays where a later one needs its place
    assert [rows[k] for k in "pqrst"] == ["f 4 1 3", "f 4", "f 4", "f 4 b=5", "f 4"]


@needs_dot
def test_node_names_said_once():
    """A relu named by its position reads `relu`, not `2 relu`; a layer named as its op (`fc: fc
    10`) reads `fc 10`; a layer with weights keeps its position, its state_dict name."""
    nodes = spec_svg("googlenet")["nodes"]
    assert nodes["conv1.2"]["label"] == "relu 112x112x64"
    assert nodes["conv1.conv"]["label"] == "conv 64 7x7 /2 pad=3 112x112x64"
    assert nodes["fc"]["label"] == "fc 1000 1000"
    assert nodes["maxpool1"]["label"] == "maxpool1 maxpool 3x3 /2 ceil 56x56x64"
    nodes = spec_svg("resnet50")["nodes"]
    assert nodes["layer1.0.downsample.1"]["label"] == "1 bn 56x56x256"  # weights: the position stays
    assert nodes["layer1.0.relu"]["label"] == "relu 56x56x64"
    assert nodes["maxpool"]["label"] == "maxpool 3x3 /2 pad=1 56x56x64"
    for node in nodes.values():
        words = node["label"].split()
        assert words[:2] != words[1:3] or not words[0].isalpha(), node["label"]  # no `relu relu`
        assert not (words[0].isdigit() and words[1] in ("relu", "maxpool", "add", "concat")), node["label"]


def svg_size(text: str) -> tuple[float, float]:
    root = ET.fromstring(text)
    return tuple(float(root.get(k).removesuffix("pt")) for k in ("width", "height"))


@needs_dot
def test_compact_resnet50_fits_a_screen():
    """--compact folds batch norms and activations into the layer before them and wraps the
    top level into columns: ResNet-50 at full depth goes from a strip ten screens tall to about
    one screen, every layer still named."""
    net = archdsl.load(SPECS / "resnet50.arch")
    a = net.analyze()
    full = backend.svg(a)
    text = backend.svg(a, compact=True)
    (w0, h0), (w1, h1) = svg_size(full), svg_size(text)
    # points (1 pt = 4/3 px at 96 dpi): a strip 9 times as tall as it is wide becomes a landscape
    # page, about 2700 x 1700 px, text at the same size
    assert h0 > 6000 and h0 > 8 * w0
    assert h1 < 1350 and w1 < 2150 and 1.2 < w1 / h1 < 2.2
    svg = parse_svg(text)
    nodes = svg["nodes"]
    assert nodes["layer1.0.conv1"]["label"] == "conv1 conv 64 1x1 +bn +relu 56x56x64"
    assert nodes["layer1.0.add"]["label"].startswith("add +relu")
    assert nodes["layer1.0.downsample.0"]["label"].startswith("downsample.0 conv 256 1x1 +bn")  # its box held only it
    assert nodes["conv1"]["label"].startswith("conv1 conv 64 7x7 /2 pad=3 +bn +relu")
    # every layer is on the diagram: a node of its own or folded into one (its tooltip names it)
    root = ET.fromstring(text)
    tooltips = " ".join(a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter(SVG + "a"))
    assert all(f"{node.name}:" in tooltips for node in net.graph.nodes)
    # four columns, each edge into the next column continued by a note at its top
    notes = [g for g in root.iter(SVG + "g") if "continuation" in (g.get("class") or "")]
    texts = sorted(" ".join(t.itertext()) for g in notes for t in g.iter(SVG + "text"))
    assert len(notes) == 6, texts
    assert "layer1.2.add →" in texts and "→ layer2.0" in texts
    starts = [n for n in svg["nodes"] if n in ("input",)]
    assert starts
    # the columns side by side, in order; the parts of layer3 in two columns
    xs = [nodes[n]["x"] for n in ("layer1.0.conv1", "layer2.0.conv1", "layer3.1.conv1", "layer4.0.conv1")]
    assert xs == sorted(xs)
    assert svg["clusters"]["layer3"].startswith("layer3 bottleneck_stage 256 blocks=6 /2")
    assert svg["clusters"]["layer3+1"].startswith("layer3 (continued)")
    # the same in rows with --rankdir LR, and a network short enough stays one column
    lr = parse_svg(backend.svg(a, compact=True, rankdir="LR"))
    ys = [lr["nodes"][n]["y"] for n in ("layer1.0.conv1", "layer2.0.conv1", "layer4.0.conv1")]
    assert ys == sorted(ys)
    tiny = parse_svg(backend.svg(archdsl.load(SPEC).analyze(), compact=True))
    assert "stem.1" not in tiny["nodes"] and tiny["nodes"]["stem.0"]["label"].startswith("stem.0 conv 16 3x3 pad=1 +bn +relu")


def test_compact_on_the_command_line(tmp_path):
    out = tmp_path / "r.dot"
    result = CliRunner().invoke(main, ["graph", str(SPECS / "resnet50.arch"), "--compact", "-o", str(out)])
    assert result.exit_code == 0, result.output
    source = out.read_text()
    assert "+bn +relu" in source and "cluster_~column3" in source and "cluster_~column4" not in source
    assert "--compact" in (ROOT / "docs" / "graph.md").read_text()
    unet = backend.build(archdsl.load(SPECS / "unet.arch").analyze(), compact=True).source
    assert "cluster_~column" not in unet  # its copies cross every level: no cut, one column



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
        assert message.startswith(f"error[E0701]: writing {ext.upper()} needs the `dot` program of Graphviz")
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
    assert "bad.arch:2:1: error[E0101]: unknown layer or block 'cnov'" in result.output and "^^^^" in result.output
    result = runner.invoke(main, ["graph", write_spec(tmp_path), "-o", str(tmp_path / "tiny.jpg")])
    assert result.exit_code == 1 and "name the output .svg, .png, .pdf or .dot" in result.output
    result = runner.invoke(main, ["graph", write_spec(tmp_path), "-o", str(tmp_path / "x" / "tiny.dot")])
    assert result.exit_code == 1 and result.output.startswith("error[E0701]: cannot write")
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
@pytest.mark.parametrize("spec", per_spec(sorted(p.name for p in SPECS.glob("*.arch"))))
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
