"""Training data: the embedded digits, an .npz file, an image folder or a torchvision data set,
as images of the spec's input size (values in [0, 1]; the loop normalises them on the device).

Every source gives a `Data`: a training and a held-out set, the number of classes, the size the
samples had before resizing, and the per-channel mean and std of the training images.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import UsageError
from ..ops.base import fmt_size, slide_order

DIGITS = Path(__file__).with_name("digits.npz")  # see archdsl/train/DIGITS.md: source and licence
HELD_OUT = 0.2  # the share of an .npz, a folder or the digits kept for validation
SPLIT_SEED = 0  # the held-out split never depends on --seed: runs with different seeds compare
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class Data:
    name: str  # what the summary line calls it: "embedded digits, scikit-learn's 1,797 scans"
    train: Dataset
    val: Dataset
    classes: int
    source_size: str  # the samples' own size, channels last ("8x8x1"), or "various" for a folder
    mean: torch.Tensor  # per channel, of the training images at the spec's size
    std: torch.Tensor
    in_memory: bool  # tensors already in memory: batches are sliced, no worker processes needed


class Arrays(Dataset):
    """Samples held as two tensors. `__getitems__` lets the DataLoader take a whole batch by
    indexing once instead of stacking one sample at a time (`batch_of` passes it through)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __getitems__(self, indices):
        index = torch.as_tensor(indices)
        return self.x[index], self.y[index]


def batch_of(samples):
    """The DataLoader's collate_fn: an `Arrays` batch as it comes, else samples stacked."""
    if isinstance(samples, tuple):
        return samples
    return torch.utils.data.default_collate(samples)


def load(source: str | None, input_shape: tuple, download: bool = True) -> Data:
    """`source`: None or "digits" (the embedded default), a path to an .npz (arrays x, y) or to an
    image folder, or "torchvision:NAME" (MNIST, FashionMNIST, CIFAR10, ...). `input_shape`: the
    spec's, PyTorch order without the batch."""
    if source in (None, "digits"):
        with np.load(DIGITS) as f:
            x, y = f["x"], f["y"]
        return _from_arrays("embedded digits, scikit-learn's 1,797 scans", x.astype(np.float32) / 16, y, input_shape)
    if source.startswith("torchvision:"):
        return _torchvision(source.partition(":")[2], input_shape, download)
    if os.path.isdir(source):
        return _folder(source, input_shape)
    if not os.path.isfile(source):
        raise UsageError(f"--data {source}: no such file or folder",
                         hint="an .npz with arrays x and y, a folder of class folders, or torchvision:MNIST", code="E0801")
    if not source.endswith(".npz"):
        raise UsageError(f"--data {source}: not an .npz file or a folder",
                         hint="an .npz with arrays x and y, a folder of class folders, or torchvision:MNIST", code="E0801")
    try:
        with np.load(source) as f:
            x, y = f["x"], f["y"]
    except KeyError:
        raise UsageError(f"--data {source}: the file needs two arrays, x (the samples) and y (their classes)", code="E0801") from None
    except (OSError, ValueError) as err:
        raise UsageError(f"--data {source}: cannot read it as .npz ({err})", code="E0801") from None
    if len(x) != len(y) or y.ndim != 1:
        raise UsageError(f"--data {source}: x has {len(x)} samples but y is not one class per sample (shape {y.shape})", code="E0801")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise UsageError(f"--data {source}: y must hold class numbers 0, 1, 2, ... (it is {y.dtype})", code="E0801")
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    return _from_arrays(os.path.basename(source), x.astype(np.float32) / scale, y, input_shape)


def _from_arrays(name: str, x: np.ndarray, y: np.ndarray, input_shape: tuple) -> Data:
    """Samples channels last: (N, H, W) grey or (N, H, W, C) images, resized to the spec's input;
    (N, D) vectors, taken as they are."""
    x = torch.from_numpy(np.ascontiguousarray(x))
    if x.ndim == 2:
        size = (x.shape[1],)
        check_fits(input_shape, size, name)
    elif x.ndim in (3, 4):
        x = x.unsqueeze(-1) if x.ndim == 3 else x
        size = tuple(x.shape[1:])
        x = resize(x.permute(0, 3, 1, 2), input_shape, size, name)
    else:
        raise UsageError(f"--data {name}: x has shape {tuple(x.shape)}; write (N, H, W), (N, H, W, C) or (N, D)", code="E0801")
    y = torch.from_numpy(y.astype(np.int64))
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
    cut = len(y) - int(round(len(y) * HELD_OUT))
    train, val = order[:cut], order[cut:]
    xt = x[train]
    dims = [0, *range(2, xt.ndim)]
    mean, std = (xt.mean(dim=dims), xt.std(dim=dims)) if xt.ndim > 2 else (xt.mean(), xt.std())
    return Data(name, Arrays(xt, y[train]), Arrays(x[val], y[val]), int(y.max()) + 1, fmt_size(size),
                mean.reshape(-1), std.clamp_min(1e-6).reshape(-1), in_memory=True)


def check_fits(input_shape: tuple, size: tuple, name: str) -> None:
    """One sentence where the data cannot be made the spec's input. Images are resized, so only
    their channels must match a CxHxW input; vectors must match exactly."""
    spec = fmt_size(slide_order(input_shape))
    if len(size) == 1:
        if tuple(input_shape) != size:
            raise UsageError(f"the spec expects {spec} but the data ({name}) is vectors of {size[0]}",
                             hint=f"--input {size[0]} gives the spec the data's size", code="E0801")
        return
    channels = size[-1]
    if len(input_shape) != 3 or input_shape[0] != channels:
        hint = (f"--input {input_shape[1]}x{input_shape[2]}x{channels} gives the spec the data's {channels} channel"
                f"{'s' if channels != 1 else ''}" if len(input_shape) == 3 else
                f"--input {size[0]}x{size[1]}x{channels} gives the spec image input")
        raise UsageError(f"the spec expects {spec} but the data ({name}) is {fmt_size(size)}: "
                         f"images are resized to the spec's height and width, their channels must match", hint=hint, code="E0801")


