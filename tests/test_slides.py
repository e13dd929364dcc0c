"""archdsl's figures against HAND CALCULATIONS from the lecture slides (shared/seeds/*.txt).

Every expected number below is written as the slide's own arithmetic (or an explicit hand
calculation next to it), never as archdsl's earlier output. Where a slide's arithmetic disagrees
with PyTorch, PyTorch wins and the comment says so. Shapes from the slides are HxWxC (LxC in 1D,
DxHxWxC in 3D); archdsl's `output_shape` is PyTorch's order (C, H, W), without the batch.
"""
import pytest

import archdsl

from .conftest import SPECS


def analyse(spec, **kw):
    return archdsl.load(spec, **kw).analyze()


def chw(slide_shape):
    """The slides' HxWxC (or LxC, DxHxWxC, or a plain vector) in PyTorch's (C, ...) order."""
    if len(slide_shape) == 1:
        return tuple(slide_shape)
    return (slide_shape[-1],) + tuple(slide_shape[:-1])


def by_name(analysis):
    return {row.name: row for row in analysis.rows}


def warning_texts(analysis):
    return [w.message for w in analysis.warnings]


# ---------------------------------------------------------------------------------------------
# Output size: (N - F)/stride + 1 (cs5670-cnn-2021/2022, ebu7240 "Spatial Dimension at Convolution Layer")
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stride, expected", [
    (1, 5),  # "stride 1 => (7 - 3)/1 + 1 = 5"
    (2, 3),  # "stride 2 => (7 - 3)/2 + 1 = 3"
])
def test_output_size_7x7_input_3x3_filter_fits(stride, expected):
    a = analyse(f"input 7x7x1\nconv 1 3x3 /{stride}\n")
    assert a.layers[0].output_shape == (1, expected, expected)
    assert a.warnings == ()


