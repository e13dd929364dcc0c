"""`archdsl fit`: the largest batch that fits, by hand and against PyTorch's own peak."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import archdsl
from archdsl.cli import main
from archdsl.errors import UsageError
from archdsl.fit import fit, parse_bytes

# One fc layer, 1,000 x 1,000 weights (4 MB), no bias. A training step with SGD holds the weights
# and the input (4,000 bytes a sample) throughout; the forward adds the output (4,000 a sample),
# the backward the weights' gradient (4 MB; the input needs none) after the output is gone:
# peak = max(4e6 + 8,000 B, 8e6 + 4,000 B). In 8.4 MB: 8e6 + 4,000 B <= 8.4e6, B = 100.
FC = "input 1000\nfc 1000 bias=no\n"


def test_by_hand():
    graph = archdsl.load(FC).analysed()
    result = fit(graph, 8_400_000)
    assert result.batch == 100
    assert dict(result.table)[100] == 8_400_000 and dict(result.table)[101] == 8_404_000
    assert dict(result.parts)["parameters"] == dict(result.parts)["gradients"] == 4_000_000
    # inference: weights, input and output: 4e6 + 8,000 B
    assert fit(graph, 4_800_000, mode="inference").batch == 100
    # Adam adds 8 MB of state and a float32 step; its update needs two temporaries of the weights
    # (sqrt, then the division): 8e6 + 4,000 B + 8e6 + 4 + 8e6
    assert fit(graph, 24_400_004, optimizer="adam").batch == 100


def test_nothing_fits():
    result = fit(archdsl.load(FC).analysed(), 1_000_000)
    assert result.batch == 0 and result.table[0] == (1, 8_004_000)


@pytest.mark.parametrize("amount,value", [("24GiB", 24 * 2**30), ("16GB", 16 * 10**9), ("800MB", 8 * 10**8),
                                          ("1.5KiB", 1536), ("4096", 4096)])
def test_amounts(amount, value):
    assert parse_bytes(amount) == value


@pytest.mark.parametrize("amount", ["24G", "lots", "-3GB", "12 parsecs"])
def test_bad_amounts(amount):
    with pytest.raises(UsageError):
        parse_bytes(amount)


def test_cli(tmp_path):
    spec = tmp_path / "fc.arch"
    spec.write_text(FC)
    path = str(spec)  # SPEC is a path (or a library spec's name), never spec text
    result = CliRunner().invoke(main, ["fit", path, "--memory", "8.4MB"])
    assert result.exit_code == 0, result.output
    assert "batch 100 fits in 8.4 MB" in result.output
    doc = json.loads(CliRunner().invoke(main, ["fit", path, "--memory", "8.4MB", "--format", "json"]).output)
    assert doc["batch"] == 100 and doc["peak"] == 8_400_000 and doc["table"][-1] == {"batch": 101, "peak": 8_404_000, "fits": False}
    bad = CliRunner().invoke(main, ["fit", path, "--memory", "24G"])
    assert bad.exit_code == 2 and "GiB" in bad.output


@pytest.mark.parametrize("name,budget,optimizer", [("lenet5", "3MB", "adam"), ("squeezenet1_0", "400MB", "sgd"),
                                                   ("resnet18", "1GB", "momentum")])
def test_the_answer_fits_and_one_more_does_not(name, budget, optimizer):
    """PyTorch's own peak (tests/memory_oracle.py, on the meta device) at the answer and one above."""
    torch = pytest.importorskip("torch")
    from .memory_oracle import train_peak

    net = archdsl.load(name)
    amount = parse_bytes(budget)
    batch = fit(net.analysed(), amount, optimizer=optimizer).batch
    assert batch > 1
    module = net.build(device="meta")
    shape = net.analyze().input_shape
    measured = [train_peak(module, torch.empty((b, *shape), device="meta"), optimizer) for b in (batch, batch + 1)]
    # within the estimate's accuracy (tests/test_memory.py: 5%) of the budget on either side
    assert measured[0] <= amount * 1.05 and measured[1] > amount * 0.95, (batch, measured, amount)


def test_fit_under_autocast():
    """--amp bf16 fits a larger batch (bf16 activations, weight casts counted); PyTorch's peak
    (the CPU, under autocast) at the answer fits and one above does not."""
    torch = pytest.importorskip("torch")
    from .memory_oracle import train_peak

    net = archdsl.load("lenet5")
    amount = parse_bytes("3MB")
    plain, amp = fit(net.analysed(), amount, optimizer="adam").batch, fit(net.analysed(), amount, optimizer="adam", amp="bf16").batch
    assert amp > plain > 1
    module = net.build()
    shape = net.analyze().input_shape
    measured = [train_peak(module, torch.randn((b, *shape)), "adam", "bf16") for b in (amp, amp + 1)]
    assert measured[0] <= amount * 1.05 and measured[1] > amount * 0.95, (amp, measured, amount)
    doc = json.loads(CliRunner().invoke(main, ["fit", "lenet5", "--memory", "3MB", "--amp", "bf16", "--format", "json"]).output)
    assert doc["batch"] == amp and doc["amp"] == "bf16"
