"""archdsl train: data, options, checkpoints, resume, Ctrl-C, frozen parts, transfer, errors.

Small specs and few epochs on the embedded digits (8x8): each run takes well under a second.
The 97%-in-a-minute claim for specs/lenet5.arch is under -m slow (test_train_slow.py)."""
import importlib.util
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import archdsl
from archdsl.cli import main
from archdsl.train import Config, run
from archdsl.train import data as datasets
from archdsl.train.loop import lr_factor

from .conftest import ROOT

TINY = """network tiny
let classes = 10
input 8x8x1
conv1: conv 8 3 pad=1 act=relu
pool: maxpool 2
fc: fc classes
"""
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.arch"
    path.write_text(TINY)
    return str(path)


def train(*args):
    result = CliRunner().invoke(main, ["train", *args])
    return result.exit_code, result.output


def weights(directory):
    return torch.load(os.path.join(directory, "checkpoint.pt"), weights_only=False)["model"]


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_digits_are_the_shipped_scans():
    """1,797 digits of 8x8, values 0..16, about 180 of each class (scikit-learn's load_digits)."""
    with np.load(datasets.DIGITS) as f:
        x, y = f["x"], f["y"]
    assert x.shape == (1797, 8, 8) and x.max() == 16 and x.min() == 0
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    d = datasets.load(None, (1, 28, 28))
    assert (len(d.train), len(d.val), d.classes, d.source_size) == (1438, 359, 10, "8x8x1")
    assert d.train.x.shape[1:] == (1, 28, 28) and d.train.x.min() >= 0 and d.train.x.max() <= 1
    again = datasets.load(None, (1, 8, 8))
    assert torch.equal(again.val.y, d.val.y)  # the held-out split is fixed


def test_a_run_writes_metrics_checkpoint_curves(tiny, tmp_path):
    out = tmp_path / "run"
    code, text = train(tiny, "--epochs", "2", "--batch", "32", "--out", str(out))
    assert code == 0, text
    net = archdsl.load(tiny)
    t = net.analyze(batch=32).totals
    assert f"{t['params']:,} parameters" in text and f"{t['macs']:,} MACs per step" in text  # the analysis' own
    assert "epoch 2/2" in text and "val loss" in text
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    for m in lines:
        assert {"epoch", "train_loss", "val_loss", "val_accuracy", "images_per_s", "lr"} <= m.keys()
        assert 0 <= m["val_accuracy"] <= 1 and m["images_per_s"] > 0
    assert lines[1]["lr"] == 0  # cosine to zero at the end
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 2 and state["spec"] == TINY and state["set"] == {}
    assert {"model", "optimizer", "scheduler", "rng", "config"} <= state.keys()