def test_output_size_stride_3_does_not_fit_warns():
    # Slide: "stride 3 => (7 - 3)/3 + 1 = 2.33 ... doesn't fit! cannot apply 3x3 filter on 7x7
    # input with stride 3". PyTorch does apply it: it rounds down, floor(4/3) + 1 = 2, and the
    # last row/column (7 - ((2 - 1)*3 + 3) = 1) is never read. archdsl follows PyTorch and warns.
    a = analyse("input 7x7x1\nconv 1 3x3 /3\n")
    assert a.layers[0].output_shape == (1, (7 - 3) // 3 + 1, (7 - 3) // 3 + 1) == (1, 2, 2)
    (text,) = warning_texts(a)
    assert "does not fit" in text
    assert "2.33" in text  # the slide's own figure
    assert "last 1 row and column" in text  # 7 - ((2 - 1)*3 + 3) = 1


def test_zero_pad_1_keeps_7x7():
    # "e.g. input 7x7, 3x3 filter, applied with stride 1, pad with 1 pixel border => 7x7 output!"
    a = analyse("input 7x7x1\nconv 1 3x3 pad=1\n")
    assert a.layers[0].output_shape == (1, (7 + 2 * 1 - 3) // 1 + 1, (7 + 2 * 1 - 3) // 1 + 1) == (1, 7, 7)


@pytest.mark.parametrize("f, pad", [(3, 1), (5, 2), (7, 3)])
def test_pad_f_minus_1_over_2_preserves_size(f, pad):
    # "zero-padding with (F-1)/2 (will preserve size spatially): F = 3 => 1, F = 5 => 2, F = 7 => 3"
    a = analyse(f"input 32x32x3\nconv 8 {f}x{f} pad={pad}\n")
    assert a.layers[0].output_shape == (8, 32, 32)


def test_32x32_input_repeated_5x5_convs_shrink():
    # "32x32 input convolved repeatedly with 5x5 filters shrinks volumes spatially! (32 -> 28 -> 24 ...)"
    a = analyse("input 32x32x3\nconv 8 5x5\nconv 8 5x5\n")
    assert [r.output_shape[1] for r in a.layers] == [32 - 5 + 1, 28 - 5 + 1] == [28, 24]


def test_32x32x3_ten_5x5_filters_pad_2():
    # "Input volume: 32x32x3, 10 5x5 filters with stride 1, pad 2.
    #  Output volume size: (32+2*2-5)/1+1 = 32 spatially, so 32x32x10.
    #  each filter has 5*5*3 + 1 = 76 params (+1 for bias) => 76*10 = 760"
    a = analyse("input 32x32x3\nconv 10 5x5 pad=2\n")
    (row,) = a.layers
    assert row.output_shape == chw((32, 32, 10))
    assert row.params == (5 * 5 * 3 + 1) * 10 == 760


def test_conv_layer_summary_weights_and_biases():
    # "(F*F*D1)*K weights and K biases"; W2 = (W1 - F + 2P)/S + 1, D2 = K
    w1, d1, f, s, p, k = 27, 16, 3, 2, 1, 24
    a = analyse(f"input {w1}x{w1}x{d1}\nconv {k} {f}x{f} /{s} pad={p}\n")
    (row,) = a.layers
    w2 = (w1 - f + 2 * p) // s + 1  # (27 - 3 + 2)/2 + 1 = 14
    assert row.output_shape == (k, w2, w2) == (24, 14, 14)
    assert row.params == (f * f * d1) * k + k


def test_one_by_one_conv():
    # "1x1 CONV with 32 filters (each filter has size 1x1x64, and performs a 64-dimensional dot product)"
    a = analyse("input 56x56x64\nconv 32 1x1\n")
    (row,) = a.layers
    assert row.output_shape == (32, 56, 56)
    assert row.params == (1 * 1 * 64) * 32 + 32
    assert row.macs == 56 * 56 * 32 * 64  # one 64-dimensional dot product per output value


# ---------------------------------------------------------------------------------------------
# dl-crash-course-cnn.txt: stride, the 640x480 network, dilation, transposed conv, pooling
# ---------------------------------------------------------------------------------------------

def test_crash_course_8x8_input_3x3_stride_2():
    # "Input 8x8, Kernel 3x3, Output 3x3, padding=0, stride=2". The slide's formula has a CEILING,
    # "ceil((8 + 2*0 - 3)/2) + 1 = ceil(2.5) + 1 = 3", but ceil(2.5) + 1 is 4: the slide's answer 3
    # is PyTorch's FLOOR, floor(2.5) + 1 = 3. The 8th row/column is never read (a warning).
    a = analyse("input 8x8x1\nconv 1 3x3 /2\n")
    assert a.layers[0].output_shape == (1, (8 + 2 * 0 - 3) // 2 + 1, (8 + 2 * 0 - 3) // 2 + 1) == (1, 3, 3)
    (text,) = warning_texts(a)
    assert "3.50" in text and "does not fit" in text


CRASH_COURSE_640 = """
input 480x640x3
conv 16 7x7 /2 pad=3 act=relu
conv 32 5x5 /2 pad=2 act=relu
conv 64 3x3 /2 pad=1 act=relu
fc 256 act=relu
fc 1
"""


def test_crash_course_640x480_network():
    # Slide: "(640 + 2*3 - 7)/2 + 1 = 320, (480 + 2*3 - 7)/2 + 1 = 240" and the parameter total
    # "7*7*3*16 + 16 + 5*5*16*32 + 32 + 3*3*32*64 + 64 + 256*307200 + 256 + 1*256 + 1 = 78,677,409;
    # One FC layer claims 99.96%". The slide only shows the first conv; 307200 = 64*60*80 says
    # the three convs halve the size each time (strides 2, "same" padding), as written above.
    # Note (640 + 6 - 7)/2 + 1 is really 320.5: PyTorch rounds down to 320 (and 240.5 -> 240).
    a = analyse(CRASH_COURSE_640)
    conv1, _, conv2, _, conv3, _, fc1, _, fc2 = a.layers
    assert conv1.output_shape == (16, (480 + 2 * 3 - 7) // 2 + 1, (640 + 2 * 3 - 7) // 2 + 1) == (16, 240, 320)
    assert conv3.output_shape == (64, 60, 80) and fc1.params == 256 * 307200 + 256  # fc1 reads 64*60*80 values
    total = 7 * 7 * 3 * 16 + 16 + 5 * 5 * 16 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + 256 * 307200 + 256 + 1 * 256 + 1
    assert a.totals["params"] == total == 78_677_409
    assert round(100 * fc1.params / a.totals["params"], 2) == 99.96
    assert a.warnings == ()  # the half pixel left over is padding, not input


def test_dilated_conv_7x7():
    # "Input: 7x7, padding 0, stride 1, dilation rate 1, kernel 3x3:
    #  Output 3x3, floor((7 + 2*0 - [3 + 1*(3 - 1)])/1) + 1 = 3".
    # The slide's "rate 1" counts the pixels SKIPPED between taps; PyTorch's dilation is the
    # spacing of the taps, so the slide's rate r is dilation=r+1, effective kernel d*(k-1)+1 = 5.
    a = analyse("input 7x7x1\nconv 1 3x3 dilation=2\n")
    (row,) = a.layers
    k_eff = 3 + 1 * (3 - 1)  # the slide's; PyTorch's d*(k - 1) + 1 = 2*2 + 1 is the same 5
    assert row.output_shape == (1, (7 + 2 * 0 - k_eff) // 1 + 1, (7 + 2 * 0 - k_eff) // 1 + 1) == (1, 3, 3)
    assert row.receptive_field == ((k_eff, k_eff), (1, 1))
    assert row.params == 3 * 3 * 1 * 1 + 1  # still only the k_x*k_y taps


def test_transposed_conv_2x2_to_4x4():
    # "Input: 2x2, padding 0, stride 1, Kernel: 3x3, Required Output: 4x4 ... p = 2". The slide's p
    # is the padding of the equivalent DIRECT conv (ceil((2 + 2*2 - 3)/1) + 1 = 4). PyTorch's
    # ConvTranspose2d padding is k - 1 - p = 0: (2 - 1)*1 - 2*0 + 3 = 4.
    a = analyse("input 2x2x1\nconvT 1 3x3 pad=0\n")
    assert a.layers[0].output_shape == (1, (2 - 1) * 1 - 2 * 0 + 3, (2 - 1) * 1 - 2 * 0 + 3) == (1, 4, 4)
    direct = analyse("input 2x2x1\nconv 1 3x3 pad=2\n")  # the slide's direct-conv view, p = 2
    assert direct.layers[0].output_shape == a.layers[0].output_shape


def test_transposed_conv_6x6_to_5x5():
    # "Input: 6x6, padding 0, stride 1, Kernel: 4x4, Required Output: 5x5 ... p = 1" (direct-conv
    # view: (6 + 2*1 - 4)/1 + 1 = 5). In PyTorch's ConvTranspose2d terms padding = 4 - 1 - 1 = 2:
    # (6 - 1)*1 - 2*2 + 4 = 5.
    a = analyse("input 6x6x1\nconvT 1 4x4 pad=2\n")
    assert a.layers[0].output_shape == (1, (6 - 1) * 1 - 2 * 2 + 4, (6 - 1) * 1 - 2 * 2 + 4) == (1, 5, 5)
    direct = analyse("input 6x6x1\nconv 1 4x4 pad=1\n")  # the slide's direct-conv view, p = 1
    assert direct.layers[0].output_shape == a.layers[0].output_shape


def test_max_pool_8x8_2x2():
    # "Input: 8x8, Pool size: 2x2 ... stride equals to the pool_size; output (H - pool)/pool + 1";
    # "Parameter free". The result on the slide is a 4x4 grid.
    a = analyse("input 8x8x1\nmaxpool 2x2\n")
    (row,) = a.layers
    assert row.output_shape == (1, (8 - 2) // 2 + 1, (8 - 2) // 2 + 1) == (1, 4, 4)
    assert row.params == 0


def test_1d_and_3d_conv_shapes():
    # "1D: Image L x C, Kernel k x C x K, Output L' x K"; "3D: Image H x W x D x C,
    # Kernel k_x x k_y x k_z x C x K, Output H' x W' x D' x K". archdsl writes 3D inputs DxHxWxC.
    a = analyse("input 100x12\nconv 32 5\n")
    assert a.layers[0].output_shape == chw((100 - 5 + 1, 32))
    assert a.layers[0].params == 5 * 12 * 32 + 32
    a = analyse("input 8x20x20x3\nconv 4 3x3x3 pad=1\n")
    assert a.layers[0].output_shape == chw((8, 20, 20, 4))
    assert a.layers[0].params == 3 * 3 * 3 * 3 * 4 + 4


# ---------------------------------------------------------------------------------------------
# Receptive fields (ebu7240 "Three 3x3 Conv layers vs. Single 7x7 Conv layer"; VGG "Why smaller filters?")
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, rf", [(1, 3), (2, 5), (3, 7)])
def test_stacked_3x3_receptive_field(n, rf):
    # "Receptive fields are equal. For three 3x3 Conv layers, 3+3-1+3-1 = 7" (two give 5x5)
    a = analyse("input 32x32x8\n" + "conv 8 3x3 pad=1\n" * n)
    assert a.layers[-1].receptive_field == ((rf, rf), (1, 1))


def test_three_3x3_vs_one_7x7_parameters():
    # "# of Conv parameters: 3 x C x (3x3xC) = 27C^2 vs. C x (7x7xC) = 49C^2" (no biases)
    c = 64
    three = analyse(f"input 28x28x{c}\n" + f"conv {c} 3x3 pad=1 bias=no\n" * 3)
    one = analyse(f"input 28x28x{c}\nconv {c} 7x7 pad=3 bias=no\n")
    assert three.totals["params"] == 3 * c * (3 * 3 * c) == 27 * c * c
    assert one.totals["params"] == c * (7 * 7 * c) == 49 * c * c
    assert three.layers[-1].receptive_field == one.layers[-1].receptive_field == ((7, 7), (1, 1))
    assert three.layers[-1].output_shape == one.layers[-1].output_shape == (c, 28, 28)


# ---------------------------------------------------------------------------------------------
# AlexNet, "Full (simplified) AlexNet architecture" (ebu7240, transfer-learning slides): specs/alexnet.arch
# ---------------------------------------------------------------------------------------------

ALEXNET_TABLE = [  # (row, the slide's [HxWxC])
    ("conv1", (55, 55, 96)),
    ("pool1", (27, 27, 96)),
    ("norm1", (27, 27, 96)),
    ("conv2", (27, 27, 256)),
    ("pool2", (13, 13, 256)),
    ("norm2", (13, 13, 256)),
    ("conv3", (13, 13, 384)),
    ("conv4", (13, 13, 384)),
    ("conv5", (13, 13, 256)),
    ("pool3", (6, 6, 256)),
    ("fc6", (4096,)),
    ("fc7", (4096,)),
    ("fc8", (1000,)),
]


@pytest.fixture(scope="module")
def alexnet():
    return archdsl.load(SPECS / "alexnet.arch").analyze(depth=1)


def test_alexnet_every_slide_shape(alexnet):
    rows = by_name(alexnet)
    assert alexnet.input_shape == chw((227, 227, 3))  # "[227x227x3] INPUT"
    assert [r.name for r in alexnet.layers] == [name for name, _ in ALEXNET_TABLE]
    for name, shape in ALEXNET_TABLE:
        assert rows[name].output_shape == chw(shape), name
    assert alexnet.warnings == ()  # every window fits: 216/4, 52/2, 24/2, 10/2 are exact


def test_alexnet_slide_arithmetic(alexnet):
    rows = by_name(alexnet)
    assert rows["conv1"].output_shape[1:] == ((227 - 11) // 4 + 1,) * 2  # "(227-11)/4+1 = 55"
    assert rows["pool1"].output_shape[1:] == ((55 - 3) // 2 + 1,) * 2  # "(55-3)/2+1 = 27"
    # "Parameters: (11*11*3)*96 = 35K, Bias: 96"
    assert rows["conv1"].params == (11 * 11 * 3) * 96 + 96 == 34_944
    assert round((rows["conv1"].params - 96) / 1000) == 35
    # "POOL1 ... Parameters: 0!"
    assert rows["pool1"].params == 0
    # im2col slide: X_col is [363 x 3025] (11*11*3 = 363 pixels, 55*55 = 3025 positions),
    # W_row is [96 x 363]: the conv is one [96x363] x [363x3025] matrix product.
    assert rows["conv1"].macs == 96 * (11 * 11 * 3) * (55 * 55) == 96 * 363 * 3025


def test_alexnet_parameter_total(alexnet):
    # Hand calculation, (F*F*D1)*K + K per conv and (inputs + 1)*outputs per fc, one tower:
    convs = [(11 * 11 * 3) * 96 + 96, (5 * 5 * 96) * 256 + 256, (3 * 3 * 256) * 384 + 384,
             (3 * 3 * 384) * 384 + 384, (3 * 3 * 384) * 256 + 256]
    fcs = [6 * 6 * 256 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000]
    assert alexnet.totals["params"] == sum(convs) + sum(fcs) == 62_378_344
    assert by_name(alexnet)["fc6"].params == fcs[0]  # fc6 reads the flattened 6x6x256 pool3


def test_alexnet_two_towers_like_the_paper():
    # The paper's two GPUs: conv2, conv4, conv5 see only half of their input maps (groups=2);
    # the slides' "[55x55x48] x 2". The paper's "60 million parameters":
    a = archdsl.load(SPECS / "alexnet.arch", set={"towers": 2}).analyze()
    convs = [(11 * 11 * 3) * 96 + 96, (5 * 5 * 48) * 256 + 256, (3 * 3 * 256) * 384 + 384,
             (3 * 3 * 192) * 384 + 384, (3 * 3 * 192) * 256 + 256]
    fcs = [6 * 6 * 256 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000]
    assert a.totals["params"] == sum(convs) + sum(fcs) == 60_965_224
    assert a.outputs[0][1] == (1000,)


# ---------------------------------------------------------------------------------------------
# VGG-16, the CS231n memory/params table (ebu7240): specs/vgg16.arch
# ---------------------------------------------------------------------------------------------

# (slide row, [HxWxC], the slide's "memory" product, the slide's "params" (NOT counting biases))
VGG16_TABLE = [
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 3) * 64),        # 3.2M, 1,728
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 64) * 64),       # 3.2M, 36,864
    ("POOL2", (112, 112, 64), 112 * 112 * 64, 0),                          # 800K
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 64) * 128),   # 1.6M, 73,728
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 128) * 128),  # 1.6M, 147,456
    ("POOL2", (56, 56, 128), 56 * 56 * 128, 0),                            # 400K
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 128) * 256),      # 800K, 294,912
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),      # 800K, 589,824
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),      # 800K, 589,824
    ("POOL2", (28, 28, 256), 28 * 28 * 256, 0),                            # 200K
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 256) * 512),      # 400K, 1,179,648
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),      # 400K, 2,359,296
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),      # 400K, 2,359,296
    ("POOL2", (14, 14, 512), 14 * 14 * 512, 0),                            # 100K
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),      # 100K, 2,359,296
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),      # 100K, 2,359,296
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),      # 100K, 2,359,296
    ("POOL2", (7, 7, 512), 7 * 7 * 512, 0),                                # 25K
    ("FC", (4096,), 4096, 7 * 7 * 512 * 4096),                             # 102,760,448
    ("FC", (4096,), 4096, 4096 * 4096),                                    # 16,777,216
    ("FC", (1000,), 1000, 4096 * 1000),                                    # 4,096,000
]
VGG16_INPUT_MEMORY = 224 * 224 * 3  # "INPUT: [224x224x3] memory: 224*224*3=150K params: 0"


