"""Every op of the registry has a test that compares it with PyTorch."""
import pytest

pytest.importorskip("torch")

from archdsl.ops import OPS, Op  # noqa: E402

from .test_cost_oracle import ORACLE_OPS as COST_ORACLE_OPS  # noqa: E402
from .test_shape_oracle import ORACLE_OPS as SHAPE_ORACLE_OPS  # noqa: E402


def test_every_op_has_an_oracle_strategy():
    """The cost oracle draws every op a spec can write (concat and add as merges), and every
    single-input op with a shape rule of its own (its class overrides `Op.infer`) is drawn by the
    shape oracle or the cost oracle. A new op fails here until a strategy draws it."""
    assert set(COST_ORACLE_OPS | SHAPE_ORACLE_OPS) <= set(OPS), "a strategy draws a name the registry lacks"
    assert set(OPS) - {"input"} - COST_ORACLE_OPS == set(), "ops no cost-oracle strategy draws"
    own_rule = {name for name, op in OPS.items()
                if op.min_inputs == op.max_inputs == 1 and type(op).infer is not Op.infer}
    assert own_rule - SHAPE_ORACLE_OPS - COST_ORACLE_OPS == set(), "shape rules no oracle draws"


def test_every_op_declares_what_every_other_tool_counts():
    """`--convention`: each op says what fvcore, torchinfo, ptflops (both backends), thop and
    FlopCounterMode count for it (`counts`; `Op.nothing` where no tool counts it), and
    tests/test_conventions.py checks it against the tools on the programs the cost oracle draws."""
    assert [name for name, op in OPS.items() if type(op).counts is Op.counts] == [], "ops without counts"


def test_every_op_has_a_lowering_both_backends_read():
    """A lowering per op (the input excepted): a layer class that exists, arguments its resolved
    attributes provide, and a call kind both backends know. Checked on real resolved attributes:
    the cost oracle's single layers are built from these in its own tests; here every op of a
    small network of each kind is built by the fx builder and printed by the source emitter."""
    import torch
    from torch import nn

    import archdsl
    from archdsl.backends import layers
    from archdsl.backends.pysource import layer_source
    from archdsl.backends.torch import make_layer
    from archdsl.ops.lowering import CALLS

    for name, op in OPS.items():
        if name == "input":
            assert op.lowering is None
            continue
        assert op.lowering is not None, f"{name} has no lowering"
        assert op.lowering.call in CALLS
        if op.lowering.call == "module":
            for dims in (1, 2, 3):
                cls = op.lowering.layer.format(dims=dims)
                owner = nn if cls.startswith("nn.") else layers
                assert hasattr(owner, cls.removeprefix("nn.")), f"{name}: no class {cls}"
    seen = set()
    for spec in EXAMPLES:
        net = archdsl.load(spec)
        for node in net.analysed().nodes[1:]:
            seen.add(node.op)
            lowering = OPS[node.op].lowering
            if lowering.call != "module":
                continue
            built = make_layer(lowering, node.resolved, node.inplace)
            printed = eval(layer_source(lowering, node.resolved, node.inplace),
                           {"nn": nn, "torch": torch, **{n: getattr(layers, n) for n in dir(layers)}})
            assert type(built) is type(printed), node.op
            assert {k: v.shape for k, v in built.state_dict().items()} == {k: v.shape for k, v in printed.state_dict().items()}
            printed.load_state_dict(built.state_dict())
            x = torch.rand((2, *net.graph.nodes[node.inputs[0]].shape))
            if lowering.flattens(node.resolved):
                x = x.flatten(1)
            built.eval(), printed.eval()
            assert torch.equal(built(x.clone()), printed(x.clone())), f"{node.op}: {built!r} and {printed!r} differ"
    assert set(OPS) - {"input"} - seen == set(), "ops no example network uses"


# every op at least once, with non-default arguments where it has any
EXAMPLES = [
    "input 16x16x8\nconv 8 3 /2 pad=1 dilation=1 groups=2 bias=no bn act=leakyrelu\nconvT 4 2 /2 outpad=1\n"
    "maxpool 3 /2 pad=1 ceil\navgpool 2 count_pad=no\nrelu6\nelu 0.5\nsilu\nsigmoid\ntanh\ngelu\nprelu channelwise\n"
    "lrn 3\ngroupnorm 2\nlayernorm eps=0.001\nmaxout 2\nupsample 2 mode=bilinear align_corners=yes\ncrop 6x6\n"
    "adaptiveavgpool 3\nadaptivemaxpool 2\nsoftmax\ndropout 0.2\nidentity\nflatten\nfc 10 bias=no\n",
    "input 8x8x4\na: conv 4 1\nconcat {\n  conv 2 1\n  @a\n}\nadd {\n  conv 6 1\n  identity\n}\ngap\nfc 3\n",
    "input 8x8x4\ngmp\nrelu\nbn\nupsample size=3x3\n",
    "input 8x8x4\ndef se() { mul { { gap ; conv 4 1 ; hardsigmoid } ; @input } }\nse\nhardswish\n"
    "add { stochastic_depth 0.1 mode=batch ; identity }\nconcat { chunk 2 0 ; { chunk 2 1 ; conv 2 1 } }\nchannel_shuffle 2\n"
    "layernorm2d eps=0.000001\nls: scale 0.5\npermute 0 2 3 1\nlayernorm dims=1\nfc 6 last\npermute 0 3 1 2\n",
    "input 16x16x8\nconv 16 2 /2\npermute 0 2 3 1\nlayernorm dims=1\nwindow_attention 2 4 shift=2\npatch_merging\n"
    "window_attention 4 3 shift=1 v2\npatch_merging v2 eps=0.000001\npermute 0 3 1 2\ngap\nfc 3\n",
    "input 40\nfc 10\nbn\nrelu\n",
    "input 32x32x3\nconv 16 8 /8\ntokens\nclass_token\npos_embedding std=0.1\nattention 4 dropout=0.1\n"
    "attention 2 bias=no\nselect 0\nfc 10\n",
    "input 32x6\nconv 4 3\nbn\nmaxpool 2\n",
    "input 4x8x8x3\nconv 4 3 pad=1\nbn\nmaxpool 2\nupsample 2\n",
]


def test_every_op_has_a_row_in_the_language_reference():
    """docs/language.md's layer tables are what tools/make_docs.py generates from the registry,
    and every op a spec can write, and every alias, appears in them."""
    from archdsl.ops.reference import render

    from .conftest import ROOT

    text = (ROOT / "docs" / "language.md").read_text()
    assert render(text, OPS) == text, "docs/language.md is out of date: run `python tools/make_docs.py`"
    for name, op in OPS.items():
        if op.writable:
            assert f"| `{name}` |" in text, f"{name} has no row"
            assert op.doc, f"{name} has no doc"
        for alias in op.aliases:
            assert f"`{alias}`" in text


def test_every_example_an_error_suggests_analyses():
    """The missing-argument hint shows `op.example`: it must be a call that works."""
    import archdsl
    from archdsl.ops.args import REQUIRED

    for name, op in OPS.items():
        if op.writable and any(a.default is REQUIRED for a in op.args):
            assert op.example, f"{name} has required arguments but no example for the hint"
        if op.example:
            assert op.example.split()[0] == name
            archdsl.load(f"input {op.example_input}\n{op.example}\n").analyze()
