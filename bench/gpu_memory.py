"""GPU checks of the memory figures (issue 9), as functions that return JSON-able dicts.

bench/gpu.py runs them with the project's other GPU checks; run alone, `python bench/gpu_memory.py`
prints the JSON. On CUDA the measurement is the caching allocator's own count; on the CPU
(`bench/gpu.py --device cpu --smoke`, which tests/test_bench_gpu.py runs so that the script is
known to work before a session spends its few GPU minutes) it is the live-bytes tracker of
tests/memory_oracle.py, which follows every storage aten returns until it is freed.

- `train_peak_check`: archdsl's `train_peak_bytes` (`--device cuda`: 512-byte blocks) against
  `torch.cuda.max_memory_allocated` over one training step from scratch (forward,
  `output.sum().backward()`, the optimizer's first step), for several specs and batches; ok
  within 10%. The allocator's figure includes cuDNN workspaces, which archdsl leaves out.
- `amp_check`: the same under torch.autocast (bf16 and fp16, CUDA's lists: `--amp`), and the
  bytes autograd saves under autocast (saved_tensors_hooks) against `saved_bytes`.
- `fit_check`: `archdsl fit`'s batch for a budget: the measured peak at that batch fits the
  budget, and at the batch + 10% it does not (measured, not by running out of memory).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = (("resnet18", 32, "sgd"), ("resnet50", 16, "adam"), ("mobilenet_v2", 32, "momentum"),
         ("vgg16", 8, "adamw"), ("densenet121", 16, "sgd"), ("unet", 2, "adam"))
AMP_CASES = (("resnet18", 32, "sgd", "bf16"), ("resnet50", 16, "adam", "fp16"), ("mobilenet_v2", 32, "sgd", "bf16"),
             ("convnext_tiny", 8, "adamw", "bf16"), ("vgg16", 8, "sgd", "fp16"))
FIT_CASES = (("resnet18", "4GiB", "adam"), ("mobilenet_v2", "6GiB", "sgd"))
# Small enough for the CPU in seconds: the smoke run of every check's code.
SMOKE = {"train_peak": (("lenet5", 2, "adam"), ("squeezenet1_0", 1, "momentum")),
         "amp": (("lenet5", 2, "sgd", "bf16"),),
         "fit": (("lenet5", "24MiB", "adam"),)}
TOLERANCE = 0.10


def _gpu_name(torch, device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else f"{device} (smoke run: no GPU figure)"


def measured_train_peak(name: str, batch: int, optimizer: str, amp: str | None = None, device: str = "cuda") -> int:
    """The peak of tensor bytes over one training step from scratch (weights included):
    torch.cuda.max_memory_allocated on CUDA, the live-bytes tracker elsewhere."""
    import torch

    import archdsl

    net = archdsl.load(name)
    shape = (batch, *net.analyze().input_shape)
    from tests.memory_oracle import AMP, OPTIMIZERS, train_peak

    if device != "cuda":
        return train_peak(net.build(device=device), torch.randn(shape, device=device), optimizer, amp)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    module = net.build(device="cuda").train()
    x = torch.randn(shape, device="cuda")
    opt = OPTIMIZERS[optimizer]([p for p in module.parameters() if p.requires_grad])
    with torch.autocast("cuda", dtype=AMP.get(amp), enabled=bool(amp)):
        out = module(x)
        loss = sum(o.sum() for o in (out if isinstance(out, tuple) else (out,)))
        del out
    loss.backward()
    del loss
    opt.step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del module, x, opt
    torch.cuda.empty_cache()
    return peak


def measured_saved(name: str, batch: int, amp: str, device: str = "cuda") -> int:
    """Bytes of the distinct storages autograd saves in a training forward under autocast."""
    import torch

    import archdsl
    from tests.memory_oracle import AMP

    net = archdsl.load(name)
    module = net.build(device=device).train()
    own = {t.untyped_storage()._cdata for t in (*module.parameters(), *module.buffers())}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s._cdata not in own:
            seen[s._cdata] = s.nbytes()
        return t

    x = torch.randn((batch, *net.analyze().input_shape), device=device)
    with torch.autocast(torch.device(device).type, dtype=AMP[amp]), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(x)
    del out, module, x
    if device == "cuda":
        torch.cuda.empty_cache()
    return sum(seen.values())


def train_peak_check(cases=CASES, device: str = "cuda") -> dict:
    import torch

    import archdsl

    rows = []
    for name, batch, optimizer in cases:
        estimate = archdsl.load(name).analyze(batch=batch, optimizer=optimizer, device=device).totals["train_peak_bytes"]
        measured = measured_train_peak(name, batch, optimizer, device=device)
        rows.append({"network": name, "batch": batch, "optimizer": optimizer, "estimate": estimate,
                     "measured": measured, "ratio": estimate / measured,
                     "ok": abs(estimate - measured) <= TOLERANCE * measured})
    return {"gpu": _gpu_name(torch, device), "torch": torch.__version__, "tolerance": TOLERANCE,
            "ok": all(r["ok"] for r in rows), "rows": rows}


def amp_check(cases=AMP_CASES, device: str = "cuda") -> dict:
    import torch

    import archdsl

    rows = []
    for name, batch, optimizer, amp in cases:
        a = archdsl.load(name).analyze(batch=batch, optimizer=optimizer, device=device, amp=amp)
        measured = measured_train_peak(name, batch, optimizer, amp, device=device)
        saved = measured_saved(name, batch, amp, device=device)
        rows.append({"network": name, "batch": batch, "optimizer": optimizer, "amp": amp,
                     "estimate": a.totals["train_peak_bytes"], "measured": measured,
                     "ratio": a.totals["train_peak_bytes"] / measured,
                     # on CUDA the estimate is in 512-byte blocks; the hooks see each storage's own bytes
                     "saved_estimate": a.totals["saved_bytes"], "saved_measured": saved,
                     "saved_ratio": a.totals["saved_bytes"] / saved,
                     "ok": abs(a.totals["train_peak_bytes"] - measured) <= TOLERANCE * measured})
    return {"gpu": _gpu_name(torch, device), "torch": torch.__version__, "tolerance": TOLERANCE,
            "ok": all(r["ok"] for r in rows), "rows": rows}


def fit_check(cases=FIT_CASES, device: str = "cuda") -> dict:
    import torch

    import archdsl
    from archdsl.fit import fit, parse_bytes

    rows = []
    for name, budget, optimizer in cases:
        amount = parse_bytes(budget)
        batch = fit(archdsl.load(name).analysed(), amount, optimizer=optimizer, device=device).batch
        above = max(batch + 1, round(batch * 1.1))
        at = measured_train_peak(name, batch, optimizer, device=device)
        over = measured_train_peak(name, above, optimizer, device=device)
        rows.append({"network": name, "memory": budget, "optimizer": optimizer, "batch": batch, "peak": at,
                     "batch_plus_10pct": above, "peak_plus_10pct": over, "ok": at <= amount < over})
    return {"gpu": _gpu_name(torch, device), "ok": all(r["ok"] for r in rows), "rows": rows}


def run_all(device: str = "cuda", smoke: bool = False) -> dict:
    return {"train_peak": train_peak_check(SMOKE["train_peak"] if smoke else CASES, device),
            "amp": amp_check(SMOKE["amp"] if smoke else AMP_CASES, device),
            "fit": fit_check(SMOKE["fit"] if smoke else FIT_CASES, device)}


if __name__ == "__main__":
    import torch

    print(json.dumps(run_all("cuda" if torch.cuda.is_available() else "cpu",
                             smoke=not torch.cuda.is_available()), indent=1))
