"""The language's constructs: each checked for the layers, names and shapes it must produce.
Expected values are written by hand from the rules in docs/language.md."""
import archdsl

from .helpers import analyze_text, error_of


def names(a):
    return [r.name for r in a.layers]


def test_input_orders():
    assert analyze_text("input 224x224x3").input_shape == (3, 224, 224)
    assert analyze_text("input 8000x1").input_shape == (1, 8000)
    assert analyze_text("input 16x112x112x3").input_shape == (3, 16, 112, 112)
    assert analyze_text("input 784").input_shape == (784,)


def test_attached_bn_and_act_are_sequential_children():
    a = analyze_text("input 32x32x3\nfeatures: {\n  conv 8 3x3 pad=1 bn act=relu\n  maxpool 2x2\n}")
    assert names(a) == ["features.0", "features.1", "features.2", "features.3"]
    assert [r.op for r in a.layers] == ["conv", "bn", "relu", "maxpool"]


def test_label_on_several_layers_makes_a_group():
    a = analyze_text("input 32x32x3\nconv1: conv 8 3x3 act=relu\nsingle: conv 4 1x1\nfc1: fc 10 -> relu")
    assert names(a) == ["conv1.0", "conv1.1", "single", "fc1.0", "fc1.1"]


def test_repetition_inline_and_in_a_named_group():
    a = analyze_text("def blk(c) { conv: conv c 1x1 }\ninput 8x8x4\nconv 4 1x1 x2\nlayer1: blk 4 x3")
    assert names(a) == ["0", "1", "layer1.0.conv", "layer1.1.conv", "layer1.2.conv"]


def test_positions_count_labelled_children_too():
    a = analyze_text("input 8x8x4\ng: { a: conv 4 1x1 ; relu ; b: conv 4 1x1 ; relu }")
    assert names(a) == ["g.a", "g.1", "g.b", "g.3"]


def test_merge_branches_add_no_scope_and_merge_is_named_by_kind():
    a = analyze_text(
        "input 8x8x4\nblk: {\n  concat {\n    b1: conv 2 1x1\n    b2: conv 2 1x1 -> conv 3 3x3 pad=1\n    { p: maxpool 3x3 /1 pad=1 ; q: conv 1 1x1 }\n  }\n}"
    )
    assert names(a) == ["blk.b1", "blk.b2.0", "blk.b2.1", "blk.p", "blk.q", "blk.concat"]
    assert a.layers[-1].output_shape == (2 + 3 + 1, 8, 8)


def test_residual_with_if_branch_and_reused_relu():
    text = """
def basic(c, stride=1, down=no) {
  add {
    { conv1: conv c 3x3 /stride pad=1 bias=no ; bn1: bn ; relu: relu ; conv2: conv c 3x3 pad=1 bias=no ; bn2: bn }
    if down { downsample: { conv c 1x1 /stride bias=no ; bn } } else { identity }
  }
  relu: relu
}
input 16x16x8
layer1: { basic 16 /2 down=yes ; basic 16 }
"""
    a = analyze_text(text)
    got = names(a)
    assert got[:9] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu", "layer1.0.conv2", "layer1.0.bn2",
                       "layer1.0.downsample.0", "layer1.0.downsample.1", "layer1.0.add", "layer1.0.relu"]
    assert a.layers[-1].output_shape == (16, 8, 8)
    # hand count: two 3x3 convs 8->16 and 16->16, a 1x1 projection, three bn, then a block 16->16
    first = 16 * 8 * 9 + 16 * 16 * 9 + 16 * 8 + 3 * 2 * 16
    second = 2 * 16 * 16 * 9 + 2 * 2 * 16
    assert a.totals["params"] == first + second


def test_references_and_several_outputs():
    a = analyze_text("input 16x16x3\nenc: conv 8 3x3 pad=1\ndown: maxpool 2x2\nup: upsample 2\n"
                     "cat: concat {\n  @enc\n  identity\n}\naux: @down -> gap -> fc 5\n@cat\nhead: conv 2 1x1\noutput @head, @aux")
    assert [(n, s) for n, s in a.outputs] == [("head", (2, 16, 16)), ("aux.1", (5,))]
    cat = next(r for r in a.layers if r.name == "cat")
    assert cat.output_shape == (16, 16, 16)


def test_input_reference_inside_a_block_is_the_block_input():
    a = analyze_text("def res(c) {\n  conv c 3x3 pad=1\n  add {\n    identity\n    @input\n  }\n}\ninput 8x8x4\nconv 4 1x1\nr: res 4")
    add = next(r for r in a.layers if r.op == "add")
    assert add.output_shape == (4, 8, 8)


def test_label_templates_with_for_loops():
    a = analyze_text("input 4\nfor i in 1..3 { layer{i}: fc 4 }")
    assert names(a) == ["layer1", "layer2", "layer3"]


