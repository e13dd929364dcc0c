"""Receptive fields: the size and the stride (jump) of the input region one output element sees.

Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill
2019: through a layer of effective kernel k and stride s, r_out = r_in + (k - 1) * j_in and
j_out = j_in * s. Where paths merge, the largest field wins. Layers that mix every position
(fc, flatten, global pooling) see the whole extent of their input. Jumps become fractions after
upsampling (a transposed conv of stride 2 halves them).
"""
from __future__ import annotations

from fractions import Fraction
from math import ceil

from ..ir import Graph
from ..ops import OPS

RF = tuple  # (sizes, jumps): one number per spatial dimension of the network input


def _exact(value):
    """Whole numbers stay ints (fast); a Fraction only where upsampling made a step fractional."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def receptive_fields(graph: Graph, shapes: list[tuple], resolved: list[dict]) -> list[RF | None]:
    rank = len(shapes[0]) - 1
    if rank == 0:
        return [None] * len(graph.nodes)
    fields: list[RF] = []
    for node in graph.nodes:
        if not node.inputs:
            fields.append(((1,) * rank, (1,) * rank))
            continue
        ins = [fields[i] for i in node.inputs]
        sizes = tuple(max(f[0][d] for f in ins) for d in range(rank))
        jumps = tuple(max(f[1][d] for f in ins) for d in range(rank))
        in_shape = shapes[node.inputs[0]]
        rule = OPS[node.op].window(resolved[node.id], [shapes[i] for i in node.inputs], shapes[node.id])
        if rule is None:
            fields.append((sizes, jumps))
            continue
        kind = rule[0]
        if kind == "global":
            if len(in_shape) == 1:  # already flat: it saw everything
                fields.append((sizes, jumps))
                continue
            kernels, strides = in_shape[1:], in_shape[1:]
            kind = "window"
        elif kind == "adaptive":
            kernels, strides = _adaptive(rule[1], rule[2])
            kind = "window"
        else:
            kernels, strides = rule[1], rule[2]
        if kind == "window":
            fields.append((tuple(r + (k - 1) * j for r, k, j in zip(sizes, kernels, jumps)),
                           tuple(_exact(j * s) for j, s in zip(jumps, strides))))
        elif kind == "transposed":
            fields.append((tuple(r + (-(-k // s) - 1) * j for r, k, s, j in zip(sizes, kernels, strides, jumps)),
                           tuple(_exact(Fraction(j) / s) for j, s in zip(jumps, strides))))
        elif kind == "resample":
            factors, taps = rule[1], rule[2]
            fields.append((tuple(r + (taps - 1) * j for r, j in zip(sizes, jumps)),
                           tuple(_exact(Fraction(j) / f) for j, f in zip(jumps, factors))))
        else:  # pragma: no cover
            raise AssertionError(rule)
    return fields


def _adaptive(n_in: tuple, n_out: tuple) -> tuple[tuple, tuple]:
    """PyTorch's adaptive windows: output i reads [floor(i*n/o), ceil((i+1)*n/o))."""
    kernels, strides = [], []
    for n, o in zip(n_in, n_out):
        widest = max(-(-((i + 1) * n) // o) - (i * n) // o for i in range(min(o, 4096)))
        kernels.append(widest)
        strides.append(Fraction(n, o))
    return tuple(kernels), tuple(strides)


def as_numbers(values) -> list:
    """Sizes round up to whole input positions; strides stay exact (2, or 0.5 after upsampling)."""
    return [v if isinstance(v, int) else float(v) for v in values]


def rf_sizes(field: RF | None) -> list | None:
    return None if field is None else [ceil(v) for v in field[0]]


def rf_strides(field: RF | None) -> list | None:
    return None if field is None else as_numbers(field[1])
