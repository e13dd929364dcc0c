"""`emit_source`: standalone PyTorch source whose state_dict and outputs are the built module's."""
import importlib.util
import re

import pytest
import torch

import archdsl
from archdsl.backends.pysource import emit_source

from .conftest import SPECS, per_spec

ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.arch"))
# forward on CPU and compare outputs for these; the rest: state_dict keys/shapes/order on meta
# forward runs on a smaller input (the same layers, smaller maps) to keep the test quick; shape
# assertions are dropped, and U-Net's crops follow its 188x188 tile (4x4 out)
SMALL = {
    "googlenet": {"input 224x224x3": "input 64x64x3"},
    "densenet121": {"input 224x224x3": "input 64x64x3"},
    "mobilenet_v2": {"input 224x224x3": "input 64x64x3"},
    "squeezenet1_0": {"input 224x224x3": "input 64x64x3"},
    "c3d": {"input 16x112x112x3": "input 8x16x16x3"},
    "vit_b_16": {"input 224x224x3": "input 64x64x3", "encoder    12": "encoder     2"},  # 17 tokens, 2 blocks
    "unet": {"input 572x572x1": "input 188x188x1", "56x56": "8x8", "104x104": "8x8", "200x200": "8x8",
             "392x392": "8x8"},
}
FORWARD = {"lenet5", "alexnet", "resnet18", "googlenet", "squeezenet1_0", "mobilenet_v2", "densenet121", "unet",
           "m5", "c3d", "vit_b_16"}

EVERY_LAYER = """\
input 64x64x32
conv 32 3x3 pad=same
conv 32 4x4 pad=same
conv 32 3x3 /2 pad=same
conv 32 3x3 pad=valid
conv 32 3x5 pad=1x2
conv 32 3 dilation=2 pad=2
conv 64 3 groups=4 pad=1
conv 64 3 depthwise pad=1
conv 64 1 bias=no bn act=relu6
convT 32 4 /2 pad=1
convT 32 3 /2 pad=1 outpad=1
maxpool 3 /2 pad=1 ceil
maxpool 2 dilation=2
avgpool 3 /2 pad=1 count_pad=no
avgpool 2 ceil
adaptiveavgpool 7x7
adaptivemaxpool 5
upsample 2
upsample size=20x20 mode=bilinear
lrn 5 alpha=0.0001 beta=0.75 k=2
groupnorm 8
layernorm
bn eps=0.001 momentum=0.01 affine=no
leakyrelu 0.2
elu 1.0
prelu channelwise
prelu
gelu ; silu ; sigmoid ; tanh
maxout 2
dropout 0.3
identity
crop 18
gmp
flatten
fc 10 bias=no bn act=sigmoid
softmax
"""


def load_emitted(source: str, tmp_path, name: str):
    assert "archdsl" not in source.split('"""', 2)[2]  # only the docstring may name archdsl
    assert not re.search(r"^\s*(import|from)\s+(?!torch\b)", source, re.M)
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"emitted_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not any(m.startswith("archdsl") for m in vars(module))
    return module


def top_class(module, graph):
    from archdsl.backends.torch import _class_name

    return getattr(module, _class_name(graph.name))


def _norm(text: str) -> str:
    """(3, 3) and 3 configure a pooling layer the same way."""
    text = re.sub(r"\((\d+(?:\.\d+)?)(?:, \1)+\)", r"\1", text)
    text = re.sub(r"\((\d+(?:\.\d+)?),\)", r"\1", text)
    return text


def check_layers_and_state(built, emitted):
    a, b = built.state_dict(), emitted.state_dict()
    assert list(a) == list(b)
    assert [t.shape for t in a.values()] == [t.shape for t in b.values()]
    leaves = {n: m for n, m in built.named_modules() if n and not list(m.children())}
    mine = dict(emitted.named_modules())
    for name, module in leaves.items():
        assert _norm(repr(mine[name])) == _norm(repr(module)), name
    assert [n for n, p in built.named_parameters() if not p.requires_grad] == \
           [n for n, p in emitted.named_parameters() if not p.requires_grad]


