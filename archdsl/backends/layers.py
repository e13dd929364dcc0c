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


class WindowAttention(nn.Module):
    """Shifted-window multi-head self-attention on an N x H x W x C map: torchvision's
    ShiftedWindowAttention (Swin, Liu et al. 2021) or, with `v2`, ShiftedWindowAttentionV2 (Swin
    V2, Liu et al. 2022: cosine attention with a learned logit scale, the position bias from an
    MLP of log-spaced relative coordinates). The same tensors under the same names, and the same
    arithmetic as torchvision's shifted_window_attention, so its weights load and give its outputs."""

    def __init__(self, dim: int, window_size: tuple, shift_size: tuple, num_heads: int, v2: bool = False):
        super().__init__()
        self.window_size, self.shift_size, self.num_heads, self.v2 = tuple(window_size), tuple(shift_size), num_heads, v2
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        wh, ww = self.window_size
        device = self.qkv.weight.device  # the fixed tensors are computed on the CPU (on meta some ops are slow)
        if v2:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1), device="cpu")).to(device))
            self.cpb_mlp = nn.Sequential(nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, num_heads, bias=False))
            with torch.no_grad():
                self.qkv.bias[dim:2 * dim].zero_()
            h = torch.arange(-(wh - 1), wh, dtype=torch.float32, device="cpu")
            w = torch.arange(-(ww - 1), ww, dtype=torch.float32, device="cpu")
            table = torch.stack(torch.meshgrid([h, w], indexing="ij")).permute(1, 2, 0).contiguous().unsqueeze(0)
            table[:, :, :, 0] /= wh - 1
            table[:, :, :, 1] /= ww - 1
            table *= 8  # normalised to -8 ... 8, then log-spaced
            table = torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0
            self.register_buffer("relative_coords_table", table.to(device))
        else:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        h, w = torch.arange(wh, device="cpu"), torch.arange(ww, device="cpu")
        coords = torch.flatten(torch.stack(torch.meshgrid(h, w, indexing="ij")), 1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        relative[:, :, 0] += wh - 1
        relative[:, :, 1] += ww - 1
        relative[:, :, 0] *= 2 * ww - 1
        self.register_buffer("relative_position_index", relative.sum(-1).flatten().to(device))

    def forward(self, x):
        wh, ww = self.window_size
        heads, n = self.num_heads, wh * ww
        table = self.cpb_mlp(self.relative_coords_table).view(-1, heads) if self.v2 else self.relative_position_bias_table
        bias = table[self.relative_position_index].view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        if self.v2:
            bias = 16 * torch.sigmoid(bias)
        B, H, W, C = x.shape
        x = nn.functional.pad(x, (0, 0, 0, (ww - W % ww) % ww, 0, (wh - H % wh) % wh))
        _, pad_h, pad_w, _ = x.shape
        sh = 0 if wh >= pad_h else self.shift_size[0]  # no shift where one window holds the whole map
        sw = 0 if ww >= pad_w else self.shift_size[1]
        if sh + sw > 0:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        windows = (pad_h // wh) * (pad_w // ww)
        x = x.view(B, pad_h // wh, wh, pad_w // ww, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B * windows, n, C)
        qkv_bias = self.qkv.bias
        if self.v2:  # no bias for the keys
            qkv_bias = qkv_bias.clone()
            qkv_bias[C:2 * C].zero_()
        qkv = nn.functional.linear(x, self.qkv.weight, qkv_bias)
        qkv = qkv.reshape(x.size(0), n, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.v2:
            attn = nn.functional.normalize(q, dim=-1) @ nn.functional.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.logit_scale, max=4.605170185988092).exp()  # max: log(100)
        else:
            attn = (q * (C // heads) ** -0.5).matmul(k.transpose(-2, -1))
        attn = attn + bias
        if sh + sw > 0:  # -100 between tokens that the roll brought together from different regions
            mask = x.new_zeros((pad_h, pad_w))
            count = 0
            for h in ((0, -wh), (-wh, -sh), (-sh, None)):
                for w in ((0, -ww), (-ww, -sw), (-sw, None)):
                    mask[h[0]:h[1], w[0]:w[1]] = count
                    count += 1
            mask = mask.view(pad_h // wh, wh, pad_w // ww, ww).permute(0, 2, 1, 3).reshape(windows, n)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))
            attn = attn.view(x.size(0) // windows, windows, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, n, n)
        attn = nn.functional.softmax(attn, dim=-1)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), n, C)
        x = nn.functional.linear(x, self.proj.weight, self.proj.bias)
        x = x.view(B, pad_h // wh, pad_w // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, pad_h, pad_w, C)
        if sh + sw > 0:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x[:, :H, :W, :].contiguous()

    def extra_repr(self):
        return f"window_size={self.window_size}, shift_size={self.shift_size}, num_heads={self.num_heads}, v2={self.v2}"


class PatchMerging(nn.Module):
    """Swin's patch merging on an N x H x W x C map (torchvision's PatchMerging; `v2`:
    PatchMergingV2): each 2x2 patch's positions concatenated, LayerNorm(4C) then Linear to 2C
    (v2: Linear, then LayerNorm(2C)). `reduction` is registered before `norm`, as torchvision does."""

    def __init__(self, dim: int, v2: bool = False, eps: float = 1e-5):
        super().__init__()
        self.v2 = v2
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim if v2 else 4 * dim, eps=eps)

    def forward(self, x):
        H, W, _ = x.shape[-3:]
        x = nn.functional.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.norm(self.reduction(x)) if self.v2 else self.reduction(self.norm(x))


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
