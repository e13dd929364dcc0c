"""Every GPU check of the project, in one short run: `python bench/gpu.py [--out FILE]`.

Prints one JSON object (and writes it to --out): the device, then one entry per check. Without
CUDA every check is reported as skipped and the script exits 0. `--device cpu --smoke` runs every
check's code on the CPU at toy sizes (figures meaningless as GPU figures), so that a session lent a
GPU for a few minutes does not spend them on a broken script: tests/test_bench_gpu.py runs both.
A check is a function of the device and the smoke flag that returns a dict of figures; add one by
decorating it with @check. Keep each to a minute or so: the whole script should take a few.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "bench")]

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def _throughput(model, device, batch: int, amp: bool, channels_last: bool, steps: int = 20, warmup: int = 5,
                size: int = 224) -> float:
    """Training images/s of `model` on synthetic ImageNet-sized batches: the step archdsl train
    takes (autocast, cross-entropy, backward, SGD with momentum)."""
    import torch
    import torch.nn.functional as F

    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 1000, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda device: None)
    for _ in range(warmup):  # includes torch.compile's compilation
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * steps / (time.perf_counter() - start)


@check
def train_resnet50(device, smoke: bool) -> dict:
    """ResNet-50 training throughput: archdsl's module against the same loop on a hand-written
    torchvision-layout ResNet-50 (fp32, eager), and the gain of bf16 + channels_last +
    torch.compile over fp32 eager for archdsl's module (the smoke run does not compile: on the
    CPU that is minutes of C++)."""
    import torch

    import archdsl
    from resnet_torch import Bottleneck, ResNet

    batch, sizes = (2, {"size": 32, "steps": 1, "warmup": 1}) if smoke else (128, {})
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    ours = archdsl.build("resnet50", device=str(device))
    theirs = ResNet(Bottleneck, (3, 4, 6, 3)).to(device)
    out = {"batch": batch,
           "archdsl_fp32_eager": _throughput(ours, device, batch, amp=False, channels_last=False, **sizes),
           "handwritten_fp32_eager": _throughput(theirs, device, batch, amp=False, channels_last=False, **sizes)}
    del theirs
    fast = archdsl.build("resnet50", device=str(device))
    fast = fast if smoke else torch.compile(fast)
    out["archdsl_bf16_channels_last_compile"] = _throughput(fast, device, batch, amp=True, channels_last=True, **sizes)
    out["archdsl_vs_handwritten"] = out["archdsl_fp32_eager"] / out["handwritten_fp32_eager"]
    out["gain_bf16_channels_last_compile"] = out["archdsl_bf16_channels_last_compile"] / out["archdsl_fp32_eager"]
    out["unit"] = f"training images/s ({sizes.get('size', 224)}x{sizes.get('size', 224)}, SGD momentum, synthetic tensors)"
    return out


@check
def memory_train_peak(device, smoke: bool) -> dict:
    """archdsl's train_peak_bytes (--device cuda) against torch.cuda.max_memory_allocated, several
    specs and batches, within 10% (bench/gpu_memory.py)."""
    from gpu_memory import SMOKE, train_peak_check

    cases = {"cases": SMOKE["train_peak"]} if smoke else {}
    return train_peak_check(device=device.type, **cases)


@check
def memory_amp(device, smoke: bool) -> dict:
    """--amp bf16|fp16 on CUDA: train_peak_bytes against max_memory_allocated within 10%, and
    saved bytes against saved_tensors_hooks under autocast (bench/gpu_memory.py)."""
    from gpu_memory import SMOKE, amp_check

    cases = {"cases": SMOKE["amp"]} if smoke else {}
    return amp_check(device=device.type, **cases)


@check
def memory_fit(device, smoke: bool) -> dict:
    """`archdsl fit`'s batch fits on the GPU and batch + 10% does not (bench/gpu_memory.py)."""
    from gpu_memory import SMOKE, fit_check

    cases = {"cases": SMOKE["fit"]} if smoke else {}
    return fit_check(device=device.type, **cases)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--only", action="append", help="run only this check (repeatable)")
    parser.add_argument("--device", default="cuda", help="cuda (the default), or cpu with --smoke")
    parser.add_argument("--smoke", action="store_true", help="toy sizes: checks that the script works, no figures")
    args = parser.parse_args(argv)
    import torch

    chosen = [c for c in CHECKS if not args.only or c.__name__ in args.only]
    result = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "smoke": args.smoke, "checks": {}}
    if args.device == "cuda" and not torch.cuda.is_available():
        result["skipped"] = "no CUDA device: every check needs one"
        result["checks"] = {c.__name__: {"skipped": True} for c in chosen}
    else:
        device = torch.device(args.device)
        result["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else args.device
        for c in chosen:
            start = time.perf_counter()
            try:
                figures = c(device, args.smoke)
            except Exception as err:  # one failing check does not hide the others
                figures = {"error": f"{type(err).__name__}: {err}"}
            figures["seconds"] = round(time.perf_counter() - start, 1)
            result["checks"][c.__name__] = figures
            if device.type == "cuda":
                torch.cuda.empty_cache()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