def test_repeat_if_and_let():
    a = analyze_text("let n = 2\nlet wide = yes\ninput 4\nrepeat n { fc 4 }\nif wide and n > 1 { fc 16 } else { fc 1 }")
    assert [r.output_shape for r in a.layers] == [(4,), (4,), (16,)]


def test_set_defaults_scope_to_the_rest_of_the_body_and_its_calls():
    text = "def b { conv 4 1x1 }\ninput 8x8x4\ng: {\n  set conv bn act=relu\n  conv 4 1x1\n  b\n}\nconv 4 1x1"
    a = analyze_text(text)
    assert [r.op for r in a.layers] == ["conv", "bn", "relu", "conv", "bn", "relu", "conv"]
    assert names(a)[3:6] == ["g.3.0", "g.3.1", "g.3.2"]


def test_explicit_option_beats_default():
    a = analyze_text("set conv act=relu bias=no\ninput 8x8x4\nconv 4 1x1 act=none bias=yes")
    assert [r.op for r in a.layers] == ["conv"]
    assert a.layers[0].params == 4 * 4 + 4


def test_set_overrides_constants():
    net = archdsl.load("let classes = 1000\nlet size = 224x224x3\ninput size\nconv 8 3x3\nfc classes\n",
                       set={"classes": "10", "size": "32x32x3"})
    a = net.analyze()
    assert a.input_shape == (3, 32, 32) and a.layers[-1].output_shape == (10,)