def check_same(net, tmp_path, name, forward=True, batch=2):
    source = emit_source(net.analysed())
    compile(source, f"{name}.py", "exec")
    module = load_emitted(source, tmp_path, name)
    cls = top_class(module, net.graph)
    if not forward:
        built = net.build(device="meta")
        with torch.device("meta"):
            emitted = cls()
        check_layers_and_state(built, emitted)
        return source
    torch.manual_seed(0)
    built = net.build().eval()
    for buf_name, buf in built.named_buffers():  # non-trivial running statistics
        if buf.is_floating_point():
            buf.uniform_(0.5, 1.5)
    emitted = cls().eval()
    check_layers_and_state(built, emitted)
    emitted.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(batch, *net.analyze().input_shape)
    with torch.no_grad():
        want, got = built(x.clone()), emitted(x.clone())
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(want) == len(got)
    for w, g in zip(want, got):
        assert w.shape == g.shape
        assert torch.allclose(w, g, rtol=1e-5, atol=1e-6)
    return source


@pytest.mark.parametrize("spec", per_spec(ALL_SPECS))
def test_every_spec(spec, tmp_path):
    forward = spec in FORWARD
    net = archdsl.load(SPECS / f"{spec}.arch")
    if spec in SMALL:
        text = re.sub(r"^(\s*)\[[^\]]*\]", r"\1", (SPECS / f"{spec}.arch").read_text(), flags=re.M)
        for old, new in SMALL[spec].items():
            assert old in text
            text = text.replace(old, new)
        (tmp_path / "lib").symlink_to(SPECS / "lib")
        (tmp_path / f"{spec}.arch").write_text(text)
        net = archdsl.load(tmp_path / f"{spec}.arch")
    source = check_same(net, tmp_path, spec, forward=forward, batch=2)
    assert source.startswith(f'"""{net.graph.name} in PyTorch, generated by archdsl from ')
    params = net.analyze().totals["params"]
    assert f"{params:,} parameters" in source.splitlines()[2]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_every_layer(tmp_path):
    source = check_same(archdsl.load(EVERY_LAYER), tmp_path, "every_layer")
    assert "class Maxout(nn.Module)" in source and "class Crop(nn.Module)" in source


def _classes(source: str) -> list[str]:
    return re.findall(r"^class (\w+)\(nn\.(?:Module|Sequential)\):", source, re.M)


def test_resnet50_one_class_per_block_definition():
    """16 bottleneck calls and 4 stages of 3, 4, 6 and 3 blocks: one class for each definition,
    with the definition's parameters, as a person would write ResNet-50."""
    source = emit_source(archdsl.load(SPECS / "resnet50.arch").analysed())
    compile(source, "resnet50.py", "exec")
    assert _classes(source) == ["Bottleneck", "BottleneckStage", "Resnet50"]
    assert "    def __init__(self, in_channels, c, stride=1, down=False):\n" in source
    assert "        self.conv3 = nn.Conv2d(c, 4 * c, kernel_size=1, bias=False)\n" in source
    assert "        ) if down else None\n" in source and "        if self.downsample is not None:\n" in source
    assert "class BottleneckStage(nn.Sequential):" in source
    assert "        layers = [Bottleneck(in_channels, c, stride=stride, down=True)]\n" \
           "        for _ in range(blocks - 1):\n" \
           "            layers.append(Bottleneck(4 * c, c))\n" in source
    assert "        self.layer1 = BottleneckStage(64, 64, 3)\n" in source
    assert "        self.layer3 = BottleneckStage(512, 256, 6, stride=2)\n" in source
    assert "Maxout" not in source and "Crop" not in source
    assert "torch.flatten" not in source or "self.flatten" not in source


