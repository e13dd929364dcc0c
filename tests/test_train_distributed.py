"""archdsl train under torchrun: 2 CPU processes (gloo) against one process with the same total
batch.

Why they should agree: the sampler gives step i of the two processes together exactly the 32
samples that step i of the single process with --batch 32 gets (archdsl/train/distributed.py),
each process's loss is the mean over its 16, and DDP averages the two gradients, which is the
mean over the 32. What is left is the order of floating-point sums (the all-reduce adds two
halves; one process adds 32 rows at once): float32 rounding, about 3e-8 on the weights after one
step. The spec is smooth (tanh, average pooling, no batch norm, whose statistics would be per
process): with ReLU and max pooling, the digits' many equal pixel values make pooling ties that a
rounding difference breaks the other way, and the same simulation drifts to 1e-2 in 88 steps.
Measured for this spec, in one process emulating the two halves: 2.4e-7 after 88 steps of SGD
with momentum at lr 0.05. The test allows 1e-5, 40 times that, and far below what one different
sample in a step changes (about 1e-3).
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from .conftest import ROOT
from .test_train import TINY

SMOOTH = TINY.replace("act=relu", "act=tanh").replace("maxpool 2", "avgpool 2")

ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
COMMON = ["--epochs", "2", "--optimizer", "momentum", "--lr", "0.05", "--schedule", "none", "--device", "cpu"]
TOLERANCE = 1e-5


def torchrun(n, *args):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", "-m", "archdsl", "train", *args]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def single(*args):
    p = subprocess.run([sys.executable, "-m", "archdsl", "train", *args], env=ENV, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def model(directory):
    return torch.load(os.path.join(directory, "checkpoint.pt"), weights_only=False)["model"]


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    spec = tmp / "tiny.arch"
    spec.write_text(SMOOTH)
    two = torchrun(2, str(spec), *COMMON, "--batch", "16", "--out", str(tmp / "two"))
    one = single(str(spec), *COMMON, "--batch", "32", "--out", str(tmp / "one"))
    return tmp, spec, two, one


def test_two_processes_split_the_data_and_agree(runs):
    tmp, _, two, _ = runs
    ranks = json.loads((tmp / "two" / "ranks.json").read_text())
    assert [r["rank"] for r in ranks] == [0, 1]
    a, b = (set(r["samples"]) for r in ranks)
    assert len(a) == len(b) == 44 * 16 and not a & b  # 1,438 samples: 44 steps of 2 x 16, disjoint
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]  # identical weights at the end
    assert two.count("epoch 2/2") == 1  # rank 0 alone prints
    assert "x 2 processes (DDP, gloo)" in two


def test_two_processes_match_one_with_the_same_total_batch(runs):
    tmp = runs[0]
    assert max_difference(model(tmp / "two"), model(tmp / "one")) < TOLERANCE
    one = [json.loads(x) for x in (tmp / "one" / "metrics.jsonl").read_text().splitlines()]
    two = [json.loads(x) for x in (tmp / "two" / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(one, two):
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"], abs=1 / 359)  # at most one sample apart
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


@pytest.mark.slow  # another 35 s: two more launches
def test_resume_on_another_number_of_processes(runs):
    """One epoch on two processes, the second on one process with --batch 32: the weights of the
    two-process run of both epochs, within the same tolerance."""
    tmp, spec, _, _ = runs
    torchrun(2, str(spec), *COMMON, "--batch", "16", "--out", str(tmp / "half"), "--epochs", "1")
    single("--resume", str(tmp / "half"), "--batch", "32", "--epochs", "2")
    assert max_difference(model(tmp / "half"), model(tmp / "two")) < TOLERANCE
