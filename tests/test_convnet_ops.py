"""The layers modern ConvNets need (issue 8), against PyTorch written by hand: broadcast multiply,
channel split and shuffle, channels-last layers, a block's own parameter, stochastic depth; and
the language around them (labels with '-', merge keywords as whole words, clear errors)."""
import pytest

import archdsl
from archdsl.errors import ArchError

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


def test_labels_may_hold_a_dash_and_names_may_start_with_a_merge_keyword():
    net = archdsl.load("input 8x8x4\naddress: conv 4 1\nadd_norm: bn\nfor i in 0..1 { block1-{i}: conv 4 1 }\n"
                       "concat_x: relu\nmulti: relu\n")
    assert [n.name for n in net.analysed().nodes[1:]] == ["address", "add_norm", "block1-0", "block1-1", "concat_x", "multi"]


def test_mul_broadcasts_and_says_when_it_cannot():
    a = archdsl.load("input 8x8x16\ndef se() { mul { { gap ; conv 16 1 ; sigmoid } ; @input } }\nse\n").analyze()
    assert a.rows[-1].output_shape == (16, 8, 8)
    with pytest.raises(ArchError) as info:
        archdsl.load("input 8x8x16\nmul { conv 8 1 ; identity }\n").analyze()
    assert "do not broadcast" in info.value.message and "[1x1xC]" in info.value.hint
    with pytest.raises(ArchError) as info:  # the gate written as an add: the hint points to mul
        archdsl.load("input 8x8x16\ndef se() { add { { gap ; conv 16 1 ; sigmoid } ; @input } }\nse\n").analyze()
    assert "mul {" in info.value.hint


def test_squeeze_excitation_equals_torch():
    text = "input 8x8x16\ndef se() { mul { { gap ; fc1: conv 4 1 ; relu ; fc2: conv 16 1 ; hardsigmoid } ; @input } }\ns: se\nhardswish\n"
    module = archdsl.build(text).eval()
    fc1, fc2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)
    fc1.load_state_dict({k[6:]: v for k, v in module.state_dict().items() if k.startswith("s.fc1.")})
    fc2.load_state_dict({k[6:]: v for k, v in module.state_dict().items() if k.startswith("s.fc2.")})
    x = torch.randn(2, 16, 8, 8)
    gate = nn.functional.hardsigmoid(fc2(torch.relu(fc1(x.mean((2, 3), keepdim=True)))))
    assert torch.allclose(module(x), nn.functional.hardswish(gate * x), atol=1e-6)


def test_channel_split_and_shuffle_equal_torchvision_shufflenet():
    module = archdsl.build("input 4x4x8\nconcat { chunk 2 0 ; { chunk 2 1 ; relu } }\nchannel_shuffle 2\n").eval()
    x = torch.randn(2, 8, 4, 4)
    x1, x2 = x.chunk(2, dim=1)
    out = torch.cat((x1, torch.relu(x2)), 1)
    b, c, h, w = out.shape  # torchvision.models.shufflenetv2.channel_shuffle
    expected = out.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous().view(b, -1, h, w)
    assert torch.equal(module(x), expected)
    with pytest.raises(ArchError, match="no part 2"):
        archdsl.load("input 4x4x4\nchunk 3 2\n").analyze()  # torch.chunk(4 channels, 3) gives 2 parts


def test_convnext_block_equals_torchvision_cnblock():
    """torchvision's CNBlock written out: its state_dict order (layer_scale before block) and output."""
    class CNBlock(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.block = nn.Sequential(nn.Conv2d(dim, dim, 7, padding=3, groups=dim), nn.Identity(),
                                       nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(),
                                       nn.Linear(4 * dim, dim), nn.Identity())
            self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 0.5)

        def forward(self, x):
            y = self.block[0](x).permute(0, 2, 3, 1)
            for layer in list(self.block)[2:6]:
                y = layer(y)
            return self.layer_scale * y.permute(0, 3, 1, 2) + x

    text = """input 8x8x6
def cn(c) { add {
  { block: { conv c 7 pad=3 groups=c ; permute 0 2 3 1 ; layernorm dims=1 eps=1e-6 ; fc 4*c last ; gelu ; fc c last ; permute 0 3 1 2 }
    layer_scale: scale 0.5 ; stochastic_depth: stochastic_depth 0.1 }
  @input
} }
b: cn 6
"""
    module = archdsl.build(text).eval()
    ref = CNBlock(6).eval()
    assert [(k, v.shape) for k, v in module.state_dict().items()] == [("b." + k, v.shape) for k, v in ref.state_dict().items()]
    ref.load_state_dict({k[2:]: v for k, v in module.state_dict().items()})
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        assert torch.allclose(module(x), ref(x), atol=1e-5)
    assert module.b.layer_scale.requires_grad


def test_layernorm2d_is_layernorm_over_channels():
    module = archdsl.build("input 5x5x6\nlayernorm2d eps=1e-6\n").eval()
    x = torch.randn(2, 6, 5, 5)
    expected = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), eps=1e-6).permute(0, 3, 1, 2)
    assert torch.allclose(module(x), expected, atol=1e-6)


def test_permute_keeps_the_batch_first():
    with pytest.raises(ArchError, match="batch"):
        archdsl.load("input 4x4x3\npermute 1 0 2 3\n").analyze()
    with pytest.raises(ArchError, match="each once"):
        archdsl.load("input 4x4x3\npermute 0 2 3\n").analyze()


def test_stochastic_depth_in_training_drops_whole_samples():
    """torchvision.ops.stochastic_depth: mode row drops samples, batch the whole batch, scaled by 1/(1-p)."""
    module = archdsl.build("input 3x3x2\nstochastic_depth 0.5\n").train()
    torch.manual_seed(0)
    y = module(torch.ones(64, 2, 3, 3))
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert all(len(set(row.tolist())) == 1 for row in per_sample)
    batch = archdsl.build("input 3x3x2\nstochastic_depth 0.5 mode=batch\n").train()(torch.ones(64, 2, 3, 3))
    assert len(set(batch.flatten().tolist())) == 1
    assert torch.equal(module.eval()(torch.ones(4, 2, 3, 3)), torch.ones(4, 2, 3, 3))