def _slide_rows(analysis):
    """The rows the slide lists: every conv, max pool and fc, in order (ReLUs run in place,
    dropout and flatten create nothing; torchvision's extra 7x7 adaptive pool is not on the slide)."""
    return [r for r in analysis.layers if r.op in ("conv", "maxpool", "fc")]


def _bias(row):
    return row.output_shape[0] if row.op in ("conv", "fc") else 0


@pytest.fixture(scope="module")
def vgg16():
    return archdsl.load(SPECS / "vgg16.arch").analyze()


def test_vgg16_slide_rows(vgg16):
    rows = _slide_rows(vgg16)
    assert len(rows) == len(VGG16_TABLE)
    assert vgg16.rows[0].activations == VGG16_INPUT_MEMORY
    for row, (label, shape, memory, params) in zip(rows, VGG16_TABLE):
        assert row.output_shape == chw(shape), (row.name, label)
        assert row.activations == memory, (row.name, label)
        # the slide does "not count biases": archdsl's params are the slide's plus one bias per filter
        assert row.params == params + _bias(row), (row.name, label)


def test_vgg16_totals(vgg16):
    # "TOTAL params: 138M parameters": the slide's rows (no biases) sum to 138,344,128; the
    # 13,416 biases (2*64 + 2*128 + 3*256 + 6*512 + 4096 + 4096 + 1000) make 138,357,544.
    slide_params = sum(p for *_, p in VGG16_TABLE)  # 138,344,128
    biases = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 4096 + 4096 + 1000  # 13,416
    assert vgg16.totals["params"] == slide_params + biases == 138_357_544
    # "TOTAL memory: 15.2M * 4 bytes ~= 61MB / image (for a forward pass)". The rows sum to
    # 15,237,608 values. (The original CS231n slide printed "TOTAL memory: 24M * 4 bytes", a figure
    # its own rows do not add up to; the seeds' version of the slide says 15.2M, which they do.)
    slide_memory = VGG16_INPUT_MEMORY + sum(m for _, _, m, _ in VGG16_TABLE)
    rows = _slide_rows(vgg16)
    archdsl_memory = VGG16_INPUT_MEMORY + sum(r.activations for r in rows)
    assert archdsl_memory == slide_memory == 15_237_608
    assert round(archdsl_memory / 1e6, 1) == 15.2 and round(archdsl_memory * 4 / 1e6) == 61
    # torchvision's vgg16 adds AdaptiveAvgPool2d(7x7), one more 7x7x512 tensor than the slide
    extra = [r for r in vgg16.layers if r not in rows and r.activations]
    assert [r.op for r in extra] == ["adaptiveavgpool"]
    assert vgg16.totals["activations"] == slide_memory + 7 * 7 * 512