def resize(x: torch.Tensor, input_shape: tuple, size: tuple, name: str) -> torch.Tensor:
    """NCHW images to the spec's CxHxW (bilinear; antialiased when they shrink)."""
    check_fits(input_shape, size, name)
    target = tuple(input_shape[1:])
    if tuple(x.shape[2:]) == target:
        return x.contiguous()
    shrink = target[0] < x.shape[2] or target[1] < x.shape[3]
    return F.interpolate(x, size=target, mode="bilinear", align_corners=False, antialias=shrink).contiguous()


class Images(Dataset):
    """An image folder, read lazily (Pillow) and resized to the spec's input."""

    def __init__(self, files: list[tuple[str, int]], input_shape: tuple, name: str):
        self.files, self.input_shape, self.name = files, input_shape, name
        self.mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(input_shape[0]) if len(input_shape) == 3 else None

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i):
        from PIL import Image

        path, label = self.files[i]
        with Image.open(path) as image:
            image = image.convert(self.mode)
            x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).float().div_(255)
        x = x.unsqueeze(-1) if x.ndim == 2 else x
        x = resize(x.permute(2, 0, 1).unsqueeze(0), self.input_shape, tuple(x.shape), self.name)[0]
        return x, label


def _folder(root: str, input_shape: tuple) -> Data:
    try:
        import PIL  # noqa: F401
    except ModuleNotFoundError:
        raise UsageError(f"--data {root}: reading an image folder needs Pillow, which is not installed",
                         hint="pip install 'archdsl[train]'", code="E0801") from None
    classes = sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise UsageError(f"--data {root}: the folder has no sub-folders; put each class's images in a folder of its own", code="E0801")
    files = []
    for label, cls in enumerate(classes):
        for dirpath, _, names in sorted(os.walk(os.path.join(root, cls))):
            files += [(os.path.join(dirpath, n), label) for n in sorted(names) if n.lower().endswith(IMAGE_SUFFIXES)]
    if len(files) < 2:
        raise UsageError(f"--data {root}: found {len(files)} image{'s' if len(files) != 1 else ''} in {len(classes)} class folders", code="E0801")
    if len(input_shape) != 3 or input_shape[0] not in (1, 3, 4):
        raise UsageError(f"the spec expects {fmt_size(slide_order(input_shape))} but the data ({root}) is images",
                         hint="an image spec has an input HxWxC with 1, 3 or 4 channels", code="E0801")
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(SPLIT_SEED)).tolist()
    cut = len(files) - max(1, int(round(len(files) * HELD_OUT)))
    name = os.path.basename(os.path.normpath(root))
    train = Images([files[i] for i in order[:cut]], input_shape, name)
    mean, std = _stats(train)
    return Data(f"{name} ({len(classes)} class folders)", train, Images([files[i] for i in order[cut:]], input_shape, name),
                len(classes), "various", mean, std, in_memory=False)


def _stats(dataset: Dataset, most: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of up to `most` training images (a fixed choice of them)."""
    pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SPLIT_SEED))[:most].tolist()
    x = torch.stack([dataset[i][0] for i in pick])
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)).clamp_min(1e-6)


class _Torchvision(Dataset):
    def __init__(self, base, input_shape: tuple, name: str):
        self.base, self.input_shape, self.name = base, input_shape, name

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        image, label = self.base[i]
        x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).float().div_(255)
        x = x.unsqueeze(-1) if x.ndim == 2 else x
        return resize(x.permute(2, 0, 1).unsqueeze(0), self.input_shape, tuple(x.shape), self.name)[0], int(label)


def _torchvision(name: str, input_shape: tuple, download: bool) -> Data:
    try:
        import torchvision.datasets as tvd
    except ModuleNotFoundError:
        raise UsageError(f"--data torchvision:{name}: torchvision is not installed",
                         hint="pip install torchvision (the version that matches your torch)", code="E0801") from None
    cls = getattr(tvd, name, None)
    if not isinstance(cls, type):
        raise UsageError(f"--data torchvision:{name}: torchvision has no data set {name}",
                         hint="MNIST, FashionMNIST, KMNIST, CIFAR10, CIFAR100, SVHN ...", code="E0801")
    root = os.path.join(os.environ.get("ARCHDSL_DATA", os.path.expanduser("~/.cache/archdsl")), name)
    try:
        if name == "SVHN":
            train, val = cls(root, split="train", download=download), cls(root, split="test", download=download)
        else:
            train, val = cls(root, train=True, download=download), cls(root, train=False, download=download)
    except (OSError, RuntimeError) as err:  # no network, a refused download, a missing file
        raise UsageError(f"--data torchvision:{name}: cannot download or read it into {root} ({err})",
                         hint="download it on a machine with a network and copy the folder here, or set ARCHDSL_DATA", code="E0801") from None
    image = np.asarray(train[0][0])
    size = tuple(image.shape) if image.ndim == 3 else (*image.shape, 1)
    check_fits(input_shape, size, name)
    targets = getattr(train, "targets", None)
    targets = getattr(train, "labels", None) if targets is None else targets
    classes = len(getattr(train, "classes", None) or []) or int(np.max(np.asarray(targets))) + 1
    wrapped = _Torchvision(train, input_shape, name)
    mean, std = _stats(wrapped)
    return Data(f"{name} (torchvision)", wrapped, _Torchvision(val, input_shape, name), classes, fmt_size(size),
                mean, std, in_memory=False)
