"""Layers archdsl needs that torch.nn does not have. `archdsl build -o model.py` copies their
source into the file it writes, so these classes must stay self-contained (torch and nn only)."""
import torch
from torch import nn


def filled(shape: tuple, init: float) -> nn.Parameter:
    """A learned tensor of `shape`, every element `init` (ConvNeXt's layer scale)."""
    return nn.Parameter(torch.full(tuple(shape), float(init)))


def normal(shape: tuple, std: float) -> nn.Parameter:
    """A learned tensor of `shape`, drawn from N(0, std²) (ViT's position embedding, std 0.02)."""
    return nn.Parameter(torch.empty(tuple(shape)).normal_(std=float(std)))


def prepend(token: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A learned token (1 x 1 x D) in front of every sequence of the batch (ViT's class token)."""
    return torch.cat([token.expand(x.shape[0], -1, -1), x], dim=1)


class Maxout(nn.Module):
    """The maximum over groups of `pieces` consecutive channels (Goodfellow et al. 2013)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        return x.unflatten(1, (-1, self.pieces)).amax(2)

    def extra_repr(self):
        return f"pieces={self.pieces}"


class Crop(nn.Module):
    """The centre of a feature map (U-Net's "copy and crop"); a view of its input."""

    def __init__(self, offset: tuple, size: tuple):
        super().__init__()
        self.offset, self.size = tuple(offset), tuple(size)

    def forward(self, x):
        for dim, (o, s) in enumerate(zip(self.offset, self.size), start=2):
            x = x.narrow(dim, o, s)
        return x

    def extra_repr(self):
        return f"offset={self.offset}, size={self.size}"


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth (Huang et al. 2016): in training, the input zeroed with
    probability p per sample ("row") or for the whole batch ("batch"), the rest scaled by
    1 / (1 - p); the identity in eval mode."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"


class Chunk(nn.Module):
    """Part `index` of the channels cut into `chunks` (torch.chunk); a view of its input."""

    def __init__(self, chunks: int, index: int):
        super().__init__()
        self.chunks, self.index = chunks, index

    def forward(self, x):
        return x.chunk(self.chunks, 1)[self.index]

    def extra_repr(self):
        return f"chunks={self.chunks}, index={self.index}"


class Permute(nn.Module):
    """torch.permute with the batch first (torchvision.ops.Permute); a view of its input."""

    def __init__(self, dims: tuple):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x):
        return x.permute(self.dims)

    def extra_repr(self):
        return f"dims={self.dims}"


class LayerNorm2d(nn.LayerNorm):
    """Layer normalisation over the channels at each position of an N x C x ... map
    (torchvision's ConvNeXt LayerNorm2d): channels last, layer_norm, channels first again."""

    def __init__(self, num_channels: int, eps: float = 1e-5, elementwise_affine: bool = True):
        super().__init__(num_channels, eps=eps, elementwise_affine=elementwise_affine)

    def forward(self, x):
        x = x.movedim(1, -1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)


class Tokens(nn.Module):
    """An N x C x ... map as N sequences of tokens, features last: `x.flatten(2).transpose(1, 2)`,
    what torchvision's ViT does to its patches (reshape, then permute); a view of its input."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class Select(nn.Module):
    """The token at `index` of each sequence, `x[:, index]` (ViT's class token); a view."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index]

    def extra_repr(self):
        return f"index={self.index}"


class SelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention as torchvision's ViT calls it: batch first, query = key = value = the
    input, no attention weights (the same parameters and state_dict keys: in_proj_weight,
    in_proj_bias, out_proj.weight, out_proj.bias)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=True)

    def forward(self, x):
        return super().forward(x, x, x, need_weights=False)[0]