def test_checkpoint_loads_into_build_and_the_emitted_module(tiny, tmp_path):
    out = tmp_path / "run"
    assert train(tiny, "--epochs", "1", "--out", str(out), "--set", "classes=10")[0] == 0
    model = weights(out)
    built = archdsl.build(tiny)
    built.load_state_dict(model, strict=True)
    path = tmp_path / "model.py"
    assert CliRunner().invoke(main, ["build", tiny, "-o", str(path)]).exit_code == 0
    spec = importlib.util.spec_from_file_location("emitted_tiny", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    emitted = module.Tiny()
    emitted.load_state_dict(model, strict=True)
    x = torch.randn(4, 1, 8, 8)
    built.eval(), emitted.eval()
    assert torch.allclose(built(x), emitted(x))


def test_same_seed_same_result(tiny, tmp_path):
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert train(tiny, "--epochs", "2", "--seed", seed, "--out", str(tmp_path / name))[0] == 0
    assert same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert (tmp_path / "a" / "metrics.jsonl").read_text().count("val_loss") == 2
    a = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [(m["train_loss"], m["val_loss"]) for m in a] == [(m["train_loss"], m["val_loss"]) for m in b]
    assert not same(weights(tmp_path / "a"), weights(tmp_path / "c"))


def test_resume_goes_on_as_if_never_stopped(tiny, tmp_path):
    """Two epochs, then --resume with --epochs 3: the three-epoch run's weights (a constant
    learning rate: a cosine schedule would know the run's length)."""
    assert train(tiny, "--epochs", "3", "--schedule", "none", "--out", str(tmp_path / "full"))[0] == 0
    assert train(tiny, "--epochs", "2", "--schedule", "none", "--out", str(tmp_path / "part"))[0] == 0
    code, text = train("--resume", str(tmp_path / "part"), "--epochs", "3")
    assert code == 0, text
    assert "epoch 3/3" in text and "epoch 1/3" not in text
    assert same(weights(tmp_path / "full"), weights(tmp_path / "part"))
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 3


def test_ctrl_c_leaves_a_checkpoint_that_resumes(tiny, tmp_path):
    """SIGINT mid-run: the step in progress ends, the checkpoint records how far into the epoch
    the run got, status 130; resuming gives the weights of a run never interrupted."""
    out = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "archdsl", "train", tiny, "--epochs", "2", "--batch", "16", "--out", str(out)]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if line.startswith("training:"):  # the line before the first step
            break
    p.send_signal(signal.SIGINT)
    rest = p.stdout.read()
    assert p.wait(timeout=120) == 130, rest
    assert "interrupted; checkpoint in" in rest and "Traceback" not in rest
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert (state["epoch"], state["samples_done"] % 16) == (0, 0) and 16 <= state["samples_done"] < 1438  # mid-epoch
    archdsl.build(tiny).load_state_dict(state["model"])  # usable as it is
    code, text = train("--resume", str(out))
    assert code == 0, text
    assert train(tiny, "--epochs", "2", "--batch", "16", "--out", str(tmp_path / "whole"))[0] == 0
    assert same(weights(out), weights(tmp_path / "whole"))


def test_frozen_layers_stay_as_they_were(tmp_path):
    spec = tmp_path / "frozen.arch"
    spec.write_text(TINY.replace("network tiny", "network frozen") + "freeze conv1\n")
    assert train(str(spec), "--epochs", "1", "--out", str(tmp_path / "run"))[0] == 0
    torch.manual_seed(0)  # the run's seed: the same initial weights
    start = archdsl.build(str(spec)).state_dict()
    end = weights(tmp_path / "run")
    conv = [k for k in start if k.startswith("conv1.")]
    assert len(conv) == 2 and all(torch.equal(start[k], end[k]) for k in conv)
    assert not torch.equal(start["fc.weight"], end["fc.weight"])


def test_weights_for_transfer_learning(tiny, tmp_path):
    """A base trained on 10 classes starts a 5-class spec: the conv loads, the fc (10x128, the
    spec's 5x128) stays initialised and is said so."""
    assert train(tiny, "--epochs", "1", "--out", str(tmp_path / "base"))[0] == 0
    x, y = _digits_subset(5)
    np.savez(tmp_path / "five.npz", x=x, y=y)
    code, text = train(tiny, "--set", "classes=5", "--data", str(tmp_path / "five.npz"), "--epochs", "1",
                       "--weights", str(tmp_path / "base" / "checkpoint.pt"), "--out", str(tmp_path / "five"))
    assert code == 0, text
    assert "weights: 2 tensors from" in text and "fc.weight 10x128 (the spec's is 5x128)" in text


def _digits_subset(classes):
    with np.load(datasets.DIGITS) as f:
        keep = f["y"] < classes
        return f["x"][keep] * 15, f["y"][keep]  # 0..240, uint8 like a real image file


def test_npz_images_and_vectors(tmp_path):
    x, y = _digits_subset(10)
    np.savez(tmp_path / "img.npz", x=x.astype(np.uint8), y=y)
    d = datasets.load(str(tmp_path / "img.npz"), (1, 16, 16))
    assert d.train.x.shape[1:] == (1, 16, 16) and d.classes == 10 and d.train.x.max() <= 1
    np.savez(tmp_path / "vec.npz", x=x.reshape(len(x), 64).astype(np.float32), y=y)
    spec = tmp_path / "mlp.arch"
    spec.write_text("input 64\nfc 32 act=relu\nfc 10\n")
    code, text = train(str(spec), "--data", str(tmp_path / "vec.npz"), "--epochs", "1")
    assert code == 0, text


