"""GPU checks of the memory figures (issue 9), as functions that return JSON-able dicts.

Each function skips cleanly without CUDA (`{"skipped": "no CUDA device"}`); bench/gpu.py runs
them with the project's other GPU checks. Run alone: `python bench/gpu_memory.py` prints the JSON.

- `train_peak_check`: archdsl's `train_peak_bytes` (`--device cuda`: 512-byte blocks) against
  `torch.cuda.max_memory_allocated` over one training step from scratch (forward,
  `output.sum().backward()`, the optimizer's first step), for several specs and batches; ok
  within 10%. The allocator's figure includes cuDNN workspaces, which archdsl leaves out.
- `amp_check`: the same under torch.autocast (bf16 and fp16, CUDA's lists: `--amp`), and the
  bytes autograd saves under autocast on the GPU (saved_tensors_hooks) against `saved_bytes`.
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
TOLERANCE = 0.10


def _cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _optimizer(torch, name, params):
    return {"sgd": lambda: torch.optim.SGD(params, lr=0.01),
            "momentum": lambda: torch.optim.SGD(params, lr=0.01, momentum=0.9),
            "adam": lambda: torch.optim.Adam(params, lr=0.01),
            "adamw": lambda: torch.optim.AdamW(params, lr=0.01)}[name]()


def measured_train_peak(name: str, batch: int, optimizer: str, amp: str | None = None) -> int:
    """torch.cuda.max_memory_allocated over one training step from scratch (weights included)."""
    torch = _cuda()
    import archdsl

    net = archdsl.load(name)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    module = net.build(device="cuda").train()
    x = torch.randn((batch, *net.analyze().input_shape), device="cuda")
    opt = _optimizer(torch, optimizer, [p for p in module.parameters() if p.requires_grad])
    with torch.autocast("cuda", dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[amp], enabled=bool(amp)):
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


def train_peak_check(cases=CASES) -> dict:
    torch = _cuda()
    if torch is None:
        return {"skipped": "no CUDA device"}
    import archdsl

    rows = []
    for name, batch, optimizer in cases:
        estimate = archdsl.load(name).analyze(batch=batch, optimizer=optimizer, device="cuda").totals["train_peak_bytes"]
        measured = measured_train_peak(name, batch, optimizer)
        rows.append({"network": name, "batch": batch, "optimizer": optimizer, "estimate": estimate,
                     "max_memory_allocated": measured, "ratio": estimate / measured,
                     "ok": abs(estimate - measured) <= TOLERANCE * measured})
    return {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "tolerance": TOLERANCE,
            "ok": all(r["ok"] for r in rows), "rows": rows}


AMP_CASES = (("resnet18", 32, "sgd", "bf16"), ("resnet50", 16, "adam", "fp16"), ("mobilenet_v2", 32, "sgd", "bf16"),
             ("convnext_tiny", 8, "adamw", "bf16"), ("vgg16", 8, "sgd", "fp16"))


def measured_saved(name: str, batch: int, amp: str) -> int:
    """Bytes of the distinct storages autograd saves in a training forward under autocast on CUDA."""
    torch = _cuda()
    import archdsl

    net = archdsl.load(name)
    module = net.build(device="cuda").train()
    own = {t.untyped_storage()._cdata for t in (*module.parameters(), *module.buffers())}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s._cdata not in own:
            seen[s._cdata] = s.nbytes()
        return t

    x = torch.randn((batch, *net.analyze().input_shape), device="cuda")
    with torch.autocast("cuda", dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[amp]), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(x)
    del out, module, x
    torch.cuda.empty_cache()
    return sum(seen.values())


def amp_check(cases=AMP_CASES) -> dict:
    torch = _cuda()
    if torch is None:
        return {"skipped": "no CUDA device"}
    import archdsl

    rows = []
    for name, batch, optimizer, amp in cases:
        a = archdsl.load(name).analyze(batch=batch, optimizer=optimizer, device="cuda", amp=amp)
        measured = measured_train_peak(name, batch, optimizer, amp)
        saved = measured_saved(name, batch, amp)
        rows.append({"network": name, "batch": batch, "optimizer": optimizer, "amp": amp,
                     "estimate": a.totals["train_peak_bytes"], "max_memory_allocated": measured,
                     "ratio": a.totals["train_peak_bytes"] / measured,
                     # the estimate in 512-byte blocks; the hooks see each storage's own bytes
                     "saved_estimate": a.totals["saved_bytes"], "saved_measured": saved,
                     "saved_ratio": a.totals["saved_bytes"] / saved,
                     "ok": abs(a.totals["train_peak_bytes"] - measured) <= TOLERANCE * measured})
    return {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "tolerance": TOLERANCE,
            "ok": all(r["ok"] for r in rows), "rows": rows}


def fit_check(cases=(("resnet18", "4GiB", "adam"), ("mobilenet_v2", "6GiB", "sgd"))) -> dict:
    torch = _cuda()
    if torch is None:
        return {"skipped": "no CUDA device"}
    import archdsl
    from archdsl.fit import fit, parse_bytes

    rows = []
    for name, budget, optimizer in cases:
        amount = parse_bytes(budget)
        batch = fit(archdsl.load(name).analysed(), amount, optimizer=optimizer, device="cuda").batch
        above = max(batch + 1, round(batch * 1.1))
        at, over = measured_train_peak(name, batch, optimizer), measured_train_peak(name, above, optimizer)
        rows.append({"network": name, "memory": budget, "optimizer": optimizer, "batch": batch, "peak": at,
                     "batch_plus_10pct": above, "peak_plus_10pct": over, "ok": at <= amount < over})
    return {"gpu": torch.cuda.get_device_name(), "ok": all(r["ok"] for r in rows), "rows": rows}


def run_all() -> dict:
    return {"train_peak": train_peak_check(), "amp": amp_check(), "fit": fit_check()}


if __name__ == "__main__":
    print(json.dumps(run_all(), indent=1))