def test_vgg16_as_on_the_slide_inline():
    # The slide's network exactly (no adaptive pool), written inline: the totals are the slide's.
    spec = "input 224x224x3\nset conv pad=1 act=relu\n"
    for c, n in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        spec += f"conv {c} 3x3 x{n}\nmaxpool 2x2\n"
    spec += "fc 4096 act=relu\nfc 4096 act=relu\nfc 1000\n"
    a = analyse(spec)
    assert a.totals["activations"] == VGG16_INPUT_MEMORY + sum(m for _, _, m, _ in VGG16_TABLE) == 15_237_608
    assert a.totals["params"] == 138_357_544
    assert a.warnings == ()


# ---------------------------------------------------------------------------------------------
# GoogLeNet inception module (ebu7240): 28x28x256 input
# ---------------------------------------------------------------------------------------------

NAIVE_INCEPTION = """
input 28x28x256
concat {
  conv 128 1x1
  conv 192 3x3 pad=1
  conv 96 5x5 pad=2
  maxpool 3x3 /1 pad=1
}
"""

BOTTLENECK_INCEPTION = """
input 28x28x256
concat {
  conv 128 1x1
  conv 64 1x1 -> conv 192 3x3 pad=1
  conv 64 1x1 -> conv 96 5x5 pad=2
  maxpool 3x3 /1 pad=1 -> conv 64 1x1
}
"""


