"""One torchinfo run, as its own process: import torch and torchinfo, build ResNet-152, check its
parameter count, and print `torchinfo.summary(model, input_size=(1, 3, 224, 224))` to stdout.
Phase timings go to stderr as one JSON line (prefix BENCH_PHASES). Run by bench/bench_analyze.py."""
import json
import os
import sys
import time

t0 = time.perf_counter()
import torch  # noqa: E402
import torchinfo  # noqa: E402

t1 = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import RESNET152_PARAMS, resnet152  # noqa: E402

model = resnet152()
n = sum(p.numel() for p in model.parameters())
if n != RESNET152_PARAMS:
    sys.exit(f"ResNet-152 has {n} parameters, expected {RESNET152_PARAMS}")
t2 = time.perf_counter()
stats = torchinfo.summary(model, input_size=(1, 3, 224, 224))
t3 = time.perf_counter()
if stats.total_params != RESNET152_PARAMS:
    sys.exit(f"torchinfo counted {stats.total_params} parameters, expected {RESNET152_PARAMS}")
phases = {"import_s": t1 - t0, "build_s": t2 - t1, "summary_s": t3 - t2,
          "total_params": stats.total_params, "mult_adds": stats.total_mult_adds, "torch": torch.__version__}
print("BENCH_PHASES " + json.dumps(phases), file=sys.stderr)
