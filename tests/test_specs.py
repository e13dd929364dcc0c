"""Every spec in specs/ analyses, in every format, and its graph keeps the IR's invariants."""
import pytest

import archdsl

from .conftest import SPECS, per_spec

ALL = sorted(p.name for p in SPECS.glob("*.arch"))

# Warnings that are true of the published network (the stride leaves input unread there too).
EXPECTED_WARNINGS = {
    "squeezenet1_0.arch": ["features.0"],  # torchvision's unpadded 7x7 /2 on 224
    "squeezenet1_1.arch": ["features.0"],  # torchvision's unpadded 3x3 /2 on 224
    "m5.arch": ["pool4"],  # the paper's 125 -> 31 pooling
}


def test_the_library_is_there():
    assert len(ALL) >= 26
    assert {"vgg16.arch", "alexnet.arch", "lenet5.arch", "unet.arch"} <= set(ALL)


@pytest.mark.parametrize("spec", per_spec(ALL))
def test_spec_analyses(spec):
    net = archdsl.load(SPECS / spec)
    net.graph.lint()
    a = net.analyze()
    assert a.totals["params"] > 0 and a.totals["macs"] > 0
    assert [w.message.split(":")[0] for w in a.warnings] == EXPECTED_WARNINGS.get(spec, [])
    one = net.analyze(depth=1)
    assert one.totals == a.totals
