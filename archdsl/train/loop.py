"""`archdsl train`: the run's options, the model and optimizer they make, and the training loop."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from .. import network
from ..errors import UsageError
from ..ops.base import fmt_size, slide_order
from . import checkpoint, data as datasets, distributed, progress

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("cosine", "step", "none")


@dataclass
class Config:
    spec: str  # a path, a library name, or spec text (a resumed run's)
    sets: dict = field(default_factory=dict)
    input: str | None = None
    data: str | None = None  # None: the embedded digits
    epochs: int = 20
    batch: int = 64  # per process: torchrun with N processes trains on N x batch per step
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup: float = 0.0  # epochs of linear warm-up
    amp: str | None = None  # bf16 or fp16
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    weights: str | None = None
    device: str | None = None  # None: cuda where there is one, else cpu
    workers: int | None = None  # None: 0 for data in memory, else up to 4
    out: str | None = None
    resume: str | None = None


@dataclass
class Result:
    metrics: list
    interrupted: bool = False
    checkpoint: str | None = None


def lr_factor(config: Config, step: int, steps_per_epoch: int) -> float:
    """The schedule as a factor of --lr at optimizer step `step`: linear warm-up over --warmup
    epochs, then cosine to zero over the remaining epochs, or x0.1 at half and three quarters of
    the run (step), or constant (none)."""
    t = step / steps_per_epoch  # epochs done
    if config.warmup > 0 and t < config.warmup:
        return (step + 1) / (config.warmup * steps_per_epoch)
    if config.schedule == "cosine":
        span = max(config.epochs - config.warmup, 1e-9)
        return 0.5 * (1 + math.cos(math.pi * min((t - config.warmup) / span, 1.0)))
    if config.schedule == "step":
        return 0.1 ** sum(t >= m * config.epochs for m in (0.5, 0.75))
    return 1.0


def make_optimizer(config: Config, params) -> torch.optim.Optimizer:
    if config.optimizer in ("sgd", "momentum"):
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9 if config.optimizer == "momentum" else 0.0,
                               weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def check_output(analysis, classes: int, spec: str) -> None:
    """The spec must end in one vector of `classes` scores."""
    outputs = analysis.outputs
    hint = f"--set classes={classes} where the spec's last layer is `fc classes`; else end it with `fc {classes}`"
    if len(outputs) != 1:
        names = ", ".join(name for name, _ in outputs)
        raise UsageError(f"{spec} has {len(outputs)} outputs ({names}); training needs one vector of class scores", code="E0803")
    name, shape = outputs[0]
    if tuple(shape) != (classes,):
        raise UsageError(f"{spec} ends in {name} [{fmt_size(slide_order(shape))}], not a vector of scores "
                         f"for the data's {classes} classes", hint=hint, code="E0803")


def state_hash(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in module.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return h.hexdigest()


def resolve_device(device: str | None) -> str:
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: this machine has no CUDA device (or this PyTorch was built without CUDA)",
                         hint="leave --device out: cuda where there is one, else cpu", code="E0804")
    return device


def run(config: Config, overrides: dict | None = None) -> Result:
    saved = None
    if config.resume:
        saved = checkpoint.load(config.resume)
        options = {**saved["config"], **(overrides or {}), "resume": config.resume}
        options["out"] = options.get("out") or config.resume
        config = Config(**options)
        config.spec = saved["spec"]
    device_name = resolve_device(config.device)
    if config.amp == "fp16" and device_name != "cuda":
        raise UsageError("--amp fp16 needs a CUDA device: on the CPU, autocast is for bfloat16",
                         hint="--amp bf16", code="E0804")
    world, device = distributed.setup(device_name)
    try:
        return _train(config, saved, world, device)
    finally:
        distributed.teardown(world)


def _train(config: Config, saved: dict | None, world, device: torch.device) -> Result:
    report = progress.Reporter(world.main)
    net = network.load(config.spec, set=config.sets, input=config.input)
    spec_text = _spec_text(config.spec) if saved is None else saved["spec"]
    label = (config.spec if "\n" not in config.spec else net.path) if saved is None else saved.get("spec_path", net.path)
    analysis = net.analyze(batch=config.batch)
    data = datasets.load(config.data, analysis.input_shape)
    check_output(analysis, data.classes, label)
    if len(data.train) < config.batch * world.size:
        raise UsageError(f"the training set has {len(data.train):,} samples, fewer than one step's "
                         f"{config.batch * world.size:,} (--batch {config.batch} x {world.size} processes)", code="E0803")

    torch.manual_seed(config.seed)
    memory_format = "channels_last" if config.channels_last and len(analysis.input_shape) == 3 else None
    base = net.build(device=str(device), memory_format=memory_format)
    if config.weights and saved is None:
        loaded, notes = checkpoint.load_matching(base, config.weights)
        report.line(f"weights: {loaded:,} tensors from {config.weights}" + "".join(f"; {n}" for n in notes))
    params = [p for p in base.parameters() if p.requires_grad]
    if not params:
        raise UsageError(f"{label}: every layer is frozen, so nothing would train", hint="remove a `freeze` line", code="E0803")
    optimizer = make_optimizer(config, params)
    sampler = distributed.Sampler(data.train, world, config.batch, config.seed)
    steps_per_epoch = len(data.train) // (config.batch * world.size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step, steps_per_epoch))
    scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" else None
    first_epoch, metrics = 0, []
    if saved is not None:
        base.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        first_epoch, sampler.start, metrics = saved["epoch"], saved["samples_done"], saved["metrics"]
        # the schedule counts steps of this run's size (the number of processes may have changed)
        scheduler.last_epoch = first_epoch * steps_per_epoch + sampler.start // (config.batch * world.size)
        for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base_lr * lr_factor(config, scheduler.last_epoch, steps_per_epoch)
        scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
        checkpoint.set_rng_state(saved["rng"])

    model = base
    if world.active:
        model = torch.nn.parallel.DistributedDataParallel(base, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        model = torch.compile(model)
    mean = data.mean.to(device).reshape(1, -1, *([1] * (len(analysis.input_shape) - 1)))
    std = data.std.to(device).reshape(mean.shape)
    workers = config.workers if config.workers is not None else (0 if data.in_memory else min(4, os.cpu_count() or 1))
    loader_options = dict(collate_fn=datasets.batch_of, num_workers=workers, pin_memory=device.type == "cuda",
                          persistent_workers=workers > 0)
    train_loader = DataLoader(data.train, batch_size=config.batch, sampler=sampler, **loader_options)
    val_loader = DataLoader(data.val, batch_size=2 * config.batch, shuffle=False, **loader_options)
    autocast = _autocast(config.amp, device)

    def prepare(x, y):
        x = x.to(device, non_blocking=True)
        x = (x - mean) / std
        if memory_format:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(device, non_blocking=True)

    stop = _Interrupt()  # from here on, Ctrl-C stops the run cleanly
    _plan(report, config, analysis, data, world, device, label, base)
    record = {"config": dataclasses.asdict(config), "spec": spec_text, "spec_path": label, "set": config.sets,
              "input": config.input, "data": {"source": config.data, "name": data.name, "classes": data.classes,
                                              "mean": data.mean.tolist(), "std": data.std.tolist()}}
    seen = []
    try:
        for epoch in range(first_epoch, config.epochs):
            sampler.set_epoch(epoch)
            if world.active and not seen:
                seen = list(iter(sampler))
            _train_mode(base)
            steps = sampler.steps()
            report.start_epoch(epoch + 1, config.epochs, steps)
            totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss x n, correct, n
            start, done = time.perf_counter(), 0
            for x, y in train_loader:
                x, y = prepare(x, y)
                with autocast:
                    out = model(x)
                    loss = F.cross_entropy(out.float(), y)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                scheduler.step()
                done += 1
                totals += torch.stack([loss.detach().double() * len(y), (out.argmax(1) == y).sum().double(),
                                       torch.tensor(float(len(y)), dtype=torch.float64, device=device)])
                if world.main and (done % 10 == 0 or done == steps):
                    t = totals.tolist()
                    report.step(done, t[0] / t[2], t[1] / t[2], t[2] * world.size / (time.perf_counter() - start))
                if distributed.any_all(world, stop.requested, device):
                    raise _Stopped(epoch, sampler.start + done * config.batch * world.size)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start
            report.end_epoch()
            loss_sum, correct, n = distributed.sum_all(world, totals.tolist(), device)
            sampler.start = 0
            m = {"epoch": epoch + 1, "train_loss": loss_sum / n, "train_accuracy": correct / n}
            if world.main:
                m.update(_evaluate(base, val_loader, prepare, autocast))
                m.update(images_per_s=n / seconds, lr=optimizer.param_groups[0]["lr"], seconds=seconds)
                metrics.append(m)
                report.line(progress.summary(m, config.epochs))
                if config.out:
                    _write(config.out, record, base, optimizer, scheduler, scaler, epoch + 1, 0, metrics)
            distributed.barrier(world)
    except _Stopped as stopped:
        report.end_epoch()
        path = None
        if world.main and config.out:
            path = _write(config.out, record, base, optimizer, scheduler, scaler, stopped.epoch, stopped.samples, metrics)
        if path and metrics:
            progress.curves(metrics, config.out)
        distributed.barrier(world)
        return Result(metrics, interrupted=True, checkpoint=path)
    finally:
        stop.restore()
    if world.active and config.out:
        ranks = distributed.gather(world, {"rank": world.rank, "samples": seen, "weights_sha256": state_hash(base)})
        if world.main:
            with open(os.path.join(config.out, "ranks.json"), "w") as f:
                json.dump(ranks, f)
    path = None
    if config.out and world.main:
        path = os.path.join(config.out, checkpoint.NAME)
        progress.curves(metrics, config.out)  # at the end (and on Ctrl-C): matplotlib takes a second to load
    return Result(metrics, checkpoint=path)


class _Stopped(Exception):
    def __init__(self, epoch: int, samples: int):
        self.epoch, self.samples = epoch, samples


class _Interrupt:
    """Ctrl-C (SIGINT) and SIGTERM ask the loop to stop after the current step; a second Ctrl-C
    stops at once, as usual."""

    def __init__(self):
        self.requested = False
        self.previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (a notebook's worker): no handler
                pass

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signum, self.previous.get(signum, signal.SIG_DFL))

    def restore(self):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _autocast(amp: str | None, device: torch.device):
    if amp is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def _train_mode(module: torch.nn.Module) -> None:
    """Training mode, except batch norms whose parameters are frozen: their running statistics
    belong to the frozen base and stay as they are."""
    module.train()
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters()):
            m.eval()


@torch.no_grad()
def _evaluate(module, loader, prepare, autocast) -> dict:
    module.eval()
    loss = correct = n = 0.0
    for x, y in loader:
        x, y = prepare(x, y)
        with autocast:
            out = module(x).float()
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        n += len(y)
    return {"val_loss": loss / n, "val_accuracy": correct / n}


def _write(directory, record, base, optimizer, scheduler, scaler, epoch, samples, metrics) -> str:
    path = checkpoint.save(directory, {
        **record, "model": base.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None, "epoch": epoch, "samples_done": samples,
        "rng": checkpoint.rng_state(), "metrics": metrics})
    if samples == 0:
        with open(os.path.join(directory, "metrics.jsonl"), "w") as f:
            f.writelines(json.dumps(m) + "\n" for m in metrics)
    return path


def _spec_text(spec: str) -> str:
    path = network._resolve(spec)
    if path is None:
        return spec
    with open(path, encoding="utf-8") as f:
        return f.read()


def _plan(report, config, analysis, data, world, device, label, module) -> None:
    """What the analysis predicts for the run, before its first step."""
    t = analysis.totals
    trainable = f"{t['trainable_params']:,} trainable" + (f", {t['frozen_params']:,} frozen" if t["frozen_params"] else "")
    report.line(f"{label}: {t['params']:,} parameters ({trainable}); {t['macs']:,} MACs per step forward "
                f"(batch {config.batch}); {t['activation_bytes'] / 2**20:,.1f} MiB of activations forward "
                f"(float32, batch {config.batch}) -- archdsl's analysis")
    from ..analysis import analyze

    on = "cuda" if str(device).startswith("cuda") else "cpu"
    m = analyze(analysis.graph, batch=config.batch, optimizer=config.optimizer, device=on, amp=config.amp).totals
    report.line(f"memory: a training step with {config.optimizer} at batch {config.batch} peaks at "
                f"{m['train_peak_bytes'] / 2**20:,.1f} MiB of tensors on {on}, {m['saved_bytes'] / 2**20:,.1f} MiB of them "
                f"saved for backward (float32{', autocast ' + config.amp if config.amp else ''}) -- archdsl's analysis")
    size = fmt_size(slide_order(analysis.input_shape))
    resized = ("" if data.source_size == size else f", resized to {size}" if data.source_size == "various"
               else f", resized from {data.source_size} to {size}")
    report.line(f"data: {data.name}: {len(data.train):,} training and {len(data.val):,} held-out samples, "
                f"{data.classes} classes{resized}")
    procs = f" x {world.size} processes (DDP, {'nccl' if device.type == 'cuda' else 'gloo'})" if world.active else ""
    extras = [x for x in (config.amp and f"amp {config.amp}", config.channels_last and "channels_last",
                          config.compile and "torch.compile") if x]
    report.line(f"training: {device.type}{procs}, {config.epochs} epochs of {len(data.train) // (config.batch * world.size):,} "
                f"steps, batch {config.batch}{procs and ' per process'}, {config.optimizer} lr {config.lr:g}"
                f"{f' weight decay {config.weight_decay:g}' if config.weight_decay else ''}, schedule {config.schedule}"
                f"{f' after {config.warmup:g} warm-up epochs' if config.warmup else ''}, seed {config.seed}"
                + "".join(f", {x}" for x in extras))