def test_naive_inception():
    # "28 x 28 x (128 + 192 + 96 + 256) = 28 x 28 x 672"; conv ops
    # "[1x1 conv, 128] 28x28x128x1x1x256, [3x3 conv, 192] 28x28x192x3x3x256,
    #  [5x5 conv, 96] 28x28x96x5x5x256. Total: 854M ops" (ops = multiply-adds)
    a = analyse(NAIVE_INCEPTION)
    assert a.layers[-1].output_shape == chw((28, 28, 128 + 192 + 96 + 256)) == (672, 28, 28)
    ops = 28 * 28 * 128 * 1 * 1 * 256 + 28 * 28 * 192 * 3 * 3 * 256 + 28 * 28 * 96 * 5 * 5 * 256
    assert a.totals["macs"] == ops == 854_196_224 and round(a.totals["macs"] / 1e6) == 854


def test_bottleneck_inception():
    # Slide terms: "[1x1 conv, 64] 28x28x64x1x1x256 (twice), [1x1 conv, 128] 28x28x128x1x1x256,
    # [3x3 conv, 192] 28x28x192x3x3x64, [5x5 conv, 96] 28x28x96x5x5x64, [1x1 conv, 64]
    # 28x28x64x1x1x256. Total: 358M ops". SLIDE ERROR: those six terms add up to 271M, not 358M
    # (the same figure is in CS231n's lecture 9). archdsl gives the sum of the terms.
    a = analyse(BOTTLENECK_INCEPTION)
    assert a.layers[-1].output_shape == chw((28, 28, 128 + 192 + 96 + 64)) == (480, 28, 28)
    terms = [28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 128 * 1 * 1 * 256,
             28 * 28 * 192 * 3 * 3 * 64, 28 * 28 * 96 * 5 * 5 * 64, 28 * 28 * 64 * 1 * 1 * 256]
    assert a.totals["macs"] == sum(terms) == 271_351_808
    assert round(a.totals["macs"] / 1e6) == 271 != 358


