"""Does the input pipeline of `archdsl train` starve the model? Training images/s on the CPU with
real data against the same steps on synthetic tensors already in memory.

    python bench/bench_train.py [--spec specs/lenet5.arch] [--epochs 3] [--threads 2]

Sources: the embedded digits (in memory: batches sliced from one tensor) and the same digits as
an image folder of PNG files (Pillow decodes and resizes each image on every access), the folder
with 0 and 2 loader processes. Each row: the pipeline alone (images/s with no model), and a
training step (forward, backward, Adam) fed by it or by a synthetic batch. Markdown to stdout.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import archdsl  # noqa: E402
from archdsl.train import data as datasets  # noqa: E402
from archdsl.train.distributed import Sampler, World  # noqa: E402


def loader_for(data, batch, workers):
    sampler = Sampler(data.train, World(), batch, seed=0)
    return DataLoader(data.train, batch_size=batch, sampler=sampler, collate_fn=datasets.batch_of,
                      num_workers=workers, persistent_workers=workers > 0)


def pipeline_alone(loader, epochs):
    n, start = 0, time.perf_counter()
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        for x, _ in loader:
            n += len(x)
    return n / (time.perf_counter() - start)


def training(model, batches, mean, std, epochs, set_epoch=None):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n, start = 0, time.perf_counter()
    for epoch in range(epochs):
        if set_epoch:
            set_epoch(epoch)
        for x, y in batches:
            x = (x - mean) / std
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n += len(x)
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", default="specs/lenet5.arch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = archdsl.load(args.spec)
    shape = net.analyze().input_shape
    digits = datasets.load(None, shape)
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        with np.load(datasets.DIGITS) as f:
            x, y = f["x"], f["y"]
        for i in range(len(y)):
            os.makedirs(os.path.join(tmp, str(y[i])), exist_ok=True)
            Image.fromarray((x[i] * 15).astype(np.uint8)).save(os.path.join(tmp, str(y[i]), f"{i}.png"))
        folder = datasets.load(tmp, shape)
        rows = []
        for name, data, workers in (("digits in memory", digits, 0), ("PNG folder, 0 workers", folder, 0),
                                    ("PNG folder, 2 workers", folder, 2)):
            loader = loader_for(data, args.batch, workers)
            alone = pipeline_alone(loader, args.epochs)
            mean, std = data.mean.reshape(1, -1, 1, 1), data.std.reshape(1, -1, 1, 1)
            torch.manual_seed(0)
            real = training(net.build(), loader, mean, std, args.epochs, loader.sampler.set_epoch)
            steps = len(loader)
            synthetic_batches = [(torch.rand(args.batch, *shape), torch.randint(0, 10, (args.batch,)))] * steps
            torch.manual_seed(0)
            synthetic = training(net.build(), synthetic_batches, mean, std, args.epochs)
            rows.append((name, alone, real, synthetic))
    print(f"{net.name}, batch {args.batch}, {args.epochs} epochs of {len(digits.train):,} training images, "
          f"{args.threads} threads, torch {torch.__version__}\n")
    print("| data | pipeline alone (img/s) | training on it (img/s) | training on synthetic tensors (img/s) | real / synthetic |")
    print("|---|---:|---:|---:|---:|")
    for name, alone, real, synthetic in rows:
        print(f"| {name} | {alone:,.0f} | {real:,.0f} | {synthetic:,.0f} | {real / synthetic:.2f} |")


if __name__ == "__main__":
    main()
