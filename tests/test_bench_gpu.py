"""bench/gpu.py runs every GPU check; without CUDA it reports each as skipped and exits 0, and
`--device cpu --smoke` runs every check's code at toy sizes, so that the script is known to work
before a session spends its few GPU minutes on it."""
import json
import subprocess
import sys

import pytest

from .conftest import ROOT


def test_gpu_checks_skip_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: bench/gpu.py would run the checks (minutes)")
    out = tmp_path / "gpu.json"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result == json.loads(out.read_text())
    assert result["cuda"] is False and "no CUDA device" in result["skipped"]
    assert result["checks"] == {name: {"skipped": True} for name in ("train_resnet50", "memory_train_peak", "memory_amp", "memory_fit")}


def test_the_training_step_runs_on_the_cpu():
    """The measuring loop itself, on a small spec and the CPU, in both configurations."""
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gpu
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import archdsl

    model = archdsl.build("input 16x16x3\nconv 4 3 act=relu\nglobalavgpool\nfc 1000\n")
    cpu = torch.device("cpu")
    assert gpu._throughput(model, cpu, 4, amp=False, channels_last=False, steps=2, warmup=1, size=16) > 0
    assert gpu._throughput(model, cpu, 4, amp=True, channels_last=True, steps=2, warmup=1, size=16) > 0


def test_every_check_runs_on_the_cpu_at_toy_sizes(tmp_path):
    """Not GPU figures: the checks' own code, end to end. The memory checks compare with the live
    bytes tests/memory_oracle.py measures, so their `ok` is meaningful on the CPU too."""
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--device", "cpu", "--smoke"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    checks = json.loads(p.stdout)["checks"]
    assert set(checks) == {"train_resnet50", "memory_train_peak", "memory_amp", "memory_fit"}
    assert not [name for name, c in checks.items() if "error" in c], checks
    assert checks["train_resnet50"]["archdsl_fp32_eager"] > 0
    for name in ("memory_train_peak", "memory_amp", "memory_fit"):
        assert checks[name]["ok"], checks[name]
