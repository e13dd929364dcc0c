"""Memory over time: buffers, and the peak of live tensor bytes of an inference and of a
training step, from liveness walks over the analysed graph (docs/conventions.md, "Peaks")."""
from __future__ import annotations

from math import prod

from .figures import DTYPE_BYTES, Settings
from .ops import OPS, New


def buffer_bytes(graph, s: Settings) -> int:
    """Batch norm's running mean and variance (the model's dtype) and its int64 batch counter."""
    total = 0
    for node in graph.nodes:
        floats, counters = OPS[node.op].buffers(node.resolved)
        total += floats * DTYPE_BYTES[s.dtype] + 8 * counters
    return total


def _weights(graph, s: Settings) -> int:
    return sum(n.figures["params"] for n in graph.nodes) * DTYPE_BYTES[s.dtype] + buffer_bytes(graph, s)


def inference_peak(graph, s: Settings) -> int:
    """The peak of live bytes of an eval, no-grad forward: parameters, buffers, and every tensor
    from the layer that creates it to its last reader (outputs and the input to the end). During a
    layer, its temporaries live too: a copied strided input, max pooling's indices, an op's own
    (`Op.temporaries`: LRN's steps, attention's projections and scores)."""
    act = DTYPE_BYTES[s.dtype]
    nodes = graph.nodes
    key, size = graph.storages.eval_key, graph.storages.eval_size
    last = {k: len(nodes) if k == 0 else k for k in size}
    for node in nodes:  # in order: a reader comes after what it reads
        for i in node.inputs:
            if key[i] != 0:  # the input lives to the end
                last[key[i]] = node.id
    for o in graph.outputs:
        last[key[o]] = len(nodes)
    dying: dict[int, list] = {}
    for k, end in last.items():
        dying.setdefault(end, []).append(k)
    live = peak = 0
    for node in nodes:
        if key[node.id] == node.id:
            live += s.block(size[node.id] * act * s.batch)
        extra = node.figures["activations"] - (size[node.id] if key[node.id] == node.id else 0)  # a copied input
        temporaries = extra * act + 8 * node.figures["indices"]
        temporaries += OPS[node.op].temporaries(node.resolved, [nodes[i].shape for i in node.inputs], node.shape) * act
        peak = max(peak, live + s.block(temporaries * s.batch))
        for k in dying.get(node.id, ()):
            live -= s.block(size[k] * act * s.batch)
    return _weights(graph, s) + peak


