"""The issue's promise, measured (-m slow): `archdsl train specs/lenet5.arch` with the default
options reaches >= 97% held-out accuracy on the embedded digits in about a minute on 2 CPU cores;
and --compile trains (torch.compile needs a C compiler on the CPU)."""
import json
import os
import resource
import subprocess
import sys
import time

import pytest

from .conftest import ROOT
from .test_train import TINY

ENV = dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.mark.slow
def test_lenet5_reaches_97_percent_in_about_a_minute(tmp_path):
    """Timed by the command's CPU time (user + system, all its threads): under 120 CPU seconds is
    under a minute of two cores. Other jobs on a shared machine inflate it less than its wall time,
    but they do (threads that spin and wait): measured 114 CPU s and 223 s wall with a load average
    of 7.8 on the 2 cores; alone the command took 10.5 to 12.1 s wall."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "archdsl", "train", str(ROOT / "specs" / "lenet5.arch"), "--out", str(tmp_path)],
                       env=ENV, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert p.returncode == 0, p.stderr
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == 20 and last["val_accuracy"] >= 0.97, last
    assert cpu < 120, f"{cpu:.0f} CPU s, {seconds:.0f} s wall"
    print(f"lenet5: {last['val_accuracy']:.2%} held out, {cpu:.1f} CPU s, {seconds:.1f} s wall")


@pytest.mark.slow
def test_compile(tmp_path):
    spec = tmp_path / "tiny.arch"
    spec.write_text(TINY)
    p = subprocess.run([sys.executable, "-m", "archdsl", "train", str(spec), "--epochs", "1", "--compile"],
                       env=ENV, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "torch.compile" in p.stdout and "epoch 1/1" in p.stdout