def test_resnet18_reads_like_torchvision():
    source = emit_source(archdsl.load(SPECS / "resnet18.arch").analysed())
    assert _classes(source) == ["Basic", "BasicStage", "Resnet18"]
    assert "        out = out.add_(x)\n" in source  # in place, as torchvision's `out += identity`
    assert "        x = self.layer1(x)  # 56x56x64\n" in source
    assert "self.relu = nn.ReLU(inplace=True)" in source
    assert "        self.conv1 = nn.Conv2d(in_channels, c, kernel_size=3, stride=stride, padding=1, bias=False)\n" in source
    assert "        self.downsample = nn.Sequential(\n" \
           "            nn.Conv2d(in_channels, c, kernel_size=1, stride=stride, bias=False),\n" \
           "            nn.BatchNorm2d(c),\n" \
           "        ) if down else None\n" in source  # torchvision's downsample, None where there is none
    assert "            Basic(in_channels, c, stride=stride, down=stride != 1),\n            Basic(c, c),\n" in source
    assert "        self.layer2 = BasicStage(64, 128, stride=2)\n" in source
    assert "64, 64, kernel_size=3" not in source  # no class with the channels written in


# Specs whose block calls build layers of different kinds, which one class cannot take as
# constructor arguments: a class per kind, as test_a_block_whose_calls_differ_in_their_layers shows
# (MobileNetV3's rows: ReLU or hardswish, with or without an SE gate; EfficientNetV2: Fused-MBConv
# or MBConv; RegNet: a block with or without its projection, whose add lists the shortcut second
# or first; ShuffleNet V2: the units of stride 2 and of stride 1).
VARIANTS = {"mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
            *(p.stem for p in SPECS.glob("regnet_*.arch")), *(p.stem for p in SPECS.glob("shufflenet_v2_*.arch"))}


@pytest.mark.parametrize("spec", per_spec(ALL_SPECS))
def test_one_class_per_block_definition(spec):
    """Every block definition the spec calls has exactly one class (not seven Basic ... Basic7
    with the channels written in), and the file names the spec by a relative path."""
    graph = archdsl.load(SPECS / f"{spec}.arch").analysed()
    source = emit_source(graph, source=str((SPECS / f"{spec}.arch").resolve()))
    called = {info.block for info in graph.groups.values() if info.kind == "block"}
    documented = re.findall(r'^class \w+\(nn\.\w+\):\n    """(?:Block `(\w+)`|[\w.]+: (\w+))', source, re.M)
    per_block = [a or b for a, b in documented if (a or b) in called]
    if spec in VARIANTS:
        assert set(per_block) == called, (per_block, called)
    else:
        assert sorted(per_block) == sorted(called), (per_block, called)
    assert str(SPECS.resolve()) not in source and "generated by archdsl from /" not in source


def test_a_block_whose_calls_differ_in_their_layers(tmp_path):
    """Calls of one block that build different layers (act=relu and act=gelu) cannot share a
    class: each kind gets its own, and the module is still the built one."""
    text = "input 8x8x3\ndef b(c, a=relu) { conv c 3 pad=1 act=a }\nb 4\nb 4 a=gelu\nb 8\n"
    source = check_same(archdsl.load(text), tmp_path, "variants")
    assert _classes(source) == ["B", "B2", "Network"]
    assert "self.add_module('0', B(3, 4))" in source and "self.add_module('2', B(4, 8))" in source


def test_a_loop_whose_arguments_grow(tmp_path):
    """DenseNet-like: a block that calls another `n` times on a growing input is a loop with
    `in_channels + 4 * i`; the calls with 3 and 5 layers share its class."""
    text = """\
input 8x8x4
def layer() { concat { identity ; { bn ; conv 4 3 pad=1 } } }
def stack(n) { for i in 1..n { layer{i}: layer } }
s1: stack 3
s2: stack 5
"""
    source = check_same(archdsl.load(text), tmp_path, "dense")
    assert "        for i in range(n):\n" \
           "            self.add_module(f\"layer{i + 1}\", Layer(in_channels + 4 * i))\n" in source
    assert "        self.s1 = Stack(4, 3)\n        self.s2 = Stack(16, 5)\n" in source


def test_several_outputs_and_frozen_parts(tmp_path):
    text = """\
input 16x16x3
trunk: { conv 8 3x3 pad=1 bn ; relu }
side: conv 8 1x1 bn act=relu
mix: add { @trunk ; @side }
head: gap -> fc 5
aux: @trunk -> conv 2 1x1
freeze trunk
output @head, @aux
"""
    source = check_same(archdsl.load(text), tmp_path, "outputs")
    assert "self.trunk.requires_grad_(False)" in source
    assert re.search(r"return \w+, \w+\n", source)


