"""Storage: which layers run in place, and which outputs are strided views (a crop's slice)."""
from __future__ import annotations

from ..figures import flat_view_stride
from ..ir import Graph
from ..ops import OPS


def mark_in_place(graph: Graph) -> None:
    """A layer overwrites its (first) input only when nothing else reads that tensor: every node
    from it back to the layer that created the storage has exactly one reader, none of them is the
    network input or an output, none keeps its output for the backward pass (a relu after a
    sigmoid, or after another relu, must not overwrite what autograd saved), and none is a view
    autograd forbids writing into (a chunk's).
    """
    readers = graph.consumers()
    outputs = set(graph.outputs)
    nodes = graph.nodes
    for node in nodes:
        node.inplace = False
        if not OPS[node.op].inplace:
            continue
        nxt, cur = node.id, node.inputs[0]
        safe = True
        while True:
            prev = nodes[cur]
            if (cur == 0 or cur in outputs or readers[cur] != [nxt] or OPS[prev.op].saves_output
                    or OPS[prev.op].no_inplace_after):
                safe = False
                break
            if OPS[prev.op].creates_output and not prev.inplace:
                break
            nxt, cur = cur, prev.inputs[0]
        node.inplace = safe


def contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def mark_strided(graph: Graph) -> None:
    """node.strided: the strides (batch left out) of an output that is a non-contiguous view,
    else None. A crop returns a slice of its input, with its input's strides; views and in-place
    layers keep their input's layout; `permute` views its input with the strides reordered and
    `layernorm2d` writes its output channels last, as torchvision's LayerNorm2d returns it (an
    op's `layout`); every other layer writes a new, contiguous tensor (a layer whose op
    `copies_strided_input` copies a strided input first: figures.py counts the copy)."""
    nodes = graph.nodes
    for node in nodes:
        op = OPS[node.op]
        src = nodes[node.inputs[0]] if node.inputs else None
        if src is None:
            node.strided = None
        elif op.slices:
            cut = node.shape != src.shape
            node.strided = (src.strided or contiguous_strides(src.shape)) if cut or src.strided else None
        elif op.layout is not None:  # a permuted view (permute), or a new tensor in a permuted layout (layernorm2d)
            strides = op.layout(node.resolved, src.strided or contiguous_strides(src.shape), node.shape)
            node.strided = None if flat_view_stride(node.shape, strides) == 1 else strides  # size-1 dimensions aside, contiguous
        elif node.inplace or not (op.creates_output or op.copies_strided_input):
            node.strided = src.strided
        elif op.copies_strided_input == "view" and not op.creates_output and src.strided:
            # flatten as a view of a slice: a vector with a stride, unless it had to copy
            step = flat_view_stride(src.shape, src.strided)
            node.strided = (step,) if step not in (None, 1) else None
        else:
            node.strided = None


def storage(graph: Graph) -> None:
    mark_in_place(graph)
    mark_strided(graph)
