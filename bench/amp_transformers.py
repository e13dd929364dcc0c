"""The "Under autocast" rows of docs/benchmarks.md for the small transformers of tests/test_memory.py:
saved bytes, Adam training peak and inference peak, measured by tests/memory_oracle.py on the CPU
(batch 2, 1 thread), and archdsl's ratio to each; then the small Swin V2's SGD training peak and
the bf16 inference peaks of the ViT specs at batch 8.  PYTHONPATH=. .venv/bin/python bench/amp_transformers.py"""
import torch

import archdsl
from tests.memory_oracle import inference_peak, saved_bytes, train_peak
from tests.test_memory import TRANSFORMERS, _load

torch.set_num_threads(1)
for name in TRANSFORMERS:
    for amp in ("bf16", "fp16"):
        net = _load(name)
        module = net.build()
        x = torch.randn(2, *net.analyze().input_shape)
        a = net.analyze(batch=2, amp=amp, optimizer="adam").totals
        s, t, i = saved_bytes(module, x, amp), train_peak(module, x, "adam", amp), inference_peak(module, x, amp)
        print(f"| {name} | {amp} | {s:,} B | {a['saved_bytes'] / s:.4f} | {t:,} B | {a['train_peak_bytes'] / t:.4f} "
              f"| {i:,} B | {a['inference_peak_bytes'] / i:.4f} |")
net = _load("swin_v2_small")
t = train_peak(net.build(), torch.randn(2, *net.analyze().input_shape), "sgd", "bf16")
print(f"swin_v2_small bf16 SGD train peak: {t:,} B, archdsl {net.analyze(batch=2, amp='bf16').totals['train_peak_bytes'] / t:.4f}")
for name in ("vit_b_16", "vit_b_32"):
    net = archdsl.load(name)
    i = inference_peak(net.build(), torch.randn(8, *net.analyze().input_shape), "bf16")
    print(f"{name} bf16 batch 8 inference peak: {i:,} B, archdsl {net.analyze(batch=8, amp='bf16').totals['inference_peak_bytes'] / i:.4f}")