def test_a_group_that_is_not_one_call(tmp_path):
    """A group that a path leaves and re-enters cannot be one call: its class holds the layers and
    the enclosing forward calls them (`self.g.a`)."""
    from archdsl.ir import GroupInfo

    net = archdsl.load("input 8x8x3\na: conv 4 3x3 pad=1\ns: conv 4 1x1\nadd { @a ; @s }\nc: conv 2 1x1\n")
    graph = net.graph
    for node in graph.nodes:
        if node.name in ("a", "add", "c"):
            node.name = "g." + node.name
    graph.groups["g"] = GroupInfo("g", "", "group", graph.nodes[1].span)
    source = check_same(net, tmp_path, "nonconvex")
    assert "self.g.a(x)" in source and "self.g.c(" in source


def test_fc_on_a_spatial_input_flattens(tmp_path):
    net = archdsl.load("input 8x8x3\nfeatures: { conv 4 3x3 ; relu }\nclassifier: { fc 10 ; relu ; fc 3 }\n")
    source = check_same(net, tmp_path, "flat")
    assert "torch.flatten(x, 1)  # 144" in source


def test_a_part_nothing_reads_is_still_built_and_called(tmp_path):
    net = archdsl.load("input 8x8x3\nc: conv 4 3\naux: { @c -> conv 2 1 }\nmain: @c -> gap -> fc 3\noutput @main\n")
    source = check_same(net, tmp_path, "dead")
    assert "aux = self.aux(x)" in source



def _generated_spec(layers: int) -> str:
    """A third each: top-level conv/relu lines, residual blocks (`add` with `@input`), and calls
    of a binary tree of nested blocks, as bench/bench_emit.py writes them; conv/relu lines to the end."""
    def alternating(count):
        return ["conv 8 3 pad=1" if i % 2 == 0 else "relu" for i in range(count)]

    third = layers // 3
    lines = ["network generated", "input 8x8x8",
             "def res() {", "  add { conv 8 3 pad=1 -> relu -> conv 8 3 pad=1 ; @input }", "  relu", "}",
             "def d0() {", "  conv 8 3 pad=1", "  relu", "}"]
    lines += [f"def d{k}() {{ d{k - 1} ; d{k - 1} }}" for k in range(1, 4)]  # d3: 16 layers
    lines += alternating(third) + ["res"] * (third // 5) + ["d3"] * (third // 16)
    lines += alternating(layers - third - third // 5 * 5 - third // 16 * 16)
    return "\n".join(lines) + "\n"


def test_a_generated_3000_layer_network(tmp_path):
    """The emitter is linear in the network's size (bench/bench_emit.py); its file for a large
    network compiles, and its state_dict and output shape are the built module's."""
    spec = _generated_spec(3000)
    net = archdsl.load(spec)
    graph = net.analysed()
    assert len(graph.nodes) - 1 == 3000
    source = net.source()
    compile(source, "generated.py", "exec")
    module = load_emitted(source, tmp_path, "generated")
    with torch.device("meta"):
        emitted = top_class(module, graph)()
    built = archdsl.build(spec, device="meta")
    a, b = built.state_dict(), emitted.state_dict()
    assert list(a) == list(b)
    assert [t.shape for t in a.values()] == [t.shape for t in b.values()]
    with torch.no_grad():
        y = emitted(torch.empty(1, 8, 8, 8, device="meta"))
    assert tuple(y.shape[1:]) == graph.nodes[graph.outputs[0]].shape


def test_register_orders_the_module_and_its_source(tmp_path):
    """`register` puts the named children first, in its order, in the built module and in the source."""
    net = archdsl.load("input 8x8x3\nb: {\n  register second, first\n  first: conv 4 3\n  second: conv 4 1\n}\nfc 2\n")
    assert list(net.build(device="meta").state_dict()) == ["b.second.weight", "b.second.bias", "b.first.weight",
                                                           "b.first.bias", "1.weight", "1.bias"]
    check_same(net, tmp_path, "registered")