# ---------------------------------------------------------------------------------------------
# LeNet-5 (dl-crash-course-cnn.txt): specs/lenet5.arch
# ---------------------------------------------------------------------------------------------

def test_lenet5_slide_shapes_and_parameters():
    # "Input: Bx1x28x28; CONV1 5x5, padding 2, K=6: Bx6x28x28; Ave pool 2x2: Bx6x14x14;
    #  CONV2 5x5, padding 0, K=16: Bx16x10x10; Ave pool 2x2: Bx16x5x5; FC1 D=120: Bx120;
    #  FC2 D=84: Bx84; FC3 D=10: Bx10. ~60K parameters". The slide writes PyTorch's (C, H, W).
    a = archdsl.load(SPECS / "lenet5.arch").analyze(depth=1)
    rows = by_name(a)
    assert a.input_shape == (1, 28, 28)
    assert rows["conv1"].output_shape == (6, (28 + 2 * 2 - 5) + 1, 28)
    assert rows["pool1"].output_shape == (6, 14, 14)
    assert rows["conv2"].output_shape == (16, 14 - 5 + 1, 10)
    assert rows["pool2"].output_shape == (16, 5, 5)
    assert [rows[f].output_shape for f in ("fc1", "fc2", "fc3")] == [(120,), (84,), (10,)]
    params = {
        "conv1": 5 * 5 * 1 * 6 + 6,          # 156
        "conv2": 5 * 5 * 6 * 16 + 16,        # 2,416
        "fc1": (16 * 5 * 5) * 120 + 120,     # 48,120
        "fc2": 120 * 84 + 84,                # 10,164
        "fc3": 84 * 10 + 10,                 # 850
    }
    for name, p in params.items():
        assert rows[name].params == p, name
    assert a.totals["params"] == sum(params.values()) == 61_706
    assert round(a.totals["params"], -4) == 60_000  # "~60K parameters"
    # "Use tanh": after both convs and the two hidden fc layers, not on the class scores
    assert sum(r.op == "tanh" for r in archdsl.load(SPECS / "lenet5.arch").analyze().layers) == 4
    # the last fc sees the paper's whole 32x32 field: 16 + (5 - 1)*4 = 32
    assert rows["fc3"].receptive_field == ((32, 32), (20, 20))


