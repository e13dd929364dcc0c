"""`archdsl fit`: the largest batch whose peak memory fits a budget, found by searching over the
exact model (every candidate batch is a full liveness walk, memory.py), not by a linear guess."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import memory
from .analysis import settings as make_settings
from .errors import UsageError
from .figures import DTYPE_BYTES

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
LIMIT = 1 << 24  # the largest batch tried


def parse_bytes(text: str) -> int:
    """24GiB, 24GB, 1.5TiB, 800MB or a plain number of bytes."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else None
    if unit in ("K", "M", "G", "T"):
        raise UsageError(f"--memory {text}: {m.group(2)} could be powers of 1000 or of 1024",
                         hint=f"write {m.group(1)}{unit}iB (2^{ {'K': 10, 'M': 20, 'G': 30, 'T': 40}[unit]}) or {m.group(1)}{unit}B (10^{ {'K': 3, 'M': 6, 'G': 9, 'T': 12}[unit]})", code="E0901")
    if not m or unit not in UNITS:
        raise UsageError(f"--memory {text}: write an amount such as 24GiB, 16GB or 800MB", code="E0901")
    return int(float(m.group(1)) * UNITS[unit])


@dataclass(frozen=True)
class Fit:
    batch: int  # the largest batch that fits (0: not even one sample)
    memory: int  # the budget, bytes
    mode: str  # train | inference
    parts: tuple[tuple[str, int], ...]  # what the peak at `batch` (or at 1) is made of
    table: tuple[tuple[int, int], ...]  # (batch, peak bytes), ascending
    settings: object

    @property
    def peak(self) -> int:
        return sum(v for _, v in self.parts)

    @property
    def dominant(self) -> str:
        return max(self.parts, key=lambda p: p[1])[0]


def peak_bytes(graph, mode: str, s) -> int:
    return memory.train_peak(graph, s) if mode == "train" else memory.inference_peak(graph, s)


def parts(graph, mode: str, s) -> tuple[tuple[str, int], ...]:
    """What the peak holds at its moment (memory.train_walk): parameters (and buffers), gradients,
    optimizer state, saved activations, other tensors (activations' gradients, outputs, temporaries)."""
    if mode == "inference":
        weights = sum(n.figures["params"] for n in graph.nodes) * DTYPE_BYTES[s.dtype] + memory.buffer_bytes(graph, s)
        return (("parameters", weights), ("activations", memory.inference_peak(graph, s) - weights))
    _, held = memory.train_walk(graph, s)
    return tuple((name, value) for name, value in held.items() if value or name != "optimizer state")


def fit(graph, budget: int, mode: str = "train", optimizer: str = "sgd", dtype: str = "float32",
        device: str = "cpu", amp: str | None = None) -> Fit:
    if mode not in ("train", "inference"):
        raise ValueError(mode)
    at = {}

    def peak(batch: int) -> int:
        if batch not in at:
            at[batch] = peak_bytes(graph, mode, make_settings(batch, dtype, optimizer, device, amp))
        return at[batch]

    make_settings(1, dtype, optimizer, device, amp)  # refuses what cannot run
    if peak(1) > budget:
        best = 0
    else:
        lo, hi = 1, 2
        while hi <= LIMIT and peak(hi) <= budget:
            lo, hi = hi, hi * 2
        if hi > LIMIT:
            best = LIMIT
        else:
            while hi - lo > 1:  # peak(lo) fits, peak(hi) does not; the peak grows with the batch
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if peak(mid) <= budget else (lo, mid)
            best = lo
    s = make_settings(max(best, 1), dtype, optimizer, device, amp)
    powers = [2 ** k for k in range(0, 25) if 2 ** k < best][-6:]
    shown = sorted({1, *powers, best, best + 1} - {0})
    return Fit(best, budget, mode, parts(graph, mode, s), tuple((b, peak(b)) for b in shown), s)
