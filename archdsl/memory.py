"""Memory over time: buffers, and the peak of live tensor bytes of an inference and of a
training step, from liveness walks over the analysed graph (docs/conventions.md, "Peaks")."""
from __future__ import annotations

from math import prod

from .figures import DTYPE_BYTES, Settings, total
from .ops import OPS, New


def buffer_bytes(graph, s: Settings) -> int:
    """Batch norm's running mean and variance (the model's dtype) and its int64 batch counter."""
    floats, counters = graph.storages.buffers  # summed by the memory pass
    return floats * DTYPE_BYTES[s.dtype] + 8 * counters


def _weights(graph, s: Settings) -> int:
    return total(graph, "params") * DTYPE_BYTES[s.dtype] + buffer_bytes(graph, s)


def storages(graph, s: Settings):
    """graph.storages, or under autocast the storages of its device (passes/memory.py)."""
    if not s.amp:
        return graph.storages
    from .passes.memory import amp_storages

    return amp_storages(graph, s.device)


def _dtype_of(plan, k) -> str:
    return "act" if plan.dtype is None else plan.dtype[k]


def inference_peak(graph, s: Settings) -> int:
    """The peak of live bytes of an eval, no-grad forward: parameters, buffers, and every tensor
    from the layer that creates it to its last reader (outputs and the input to the end). During a
    layer, its temporaries live too: a copied strided input, max pooling's indices, an op's own
    (`Op.temporaries`: LRN's steps, attention's projections and scores, Swin's windows), under autocast a cast of
    its input and of a frozen weight (a trainable weight's cast is cached to the end of the forward)."""
    plan = storages(graph, s)
    nodes = graph.nodes
    B, block = s.batch, s.block
    key, size = plan.eval_key, plan.eval_size
    low = plan.low or [False] * len(nodes)
    element = (s.bytes("act"), s.bytes("low"))  # by whether a tensor is in autocast's lower precision
    act = {k: element[low[k]] for k in size}
    storage_bytes = {k: block(n * act[k] * B) for k, n in size.items()}
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
    casts, weight_casts = plan.casts or {}, plan.weight_casts or {}
    for node in nodes:
        i = node.id
        figures = node.figures
        owns = key[i] == i
        if owns:
            live += storage_bytes[i]
        extra = figures["activations"] - (prod(node.shape) if owns else 0)  # a copied input
        temporaries = block((extra * (act[key[node.inputs[0]]] if extra else 0) + 8 * figures["indices"]) * B)
        shapes = [nodes[j].shape for j in node.inputs]
        op = OPS[node.op]
        steps = None
        if s.amp and node.inputs:  # attention's float32 steps under autocast
            steps = op.amp_temporaries(node.resolved, shapes, node.shape, s.device, low[node.inputs[0]])
        if steps is None:
            steps = op.temporaries(node.resolved, shapes, node.shape)
        if isinstance(steps, tuple):  # `New` tensors in their dtypes, some once per forward
            temporaries += sum(s.tensor_bytes(t.elements, t.per_sample, t.dtype) for t in steps)
        elif steps:
            temporaries += block(steps * element[low[i]] * B)  # an op's own (LRN's steps, attention's projections and scores)
        if i in casts:
            temporaries += block(prod(nodes[node.inputs[0]].shape) * s.bytes(casts[i]) * B)
        if i in weight_casts:
            elements, cached = weight_casts[i]
            if cached:
                live += block(elements * 2)
            else:
                temporaries += block(elements * 2)
        if live + temporaries > peak:
            peak = live + temporaries
        for k in dying.get(i, ()):
            live -= storage_bytes[k]
    return _weights(graph, s) + peak