def test_image_folder(tmp_path):
    from PIL import Image

    x, y = _digits_subset(3)
    for i in range(60):
        (tmp_path / "imgs" / f"c{y[i]}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i].astype(np.uint8)).convert("RGB").save(tmp_path / "imgs" / f"c{y[i]}" / f"{i}.png")
    spec = tmp_path / "rgb.arch"
    spec.write_text("input 12x12x3\nconv 4 3 act=relu\nfc 3\n")
    code, text = train(str(spec), "--data", str(tmp_path / "imgs"), "--epochs", "1", "--batch", "8", "--workers", "0")
    assert code == 0, text
    assert "imgs (3 class folders): 48 training and 12 held-out samples" in text


def test_torchvision_missing_is_one_sentence(tiny):
    pytest.importorskip("torch")
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed")
    code, text = train(tiny, "--data", "torchvision:MNIST")
    assert code == 2 and "torchvision is not installed" in text and "Traceback" not in text


@pytest.mark.parametrize("spec, data, sentence, hint", [
    ("input 28x28x3\nconv 4 3\nfc 10\n", None,
     "the spec expects 28x28x3 but the data (embedded digits, scikit-learn's 1,797 scans) is 8x8x1", "--input 28x28x1"),
    ("let classes = 1000\ninput 8x8x1\nfc classes\n", None,
     "ends in 0 [1000], not a vector of scores for the data's 10 classes", "--set classes=10"),
    ("input 8x8x1\nconv 4 3\n", None, "[6x6x4], not a vector of scores", "--set classes=10"),
    ("input 100\nfc 10\n", None, "the spec expects 100 but the data", "--input 8x8x1"),
])
def test_data_that_does_not_fit(tmp_path, spec, data, sentence, hint):
    path = tmp_path / "bad.arch"
    path.write_text(spec)
    code, text = train(str(path))
    assert code == 2 and sentence in text and hint in text and "Traceback" not in text, text
    assert len([line for line in text.splitlines() if line.strip()]) <= 2


def test_option_errors(tiny, tmp_path):
    code, text = train(tiny, "--amp", "fp16", "--device", "cpu")
    assert code == 2 and "--amp fp16 needs a CUDA device" in text
    code, text = train()
    assert code == 2 and "give a SPEC, or --resume DIR" in text
    code, text = train("--resume", str(tmp_path))
    assert code == 2 and "no checkpoint there" in text
    code, text = train(tiny, "--data", str(tmp_path / "none.npz"))
    assert code == 2 and "no such file or folder" in text
    code, text = train(tiny, "--batch", "5000")
    assert code == 2 and "fewer than one step's 5,000" in text


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adamw"])
def test_optimizers_and_bf16_channels_last(tiny, optimizer):
    code, text = train(tiny, "--epochs", "1", "--optimizer", optimizer, "--lr", "0.05", "--weight-decay", "1e-4",
                       "--amp", "bf16", "--channels-last", "--schedule", "step", "--warmup", "0.5")
    assert code == 0, text
    assert "amp bf16, channels_last" in text


def test_schedules_match_torchs_own():
    """Cosine is CosineAnnealingLR over the whole run; step is MultiStepLR at 1/2 and 3/4;
    warm-up is LinearLR's ramp."""
    steps, epochs = 7, 8
    total = steps * epochs

    def lrs(make, n=total):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched = make(opt)
        out = []
        for _ in range(n):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    cos = Config(spec="", epochs=epochs, schedule="cosine")
    assert lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, total)) == pytest.approx(
        [lr_factor(cos, s, steps) for s in range(total)])
    step = Config(spec="", epochs=epochs, schedule="step")
    assert lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [total // 2, 3 * total // 4])) == pytest.approx(
        [lr_factor(step, s, steps) for s in range(total)])
    warm = Config(spec="", epochs=epochs, schedule="none", warmup=2)
    ramp = lrs(lambda o: torch.optim.lr_scheduler.LinearLR(o, 1 / 14, 1.0, 13), 14)
    assert ramp == pytest.approx([lr_factor(warm, s, steps) for s in range(14)])
