"""Built modules against the same network written by hand, interleaved in one process.

    .venv/bin/python bench/bench_build.py [--quick] [--device cpu|cuda]

ResNet-50 from specs/resnet50.arch (archdsl.build) against bench/resnet_torch.py's hand-written
ResNet-50 (torchvision's layout), with the same weights: eval forward, training step (forward,
backward, SGD step), and `--optimize inference` (batch norm folded, dropout removed) in eval.
Each repetition times every variant once, in turn, so that drifts of the machine hit all alike;
the report gives medians and ratios. On CUDA it adds bf16 autocast + channels_last +
torch.compile against fp32 eager.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import archdsl  # noqa: E402
from archdsl.backends.torch import optimize_for_inference  # noqa: E402
from resnet_torch import ResNet  # noqa: E402


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def interleave(variants: dict, reps: int, device: str, warmup: int = 2) -> dict:
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in variants}
    for _ in range(reps):
        for name, fn in variants.items():
            times[name].append(timed(fn, device))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = args.device
    reps = 5 if args.quick else 15
    batch, size = (8, 224) if device == "cuda" else (4, 160)
    if device == "cpu":
        torch.set_num_threads(torch.get_num_threads())

    built = archdsl.build(ROOT / "specs" / "resnet50.arch", device=device)
    hand = ResNet(layers=(3, 4, 6, 3)).to(device)
    built.load_state_dict(hand.state_dict(), strict=True)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)

    built.eval(), hand.eval()
    fused = optimize_for_inference(built)
    with torch.no_grad():
        a, b, c = built(x), hand(x), fused(x)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4) and (a - c).abs().max() <= 1e-4 * a.abs().max()

    def forward(model):
        def run():
            with torch.no_grad():
                model(x)
        return run

    ev = interleave({"archdsl": forward(built), "hand-written": forward(hand), "archdsl --optimize inference": forward(fused)},
                    reps, device)

    opt_b = torch.optim.SGD(built.parameters(), lr=1e-3)
    opt_h = torch.optim.SGD(hand.parameters(), lr=1e-3)

    def step(model, opt):
        def run():
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return run

    built.train(), hand.train()
    tr = interleave({"archdsl": step(built, opt_b), "hand-written": step(hand, opt_h)}, reps, device)

    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"ResNet-50, batch {batch}, {size}x{size}, {device} ({name}), torch {torch.__version__}, median of {reps}")
    print("| measurement | archdsl | hand-written | archdsl / hand-written |")
    print("|---|--:|--:|--:|")
    print(f"| eval forward | {ev['archdsl'] * 1e3:.1f} ms | {ev['hand-written'] * 1e3:.1f} ms | {ev['archdsl'] / ev['hand-written']:.3f} |")
    print(f"| training step | {tr['archdsl'] * 1e3:.1f} ms | {tr['hand-written'] * 1e3:.1f} ms | {tr['archdsl'] / tr['hand-written']:.3f} |")
    opt = ev["archdsl --optimize inference"]
    print(f"| eval forward, `--optimize inference` | {opt * 1e3:.1f} ms | {ev['hand-written'] * 1e3:.1f} ms | "
          f"{opt / ev['hand-written']:.3f} ({(1 - opt / ev['hand-written']) * 100:.0f}% faster) |")

    if device == "cuda":
        xc = x.to(memory_format=torch.channels_last)
        fast = archdsl.build(ROOT / "specs" / "resnet50.arch", device="cuda", memory_format="channels_last")
        fast.load_state_dict(hand.state_dict())
        compiled = torch.compile(fast)
        opt_c = torch.optim.SGD(compiled.parameters(), lr=1e-3)

        def amp_step():
            opt_c.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(compiled(xc), y)
            loss.backward()
            opt_c.step()

        res = interleave({"fp32 eager": step(built, opt_b), "bf16 + channels_last + compile": amp_step}, reps, device, warmup=3)
        print(f"| training step, bf16 autocast + channels_last + torch.compile vs fp32 eager | "
              f"{res['bf16 + channels_last + compile'] * 1e3:.1f} ms | {res['fp32 eager'] * 1e3:.1f} ms (fp32 eager) | "
              f"{res['fp32 eager'] / res['bf16 + channels_last + compile']:.2f}x faster |")


if __name__ == "__main__":
    main()