def test_use_imports_blocks_and_constants(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.arch").write_text("let width = 6\ndef cbr(c) { conv: conv c 3x3 pad=1 ; relu }\n")
    (tmp_path / "net.arch").write_text('use "lib/blocks.arch"\ninput 8x8x3\nstem: cbr width\n')
    a = archdsl.load(tmp_path / "net.arch").analyze()
    assert names(a) == ["stem.conv", "stem.1"]
    assert a.layers[0].params == 6 * 3 * 9 + 6


def test_freeze_counts_trainable_parameters():
    a = analyze_text("input 8x8x3\nfeatures: { conv 4 3x3 ; conv 4 3x3 }\nclassifier: fc 10\nfreeze features")
    conv_params = (4 * 3 * 9 + 4) + (4 * 4 * 9 + 4)
    fc_params = 4 * 4 * 4 * 10 + 10
    assert a.totals["params"] == conv_params + fc_params
    assert a.totals["trainable_params"] == fc_params
    assert a.totals["frozen_params"] == conv_params


def test_register_names_modules_of_its_scope():
    text = "input 8x8x3\nb: {\n  register second\n  first: conv 4 3\n  second: conv 4 3\n}\n"
    assert archdsl.load(text).analysed().registration == {"b": ("second",)}
    err = error_of(text.replace("register second", "register secnd"))
    assert "register names 'secnd', but 'b' has no module of that name" in err.message
    assert "second" in err.hint and err.span.line == 3


def test_aliases_and_square_kernels():
    a = analyze_text("input 8x8x3\ndeconv 4 2 /2\nlinear 3")
    assert [r.op for r in a.layers] == ["convT", "fc"]
    assert a.layers[0].output_shape == (4, 16, 16)


def test_assertions_in_slide_order_pass():
    a = analyze_text("input 227x227x3\n[55x55x96] conv 96 11x11 /4\n[27x27x96] maxpool 3x3 /2\n[4096] fc 4096")
    assert a.layers[-1].output_shape == (4096,)


def test_depth_collapse_sums_figures_and_keeps_totals():
    text = "def blk(c) { conv: conv c 3x3 pad=1 ; bn: bn ; relu }\ninput 8x8x3\nstage: { blk 4 ; blk 4 }\nfc 2"
    net = archdsl.load(text)
    full, one, two = net.analyze(), net.analyze(depth=1), net.analyze(depth=2)
    assert [r.name for r in one.layers] == ["stage", "1"]
    assert [r.name for r in two.layers] == ["stage.0", "stage.1", "1"]
    stage = one.layers[0]
    assert stage.params == sum(r.params for r in full.layers if r.name.startswith("stage."))
    assert stage.macs == sum(r.macs for r in full.layers if r.name.startswith("stage."))
    assert stage.output_shape == (4, 8, 8) and stage.layers == 6
    assert one.totals == full.totals


def test_batch_scales_work_not_parameters():
    one = analyze_text("input 8x8x3\nconv 4 3x3")
    four = analyze_text("input 8x8x3\nconv 4 3x3", batch=4)
    assert four.totals["params"] == one.totals["params"]
    for key in ("macs", "flops", "activations", "other_ops"):
        assert four.totals[key] == 4 * one.totals[key]


def test_dtype_bytes():
    a = analyze_text("input 8x8x3\nconv 4 3x3", dtype="float16")
    assert a.totals["activation_bytes"] == 2 * a.totals["activations"]
    assert a.totals["param_bytes"] == 2 * a.totals["params"]


def test_one_and_three_dimensional_layers():
    a = analyze_text("input 100x2\nconv 4 5 /2\nmaxpool 2\nbn\ngap")
    assert [r.output_shape for r in a.layers] == [(4, 48), (4, 24), (4, 24), (4, 1)]
    b = analyze_text("input 8x16x16x3\nconv 4 3x3x3 pad=1\nmaxpool 2x2x2\nconvT 2 2x2x2 /2")
    assert [r.output_shape for r in b.layers] == [(4, 8, 16, 16), (4, 4, 8, 8), (2, 8, 16, 16)]


def test_comments_semicolons_and_line_continuation():
    a = analyze_text("# a net\ninput 4  # flat\nfc 3 ; relu  # two\nfc \\\n  2\n")
    assert [r.op for r in a.layers] == ["fc", "relu", "fc"]


def test_graph_lint_holds_after_expansion():
    net = archdsl.load("def b(c) { add {\n conv c 1x1\n identity\n} }\ninput 4x4x2\nb 2 x3\nfc 2\n")
    net.graph.lint()


def test_tensor_arguments_to_blocks_and_crop():
    text = ("def up(c, skip, size) {\n  up: convT c 2x2 /2\n  concat { @skip -> crop size ; @up }\n}\n"
            "input 20x20x3\nenc: conv 4 3x3\ndown: maxpool 2x2\ndec: up 4 @enc 18x18")
    a = analyze_text(text)
    rows = {r.name: r for r in a.layers}
    assert rows["dec.1"].op == "crop" and rows["dec.1"].output_shape == (4, 18, 18)
    assert rows["dec.concat"].output_shape == (8, 18, 18)
    assert rows["dec.1"].activations == 0  # a crop is a view


def test_tensor_argument_cannot_be_computed_with():
    from .helpers import error_of

    err = error_of("input 8x8x3\na: conv 4 1x1\nlet x = @a\n")
    assert "is a tensor" in err.message


def test_a_library_used_twice_is_read_once(tmp_path):
    (tmp_path / "blocks.arch").write_text("def cbr(c) { conv: conv c 1x1 }\n")
    (tmp_path / "a.arch").write_text('use "blocks.arch"\n')
    (tmp_path / "net.arch").write_text('use "blocks.arch"\nuse "a.arch"\ninput 4x4x3\ns: cbr 2\n')
    assert [r.name for r in archdsl.load(tmp_path / "net.arch").analyze().layers] == ["s.conv"]


def test_input_can_be_passed_to_a_block():
    a = analyze_text("def f(x) { concat { @x ; identity } }\ninput 4x4x3\nconv 5 1x1\ng: f @input")
    assert a.layers[-1].output_shape == (8, 4, 4)


def test_a_side_head_from_a_reference_is_named_by_its_label():
    a = analyze_text("input 4x4x3\nc: conv 4 1x1\nd: conv 2 1x1\nside: @c -> conv 6 1x1")
    assert a.layers[-1].name == "side" and a.layers[-1].output_shape == (6, 4, 4)


def test_words_compare_as_words():
    a = analyze_text('let act = relu\ninput 4\nif act == relu { fc 2 } else { fc 3 }')
    assert a.layers[-1].output_shape == (2,)


def test_an_unlabelled_layer_can_be_frozen_by_its_position():
    a = analyze_text("input 4\nfc 3\nfc 2\nfreeze 0")
    assert a.totals["trainable_params"] == 2 * 3 + 2


def test_error_messages_for_likely_mistakes():
    from .helpers import error_of

    assert "reads as a repetition" in error_of("let x1 = 4\ninput 4\nfc x1\n").message
    err = error_of("def cb(c, bn=yes) { conv c 3 bn }\ninput 8x8x3\ncb 4\n")
    assert err.hint == "write bn=bn to pass it as the option"
    err = error_of("let c = 64 / 2\ninput 4\n")
    assert "division is written //" in err.hint
    err = error_of("input 4x4x3\nc1: conv 4 1x1\ndef f { @c1 -> relu }\nf\n")
    assert "pass the tensor as an argument" in err.hint
    err = error_of("input 4x4x3\nc1: conv 4 1x1\na: @c1\n")
    assert err.message == "a label names layers; a reference alone creates none"


def test_a_default_reads_an_earlier_parameter_also_when_the_call_passes_nothing():
    text = "def f(a=4, b=a) {\n  conv b 3x3\n}\ninput 8x8x3\nf\nf 2\nf b=5"
    # by hand: a 3x3 conv from c channels to b has b*9c + b parameters; c is 3, then 4, then 2
    assert [r.params for r in analyze_text(text).layers] == [4 * 27 + 4, 2 * 36 + 2, 5 * 18 + 5]
