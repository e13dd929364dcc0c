"""Every torchvision mirror in specs/ against torchvision's own figures (tests/data)."""
import pytest

import archdsl

from .conftest import SPECS
from .torchvision_layout import expected_state_dict

MODELS = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "googlenet",
          "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
          "densenet121", "mobilenet_v2", "squeezenet1_0", "inception_v3",
          "resnext101_32x8d", "resnext101_64x4d", "wide_resnet101_2", "densenet161", "densenet169", "densenet201",
          "squeezenet1_1", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3",
          "mobilenet_v3_small", "mobilenet_v3_large",
          *[f"efficientnet_b{i}" for i in range(8)], "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
          *[f"regnet_{xy}_{size}" for xy in "xy" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")],
          "regnet_y_128gf", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
          "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
          "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
          "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"]


def spec_path(model: str):
    # torchvision's alexnet is the "one weird trick" variant; specs/alexnet.arch is the 2012 slide network
    return SPECS / f"{'alexnet_owt' if model == 'alexnet' else model}.arch"


@pytest.fixture(scope="module")
def analysed():
    cache = {}

    def get(model):
        if model not in cache:
            net = archdsl.load(spec_path(model))
            cache[model] = (net, net.analyze())
        return cache[model]

    return get


@pytest.mark.parametrize("model", MODELS)
def test_params_equal_torchvision(model, reference, analysed):
    _, a = analysed(model)
    assert a.totals["params"] == reference[model]["params"]
    assert a.totals["trainable_params"] == reference[model]["params"]


@pytest.mark.parametrize("model", MODELS)
def test_flops_equal_flop_counter(model, reference, analysed):
    _, a = analysed(model)
    assert a.totals["flops"] == reference[model]["flop_counter_flops"]
    assert 2 * a.totals["macs"] == reference[model]["flop_counter_flops"]


@pytest.mark.parametrize("model", MODELS)
def test_input_and_output_shapes(model, reference, analysed):
    _, a = analysed(model)
    assert list(a.input_shape) == reference[model]["input_shape"][1:]
    assert [list(shape) for _, shape in a.outputs] == [[len(reference[model]["output"][0])]]


@pytest.mark.parametrize("model", MODELS)
def test_state_dict_keys_and_shapes_in_order(model, reference, analysed):
    net, _ = analysed(model)
    expected = [(k, tuple(shape)) for k, shape in reference[model]["state_dict"]]
    assert expected_state_dict(net) == expected