def train_walk(graph, s: Settings) -> tuple[int, dict]:
    """The peak of live bytes of one training step from scratch (docs/conventions.md, "Peaks"):

    forward: weights and the input throughout; each tensor from its layer to its last forward
    reader, or to the backward of the first layer that saved it; the outputs until the loss
    (`sum()`, whose gradient is a broadcast scalar). Under autocast, a layer's cast of its input
    is such a tensor, and the casts of trainable weights are cached to the end of the forward.
    backward, layers in reverse: a layer's gradient lives from the first consumer that hands it
    one until the layer's own backward, which makes its inputs' gradients (views of its own for
    add, concat, flatten, identity) and its parameters' (kept); a second gradient for a tensor is
    added in place, unless both are shared (views), then into a new one. Under autocast, the
    gradients of its casts (input, weights) live while the float32 ones are made. Then what a
    part of its backward run last holds (`Op.backward_temporaries`).
    optimizer: momentum buffers (a clone of each gradient), Adam's state, made before the update,
    and its temporaries (sqrt and the division: two of the largest parameter tensor on the CPU,
    all parameters at once in CUDA's foreach implementation).
    Returns the peak and what it holds: parameters (and buffers), gradients (of parameters),
    optimizer state, saved activations (kept for backward) and other tensors.
    """
    plan = storages(graph, s)
    nodes = graph.nodes
    B = s.batch
    key, size, copies, inner = plan[:4]
    saved = plan.kept  # what the forward keeps; `inner`: what a checkpointed block keeps when run again
    casts, weight_casts = plan.casts or {}, plan.weight_casts or {}
    low = plan.low or [False] * len(nodes)

    element = {dtype: s.bytes(dtype) for dtype in ("act", "low")}  # a storage's dtype is one of these
    storage_bytes = {k: s.block(n * element[_dtype_of(plan, k)] * B) for k, n in size.items()}

    def nbytes(item) -> int:
        if isinstance(item, New):
            return s.tensor_bytes(item.elements, item.per_sample, item.dtype)
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
    peak, at_peak = 0, None  # at_peak: (gradients, optimizer state, saved, other tensors) then

    def mark(extra_state: int = 0, extra_other: int = 0) -> None:
        nonlocal peak, at_peak
        held = live + extra_state + extra_other
        if held > peak:
            peak = held
            at_peak = (pgrads, extra_state, kept, live - weights - pgrads - kept + extra_other)

    def made_by(node, output: bool = True) -> list:
        i = node.id
        made = [i] if key[i] == i and output else []
        if copies[i] and OPS[node.op].creates_output:
            made.append(("copy", i))
        if i in casts:
            made.append(("cast", i))
        return made

    mark()
    cached = 0  # autocast's cache of trainable weights' casts, not kept for backward
    for node, items in zip(nodes[1:], saved[1:]):
        i = node.id
        made = made_by(node)
        for k in made:
            b = storage_bytes[k]
            live += b
            kept += b if k in freed_by else 0
        weight_kept = 0
        for t in items:
            if isinstance(t, New):
                b = nbytes(t)
                live += b
                kept += b
                weight_kept += b if t.dtype == "low" and not t.per_sample else 0
        transient = 0
        if i in weight_casts:
            elements, trainable = weight_casts[i]
            rest = max(s.block(elements * 2) - weight_kept, 0)
            if trainable:
                cached += rest
                live += rest
            else:
                transient = rest
        if live + transient > peak:
            live += transient
            mark()
            live -= transient
        for k in dying.get(i, ()):
            live -= storage_bytes[k]
    live -= cached  # autocast's cache is cleared when the forward leaves it

    # backward -----------------------------------------------------------------------------
    pbytes = DTYPE_BYTES[s.dtype]

    def grad_bytes(i: int) -> int:
        return s.block(prod(nodes[i].shape) * element["low" if low[i] else "act"] * B)

    triggers = {r.trigger: r for r in plan.regions}
    rerun_frees: dict[int, list] = {}  # a checkpointed layer: what its backward frees of its block's rerun

    def recompute(region) -> None:
        """The block's forward once more, as its first unpack runs it: each tensor from its layer
        to its last reader among the rerun layers, or to the backward of the first that keeps it."""
        nonlocal live, kept
        ids = set(region.rerun)
        first: dict = {}
        for n in region.rerun:
            for item in inner[n]:
                if isinstance(item, New):
                    rerun_frees.setdefault(n, []).append(item)
                elif item not in first and (item[1] if isinstance(item, tuple) else item) in ids:
                    first[item] = n
                    rerun_frees.setdefault(n, []).append(item)
        made = {n: made_by(nodes[n], output=n != region.trigger or region.trigger_runs) for n in region.rerun}
        last = {}
        for n in region.rerun:
            for j in nodes[n].inputs:
                last[key[j]] = n
            for k in made[n]:
                last.setdefault(k, n)
        for n in region.rerun:
            for k in made[n]:
                live += storage_bytes[k]
                kept += storage_bytes[k] if k in first else 0
            for t in inner[n]:
                if isinstance(t, New):
                    live += nbytes(t)
                    kept += nbytes(t)
            mark()
            for k, at in last.items():
                if at == n and k not in first and any(k in made[m] for m in region.rerun):
                    live -= storage_bytes[k]

    def give(node, g: list, view: bool, i: int) -> None:
        """The gradient of input i of `node` (whose own is g): a view of g (`view`), or a new
        tensor; a second gradient of the same tensor is added into the first."""
        nonlocal live
        if view and low[i] == low[node.id]:
            g[1] += 1
            store = g
        else:
            store = [grad_bytes(i), 1]
            live += store[0]
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
            summed = [old[0] if old[0] >= store[0] else store[0], 1]
            live += summed[0]
            for t in (old, store):
                t[1] -= 1
                if t[1] == 0:
                    live -= t[0]
            grads[i] = summed

    def release(node, g: list) -> None:
        """The backward of `node` is done: its incoming gradient g and what it saved are freed."""
        nonlocal live, kept
        g[1] -= 1
        if g[1] == 0:
            live -= g[0]
        rerun = rerun_frees.get(node.id, ())
        for item in (*saved[node.id], *rerun):
            if isinstance(item, New) or freed_by.get(item) == node.id or item in rerun:
                b = nbytes(item)
                live -= b if item != 0 else 0  # the caller holds the input
                kept -= b

    grads: dict[int, list] = {}  # node -> gradient storage [bytes, holders]
    for o in graph.outputs:
        grads[o] = [0, 1]  # sum()'s gradient: a scalar broadcast
    for node in reversed(nodes[1:]):
        g = grads.pop(node.id, None)
        if not node.grad or g is None:
            continue
        if node.id in triggers:
            recompute(triggers[node.id])
        op = OPS[node.op]
        param_grads = node.figures["trainable_params"] * pbytes
        view = op.grad_is_view(node.resolved)
        casting = 0  # the gradients of its casts, which the float32 ones are made from
        if node.id in casts and nodes[node.inputs[0]].grad:
            casting += s.block(prod(nodes[node.inputs[0]].shape) * s.bytes(casts[node.id]) * B)
        if node.id in weight_casts and weight_casts[node.id][1]:
            casting += s.block(node.figures["trainable_params"] * 2)
        live += casting

        cast_input = node.id in casts and nodes[node.inputs[0]].grad
        for n, i in enumerate(node.inputs):
            if nodes[i].grad and not (n == 0 and cast_input):
                give(node, g, view, i)
        if casting:
            # Under autocast the casts are autograd nodes of their own, run after the layer's: it
            # makes the low-precision gradients and frees what it saved, then the casts' backward
            # makes the float32 gradients of its input and weights from them.
            if live > peak:
                mark()
            release(node, g)
            if cast_input:
                give(node, g, view, node.inputs[0])
        live += param_grads
        pgrads += param_grads
        if live > peak:
            mark()
        live -= casting
        if not casting:
            release(node, g)
        # a part of its backward that runs last (Swin V2's position-bias MLP) holds more
        later = sum(map(nbytes, op.backward_temporaries(node.resolved, node.figures["trainable_params"] > 0, bool(s.amp))))
        if live + later > peak:
            live += later
            mark()
            live -= later

    # optimizer step -----------------------------------------------------------------------
    trainable = total(graph, "trainable_params") * pbytes
    if s.optimizer == "momentum":
        mark(extra_state=trainable)
    elif s.optimizer in ("adam", "adamw"):
        from .figures import BY_NAME

        state = sum(BY_NAME["optimizer_bytes"].at(n, s) for n in nodes)
        largest = max((n.figures["trainable_params"] for n in nodes), default=0) * pbytes
        mark(extra_state=state, extra_other=trainable if s.device == "cuda" else 2 * largest)
    if at_peak is None:
        return peak, {}
    return peak, dict(zip(("parameters", "gradients", "optimizer state", "saved activations", "other tensors"),
                          (weights, *at_peak)))


def train_peak(graph, s: Settings) -> int:
    return train_walk(graph, s)[0]
