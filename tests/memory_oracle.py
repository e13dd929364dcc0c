"""What PyTorch really keeps and allocates, measured on a built module (the memory tests' oracle).

- `saved_bytes`: a training-mode forward under torch.autograd.graph.saved_tensors_hooks; the
  bytes of the distinct storages packed, parameters and buffers excluded, the input included.
  Storages are told apart by their StorageImpl (`untyped_storage()._cdata`), so the module may
  live on the meta device: autograd decides what to save above the kernels, and meta runs the
  same decisions without the arithmetic (tests/test_memory.py checks meta against the CPU).
- `amp`: "bf16" or "fp16" runs the forward under torch.autocast on the input's device (the CPU
  or CUDA; autocast has no meta rules), as a training loop does: the forward and the loss inside,
  backward and the optimizer step outside.
"""
from __future__ import annotations

import contextlib

import torch

AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(x: torch.Tensor, amp: str | None):
    """torch.autocast, with scaled dot-product attention's MATH backend (archdsl's; on real CPU
    tensors PyTorch would pick its fused flash attention, which keeps less)."""
    if not amp:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast(x.device.type, dtype=AMP[amp]))
    stack.enter_context(sdpa_kernel(SDPBackend.MATH))
    return stack


def _storage(t: torch.Tensor):
    s = t.untyped_storage()
    return s._cdata, s.nbytes()


def saved_bytes(module: torch.nn.Module, x: torch.Tensor, amp: str | None = None) -> int:
    own = {_storage(t)[0] for t in (*module.parameters(), *module.buffers())}
    seen: dict[int, int] = {}

    def pack(t):
        key, nbytes = _storage(t)
        if key not in own:
            seen[key] = nbytes
        return t

    module.train()
    with autocast(x, amp), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(x)
    del out
    return sum(seen.values())


class LiveBytes:
    """A TorchDispatchMode that follows every storage an aten op returns until it is freed (a
    weakref finalizer on its untyped storage, which PyTorch keeps as long as the storage lives)
    and records the peak of their bytes, on top of `base` bytes that live throughout."""

    def __init__(self, base: int = 0, existing=()):
        from torch.utils._python_dispatch import TorchDispatchMode

        outer = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in torch.utils._pytree.tree_leaves(out):
                    if isinstance(t, torch.Tensor):
                        outer._track(t)
                return out

        self.mode = Mode()
        self.live = self.peak = base
        self.tracked: set[int] = {t.untyped_storage()._cdata for t in existing}

    def _track(self, t: torch.Tensor) -> None:
        import weakref

        s = t.untyped_storage()
        key = s._cdata
        if key in self.tracked:
            return
        self.tracked.add(key)
        nbytes = s.nbytes()
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        weakref.finalize(s, self._free, key, nbytes)

    def _free(self, key: int, nbytes: int) -> None:
        self.tracked.discard(key)
        self.live -= nbytes

    def __enter__(self):
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self.mode.__exit__(*exc)


def _nbytes(tensors) -> int:
    return sum(t.untyped_storage().nbytes() for t in {t.untyped_storage()._cdata: t for t in tensors}.values())


def inference_peak(module: torch.nn.Module, x: torch.Tensor, amp: str | None = None) -> int:
    """The peak of live tensor bytes of an eval, no-grad forward: parameters, buffers and the
    input throughout, and every storage the forward's aten ops return until it is freed."""
    module.eval()
    existing = [*module.parameters(), *module.buffers(), x]
    with torch.no_grad(), LiveBytes(_nbytes(existing), existing) as live:
        with autocast(x, amp):
            out = module(x)
            del out
    return live.peak


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
}


def train_peak(module: torch.nn.Module, x: torch.Tensor, optimizer: str = "sgd", amp: str | None = None) -> int:
    """The peak of live tensor bytes of one training step from scratch: a training-mode forward,
    `output.sum().backward()`, and the optimizer's first step (which creates its state)."""
    module.train()
    params = [p for p in module.parameters() if p.requires_grad]
    opt = OPTIMIZERS[optimizer](params)
    existing = [*module.parameters(), *module.buffers(), x]
    with LiveBytes(_nbytes(existing), existing) as live:
        with autocast(x, amp):
            out = module(x)
            outs = out if isinstance(out, tuple) else (out,)
            loss = sum(o.sum() for o in outs)
            del out, outs
        loss.backward()
        del loss
        opt.step()
    return live.peak


def optimizer_bytes(module: torch.nn.Module, x: torch.Tensor, optimizer: str) -> int:
    """Bytes of the tensors torch.optim holds after one step (its state, `step` tensors included)."""
    module.train()
    opt = OPTIMIZERS[optimizer]([p for p in module.parameters() if p.requires_grad])
    out = module(x)
    sum(o.sum() for o in (out if isinstance(out, tuple) else (out,))).backward()
    opt.step()
    return _nbytes([t for state in opt.state.values() for t in state.values() if isinstance(t, torch.Tensor)])


def kept_bytes(module: torch.nn.Module, shape: tuple, amp: str | None = None, device: str = "cpu") -> int:
    """What a training-mode forward leaves alive for backward, however it is held (autograd's saved
    tensors, torch.utils.checkpoint's inputs): the bytes of the storages made during the forward
    (the input too, made inside) that still live when only the outputs' autograd graph is kept."""
    import gc

    module.train()
    existing = [*module.parameters(), *module.buffers()]
    with LiveBytes(0, existing) as live:
        x = torch.randn(shape, device=device)
        with autocast(x, amp):
            out = module(x)
        graph = [o.grad_fn for o in (out if isinstance(out, tuple) else (out,))]
        del out, x
        gc.collect()
        kept = live.live
    del graph
    return kept