# ---------------------------------------------------------------------------------------------
# U-Net, M5 (1D) and C3D (3D): shapes from the papers, parameters by hand
# ---------------------------------------------------------------------------------------------

def _double(cin, c):
    return (3 * 3 * cin * c + c) + (3 * 3 * c * c + c)


def test_unet_shapes_and_parameters():
    # Ronneberger et al. 2015, Fig. 1: unpadded 3x3 convs take 2 off each side, 2x2 pools halve,
    # 2x2 up-convs double; the skips are centre-cropped to the up-conv's size ("copy and crop")
    a = archdsl.load(SPECS / "unet.arch").analyze(depth=1)
    rows = by_name(a)
    assert a.input_shape == (1, 572, 572)
    assert rows["enc1"].output_shape == (64, 572 - 4, 572 - 4)  # 568x568x64
    assert rows["enc2"].output_shape == (128, 568 // 2 - 4, 568 // 2 - 4)  # 280
    assert rows["enc3"].output_shape == (256, 280 // 2 - 4, 280 // 2 - 4)  # 136
    assert rows["enc4"].output_shape == (512, 136 // 2 - 4, 136 // 2 - 4)  # 64
    assert rows["bottom"].output_shape == (1024, 64 // 2 - 4, 64 // 2 - 4)  # 28x28x1024
    assert rows["dec4"].output_shape == (512, 28 * 2 - 4, 28 * 2 - 4)  # up to 56, crop 64 -> 56, 52
    assert rows["dec3"].output_shape == (256, 52 * 2 - 4, 52 * 2 - 4)  # 100
    assert rows["dec2"].output_shape == (128, 100 * 2 - 4, 100 * 2 - 4)  # 196
    assert rows["dec1"].output_shape == (64, 196 * 2 - 4, 196 * 2 - 4)  # 388
    assert a.outputs[0][1] == (2, 388, 388)  # the figure's 388x388 output segmentation map
    full = by_name(archdsl.load(SPECS / "unet.arch").analyze())
    assert full["dec4.concat"].output_shape == (512 + 512, 56, 56)  # crop of enc4 + up-conv
    encoder = _double(1, 64) + _double(64, 128) + _double(128, 256) + _double(256, 512) + _double(512, 1024)
    ups = sum(cin * (cin // 2) * 2 * 2 + cin // 2 for cin in (1024, 512, 256, 128))
    decoder = _double(1024, 512) + _double(512, 256) + _double(256, 128) + _double(128, 64)
    head = 64 * 2 + 2
    assert a.totals["params"] == encoder + ups + decoder + head == 31_030_658
    assert a.warnings == ()


def test_m5_paper_shapes():
    # Dai et al. 2017, Table 1, M5 (LxC): 32000x1 -> [80/4,128] 8000x128 -> pool 2000x128 ->
    # 500x128 -> [3,256] 500x256 -> 125x256 -> [3,512] 125x512 -> pool 31x512 -> 1x512; "0.5M" params.
    a = archdsl.load(SPECS / "m5.arch").analyze(depth=1)
    rows = by_name(a)
    assert a.input_shape == chw((32000, 1))
    assert rows["conv1"].output_shape == chw(((32000 + 2 * 38 - 80) // 4 + 1, 128)) == chw((8000, 128))
    assert rows["pool1"].output_shape == chw((2000, 128))
    assert rows["conv3"].output_shape == chw((500, 256))
    assert rows["conv4"].output_shape == chw((125, 512))
    assert rows["pool4"].output_shape == chw(((125 - 4) // 4 + 1, 512)) == chw((31, 512))
    conv_bn = [(80 * 1 * 128 + 128) + 2 * 128, (3 * 128 * 128 + 128) + 2 * 128,
               (3 * 128 * 256 + 256) + 2 * 256, (3 * 256 * 512 + 512) + 2 * 512]
    assert a.totals["params"] == sum(conv_bn) + (512 * 10 + 10) == 559_114
    assert 0.5e6 <= a.totals["params"] < 0.6e6  # the paper's "0.5M" (truncated)
    # 125 = 4*31 + 1: PyTorch (and the paper's 31) drop the last sample; archdsl warns
    (text,) = warning_texts(a)
    assert "pool4" in text and "31.25" in text


def test_c3d_paper_shapes_and_parameters():
    # Tran et al. 2015: 16x112x112x3 clips, pool1 1x2x2, pools 2..5 2x2x2; fc6 reads 8192 values.
    a = archdsl.load(SPECS / "c3d.arch").analyze(depth=1)
    rows = by_name(a)
    assert a.input_shape == chw((16, 112, 112, 3))
    assert rows["pool1"].output_shape == chw((16, 56, 56, 64))
    assert rows["pool2"].output_shape == chw((8, 28, 28, 128))
    assert rows["pool4"].output_shape == chw((2, 7, 7, 512))
    # Caffe's ceil: ceil((7 - 2)/2) + 1 = 4 (PyTorch's default floor would give 3)
    assert rows["pool5"].output_shape == chw((1, -(-(7 - 2) // 2) + 1, 4, 512)) == (512, 1, 4, 4)
    k = 3 * 3 * 3
    convs = [k * 3 * 64 + 64, k * 64 * 128 + 128, k * 128 * 256 + 256, k * 256 * 256 + 256,
             k * 256 * 512 + 512, k * 512 * 512 + 512, k * 512 * 512 + 512, k * 512 * 512 + 512]
    fcs = [512 * 1 * 4 * 4 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 487 + 487]
    assert rows["fc6"].params == fcs[0]
    assert a.totals["params"] == sum(convs) + sum(fcs)
    assert rows["conv1a"].macs == 16 * 112 * 112 * 64 * (k * 3)


def test_c3d_floor_pool5_would_not_load_the_weights():
    # Without ceil mode (PyTorch's default) pool5 gives 1x3x3 and fc6 would read 4608 values.
    a = analyse("input 2x7x7x512\nmaxpool 2x2x2 /2x2x2\nfc 4096\n")
    assert a.layers[0].output_shape == (512, 1, (7 - 2) // 2 + 1, 3)
    assert a.layers[1].params == 512 * 1 * 3 * 3 * 4096 + 4096
