"""Memory estimates side by side: archdsl's, torchinfo's, and what PyTorch really holds.

    .venv/bin/python bench/bench_memory.py [--batch 8] [--json]

For five networks of specs/: what autograd keeps for backward (archdsl's `saved_bytes` against
torchinfo's "Forward/backward pass size", measured with saved_tensors_hooks) and the peak of one
training step with SGD (archdsl's `train_peak_bytes` against torchinfo's "Estimated Total Size",
measured by following every storage aten returns until it is freed: tests/memory_oracle.py). The
measurements run the built module on the meta device (the same tensors as the CPU, which the
tests check, without the arithmetic); torchinfo runs its forward on the CPU. Ratios are
estimate / measured.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torchinfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archdsl  # noqa: E402
from tests.memory_oracle import saved_bytes, train_peak  # noqa: E402

NETWORKS = ("resnet18", "resnet50", "mobilenet_v2", "densenet121", "vgg16")


def row(name: str, batch: int) -> dict:
    net = archdsl.load(name)
    a = net.analyze(batch=batch)
    shape = (batch, *a.input_shape)
    meta = net.build(device="meta")
    x = torch.empty(shape, device="meta")
    stats = torchinfo.summary(net.build(device="cpu"), input_size=shape, verbose=0)
    info_pass = stats.total_output_bytes  # torchinfo's "Forward/backward pass size"
    info_total = stats.total_input + stats.total_output_bytes + stats.total_param_bytes  # "Estimated Total Size"
    measured_saved = saved_bytes(meta, x)
    measured_peak = train_peak(meta, x, "sgd")
    return {"network": name, "batch": batch,
            "saved": {"archdsl": a.totals["saved_bytes"], "torchinfo": info_pass, "measured": measured_saved},
            "train_peak_sgd": {"archdsl": a.totals["train_peak_bytes"], "torchinfo": info_total, "measured": measured_peak}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = [row(n, args.batch) for n in NETWORKS]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"batch {args.batch}, float32; ratios are estimate / measured\n")
    print("| network | saved, measured | archdsl | torchinfo | train peak (SGD), measured | archdsl | torchinfo |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        s, p = r["saved"], r["train_peak_sgd"]
        print(f"| {r['network']} | {s['measured'] / 1e6:,.1f} MB | {s['archdsl'] / s['measured']:.4f} | "
              f"{s['torchinfo'] / s['measured']:.2f} | {p['measured'] / 1e6:,.1f} MB | "
              f"{p['archdsl'] / p['measured']:.4f} | {p['torchinfo'] / p['measured']:.2f} |")


if __name__ == "__main__":
    main()