def train_walk(graph, s: Settings) -> tuple[int, dict]:
    """The peak of live bytes of one training step from scratch (docs/conventions.md, "Peaks"):

    forward: weights and the input throughout; each tensor from its layer to its last forward
    reader, or to the backward of the first layer that saved it; the outputs until the loss
    (`sum()`, whose gradient is a broadcast scalar).
    backward, layers in reverse: a layer's gradient lives from the first consumer that hands it
    one until the layer's own backward, which makes its inputs' gradients (views of its own for
    add, concat, flatten, identity) and its parameters' (kept); a second gradient for a tensor is
    added in place, unless both are shared (views), then into a new one.
    optimizer: momentum buffers (a clone of each gradient), Adam's state, made before the update,
    and its temporaries (sqrt and the division: two of the largest parameter tensor on the CPU,
    all parameters at once in CUDA's foreach implementation).
    Returns the peak and what it holds: parameters (and buffers), gradients (of parameters),
    optimizer state, saved activations (kept for backward) and other tensors.
    """
    nodes = graph.nodes
    act, B = DTYPE_BYTES[s.dtype], s.batch
    key, size, copies, saved = graph.storages[:4]

    storage_bytes = {k: s.block(n * act * B) for k, n in size.items()}

    def nbytes(item) -> int:
        if isinstance(item, New):
            return s.block(item.elements * (B if item.per_sample else 1) * s.bytes(item.dtype))
        return storage_bytes[item]

    # forward ------------------------------------------------------------------------------
    end = len(nodes)
    last_read = {k: (end if k == 0 else (k[1] if isinstance(k, tuple) else k)) for k in size}
    for node in nodes:  # in order: a reader comes after what it reads
        for i in node.inputs:
            if key[i] != 0:  # the input lives to the end
                last_read[key[i]] = node.id
        if copies[node.id] and OPS[node.op].creates_output:
            last_read[("copy", node.id)] = node.id
    for o in graph.outputs:
        last_read[key[o]] = max(last_read[key[o]], end - 1)
    freed_by = {}  # a saved storage: the layer whose backward frees it (its first saver)
    for node, items in zip(nodes, saved):
        for item in items:
            if not isinstance(item, New):
                freed_by.setdefault(item, node.id)
    dying: dict[int, list] = {}
    for k, at in last_read.items():
        if k not in freed_by and k != 0:
            dying.setdefault(at, []).append(k)
    weights = _weights(graph, s)
    live = weights + nbytes(0)
    kept = nbytes(0) if 0 in freed_by else 0  # live bytes of saved tensors
    pgrads = 0
    peak, parts = 0, {}

    def mark(extra_state: int = 0, extra_other: int = 0) -> None:
        nonlocal peak, parts
        total = live + extra_state + extra_other
        if total > peak:
            peak = total
            parts = {"parameters": weights, "gradients": pgrads, "optimizer state": extra_state,
                     "saved activations": kept, "other tensors": live - weights - pgrads - kept + extra_other}

    mark()
    for node, items in zip(nodes[1:], saved[1:]):
        i = node.id
        made = [i] if key[i] == i else []
        if copies[i] and OPS[node.op].creates_output:
            made.append(("copy", i))
        for k in made:
            b = storage_bytes[k]
            live += b
            kept += b if k in freed_by else 0
        for t in items:
            if isinstance(t, New):
                b = nbytes(t)
                live += b
                kept += b
        if live > peak:
            mark()
        for k in dying.get(i, ()):
            live -= storage_bytes[k]

    # backward -----------------------------------------------------------------------------
    pbytes = DTYPE_BYTES[s.dtype]
    grads: dict[int, list] = {}  # node -> gradient storage [bytes, holders]
    for o in graph.outputs:
        grads[o] = [0, 1]  # sum()'s gradient: a scalar broadcast
    for node in reversed(nodes[1:]):
        g = grads.pop(node.id, None)
        if not node.grad or g is None:
            continue
        made = []
        param_grads = node.figures["trainable_params"] * pbytes
        view = OPS[node.op].grad_is_view(node.resolved)
        for i in node.inputs:
            if not nodes[i].grad:
                continue
            if view:
                g[1] += 1
                store = g
            else:
                store = [s.block(prod(nodes[i].shape) * act * B), 1]
                live += store[0]
                made.append(store)
            old = grads.get(i)
            if old is None:
                grads[i] = store
            elif old[1] == 1 or store[1] == 1:  # added in place into the one that is not shared
                keep, drop = (old, store) if old[1] == 1 else (store, old)
                drop[1] -= 1
                if drop[1] == 0:
                    live -= drop[0]
                grads[i] = keep
            else:
                total = [old[0] if old[0] >= store[0] else store[0], 1]
                live += total[0]
                for t in (old, store):
                    t[1] -= 1
                    if t[1] == 0:
                        live -= t[0]
                grads[i] = total
        live += param_grads
        pgrads += param_grads
        if live > peak:
            mark()
        g[1] -= 1
        if g[1] == 0:
            live -= g[0]
        for item in saved[node.id]:
            if isinstance(item, New) or freed_by.get(item) == node.id:
                b = nbytes(item)
                live -= b if item != 0 else 0  # the caller holds the input
                kept -= b

    # optimizer step -----------------------------------------------------------------------
    trainable = sum(n.figures["trainable_params"] for n in nodes) * pbytes
    largest = max((n.figures["trainable_params"] for n in nodes), default=0) * pbytes
    if s.optimizer == "momentum":
        mark(extra_state=trainable)
    elif s.optimizer in ("adam", "adamw"):
        from .figures import BY_NAME

        state = sum(BY_NAME["optimizer_bytes"].at(n, s) for n in nodes)
        mark(extra_state=state, extra_other=trainable if s.device == "cuda" else 2 * largest)
    return peak, parts


def train_peak(graph, s: Settings) -> int:
    return train_walk(graph, s)[0]
