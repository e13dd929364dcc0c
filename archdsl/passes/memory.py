"""Memory: what a training-mode forward keeps for backward (node.saved) and where every tensor
lives (storages shared by views and in-place layers), for the memory figures of figures.py.

A storage is named by the node that created it; a view (flatten, crop), an eval dropout, an
identity and an in-place layer live in their input's storage. Each layer's own rule (`Op.saves`)
says which tensors it keeps; a storage kept by several layers counts once, at the first.
"""

from math import prod
from typing import NamedTuple

from ..figures import copies_input
from ..ir import Graph
from ..ops import OPS, OUTPUT, Input, New


def training_storages(graph: Graph) -> tuple[list, dict]:
    """(storage of each node's output in a training forward, elements per sample of each storage).
    A layer that copies a strided input first (fc, groupnorm after a crop) reads the storage
    ("copy", id); a flatten that copies makes its own."""
    nodes = graph.nodes
    # only a strided input can need a copy (copies_input's own first test, without its cost)
    copies = [bool(node.inputs) and nodes[node.inputs[0]].strided is not None and copies_input(graph, node)
              for node in nodes]
    key: list = [None] * len(nodes)
    size: dict = {}
    for node in nodes:
        op = OPS[node.op]
        if not node.inputs:
            key[node.id] = node.id
        elif node.inplace:
            key[node.id] = key[node.inputs[0]]
        elif op.creates_in_training(node.resolved) or (copies[node.id] and not op.creates_output):
            key[node.id] = node.id
        else:
            key[node.id] = key[node.inputs[0]]
        if key[node.id] == node.id:
            size[node.id] = op.cpu_storage(node.resolved, [nodes[i].shape for i in node.inputs], node.shape) or prod(node.shape)
        if copies[node.id] and op.creates_output:
            size[("copy", node.id)] = prod(nodes[node.inputs[0]].shape)
    return key, size, copies


def input_storage(node, key: list, copies: list):
    return ("copy", node.id) if copies[node.id] and OPS[node.op].creates_output else key[node.inputs[0]]


def saved_storages(graph: Graph, key: list, copies: list) -> list[list]:
    """Per node, the storages it keeps for backward: a storage key, or a `New` tensor. Sets
    node.grad: whether the node's output requires grad (the network input does not)."""
    nodes = graph.nodes
    out = []
    for node in nodes:
        trainable = node.figures["trainable_params"] > 0
        grads = tuple([nodes[i].grad for i in node.inputs])
        node.grad = trainable or True in grads
        items = []
        if node.grad:
            ins = [nodes[i].shape for i in node.inputs]
            for item in OPS[node.op].saves(node.resolved, ins, node.shape, node.inplace, trainable, grads):
                if isinstance(item, Input):
                    item = input_storage(node, key, copies) if item.index == 0 else key[node.inputs[item.index]]
                elif item == OUTPUT:
                    item = key[node.id]
                items.append(item)
        out.append(items)
    return out


class Storages(NamedTuple):
    """Where each node's output lives, in a training and in an eval forward (memory.py's walks)."""

    key: list  # training: storage of each node's output
    size: dict  # training: elements per sample of each storage
    copies: list  # whether each node copies its strided input first
    saved: list  # per node, what it keeps for backward: storage keys and New tensors
    eval_key: list
    eval_size: dict
    kept: list = None  # per node, what it keeps once checkpointed blocks keep only their inputs
    regions: tuple = ()  # the checkpointed blocks (Region)
    dtype: dict | None = None  # each storage's dtype ("act" | "low"; None: all "act", no autocast)
    low: list | None = None  # autocast: whether each node's output is in the lower precision
    casts: dict | None = None  # autocast: node -> the dtype it casts its (first) input to, ("cast", id)
    weight_casts: dict | None = None  # autocast: node -> (elements of its weights' low copies, cached)
    buffers: tuple = (0, 0)  # elements of all layers' buffers (`Op.buffers`): in the model's dtype, int64


class Region(NamedTuple):
    """A checkpointed block: the layers its backward runs again (forward order), the layer whose
    backward runs them (the last that keeps a tensor: its first unpack recomputes), and whether
    the trigger's own kernel runs again (it keeps a tensor it makes, not only its inputs)."""

    path: str
    rerun: tuple
    trigger: int
    trigger_runs: bool


def checkpointed(graph: Graph, key: list, items_of: list) -> tuple[list, tuple]:
    """What each node keeps when its checkpointed block keeps only the block's inputs (held by
    torch.utils.checkpoint until the backward of its first layer that keeps a tensor), and the
    blocks. A layer packs a tensor for backward when it saves one or has parameters (its weight)."""
    nodes = graph.nodes
    blocks: dict[str, list[int]] = {}
    for node in nodes:
        if node.checkpoint:
            blocks.setdefault(node.checkpoint, []).append(node.id)
    if not blocks:
        return items_of, ()
    kept = list(items_of)
    regions = []
    for path, ids in blocks.items():
        inside = set(ids)
        packers = [i for i in ids if nodes[i].grad and (items_of[i] or nodes[i].figures["params"])]
        for i in ids:
            kept[i] = []
        if not packers:
            continue
        inputs = []
        for i in ids:
            for j in nodes[i].inputs:
                if j not in inside and key[j] not in inputs:
                    inputs.append(key[j])
        kept[packers[0]] = inputs
        trigger = nodes[packers[-1]]
        ins = [nodes[j].shape for j in trigger.inputs]
        rule = OPS[trigger.op].saves(trigger.resolved, ins, trigger.shape, trigger.inplace,
                                     trigger.figures["trainable_params"] > 0, tuple(nodes[j].grad for j in trigger.inputs))
        runs = any(item == OUTPUT or isinstance(item, New) for item in rule)
        regions.append(Region(path, tuple(i for i in ids if i <= trigger.id), trigger.id, runs))
    return kept, tuple(regions)


def eval_storages(graph: Graph, copies: list, training_size: dict) -> tuple[list, dict]:
    """The storage each node's output lives in during an eval forward, and each storage's
    elements per sample (views, identities, eval dropout and in-place layers share their input's;
    a storage the training forward has too is as large: `training_size`)."""
    key, size, nodes = [], {}, graph.nodes
    for node in nodes:
        op = OPS[node.op]
        own = not node.inputs or (not node.inplace and (op.creates_output or copies[node.id]))
        key.append(node.id if own else key[node.inputs[0]])
        if own:
            size[node.id] = training_size.get(node.id) or (
                op.cpu_storage(node.resolved, [nodes[i].shape for i in node.inputs], node.shape) or prod(node.shape))
    return key, size


def _first_saves(graph: Graph, items_of: list, size: dict, dtype) -> None:
    """(elements, per_sample, dtype) of each tensor a node is the first to keep, per node."""
    kept: set = set()
    out = []
    for items in items_of:
        saved = []
        for item in items:
            if isinstance(item, New):
                saved.append((item.elements, item.per_sample, item.dtype))
            elif item not in kept:
                kept.add(item)
                saved.append((size[item], True, dtype(item)))
        out.append(tuple(saved))
    return out


def mark_saved(graph: Graph) -> None:
    """node.saved: (elements, per_sample, dtype) of each tensor the layer is first to keep for
    backward; node.grad: whether its output requires grad; graph.storages."""
    key, size, copies = training_storages(graph)
    saved_items = saved_storages(graph, key, copies)
    kept, regions = checkpointed(graph, key, saved_items)
    nodes = graph.nodes
    rerun = {i: i != r.trigger or r.trigger_runs for r in regions for i in r.rerun}
    floats = counters = 0
    for node, saved in zip(nodes, _first_saves(graph, kept, size, lambda item: "act")):
        node.saved = saved
        node.amp_saved = {}
        node.recomputed = rerun.get(node.id, False)
        # each gradient a multiply-add layer makes costs its forward again: its input's, its weights'
        grads = (bool(node.inputs) and nodes[node.inputs[0]].grad) + (node.figures["trainable_params"] > 0)
        node.backward_macs = node.figures["macs"] * grads if node.grad else 0
        f, c = OPS[node.op].buffers(node.resolved)
        floats, counters = floats + f, counters + c
    graph.storages = Storages(key, size, copies, saved_items, *eval_storages(graph, copies, size), kept, regions,
                              buffers=(floats, counters))
    graph.amp_storages = {}


def amp_storages(graph: Graph, device: str) -> Storages:
    """The storages of a training forward under torch.autocast on `device` (docs/conventions.md,
    "Mixed precision"), made once per device when asked: each storage's dtype (float32 or the
    lower precision), the casts of inputs a layer makes (("cast", id), what it then reads and
    keeps), the lower-precision copies of weights, and node.amp_saved[device]."""
    if device in graph.amp_storages:
        return graph.amp_storages[device]
    base, nodes = graph.storages, graph.nodes
    low = [False] * len(nodes)
    casts, weight_casts = {}, {}
    for node in nodes[1:]:
        rule = OPS[node.op].amp(node.resolved, [nodes[i].shape for i in node.inputs], device)
        first = low[node.inputs[0]]
        if rule == "lower":
            low[node.id] = True
            if not first:
                casts[node.id] = "low"
            if node.figures["params"]:
                weight_casts[node.id] = (node.figures["params"], node.figures["trainable_params"] > 0)
        elif rule == "float32":
            if first:
                casts[node.id] = "act"
        elif rule is None:  # a mul merge multiplies its first two inputs into a new tensor, the others into it
            ins = node.inputs[:2] if OPS[node.op].lowering.call == "mul" else node.inputs
            low[node.id] = first if node.inplace else all(low[i] for i in ins)
    size = dict(base.size)
    dtype = {k: ("low" if low[k if isinstance(k, int) else nodes[k[1]].inputs[0]] else "act") for k in size}
    for i, to in casts.items():
        size[("cast", i)] = prod(nodes[nodes[i].inputs[0]].shape)
        dtype[("cast", i)] = to
    saved = []
    for node, items in zip(nodes, base.saved):
        mine = []
        if node.grad and node.inputs:
            own = OPS[node.op].amp_saves(node.resolved, [nodes[i].shape for i in node.inputs], node.shape,
                                         node.figures["trainable_params"] > 0, tuple(nodes[i].grad for i in node.inputs),
                                         device, low[node.inputs[0]])
            if own is not None:
                items, mine = (), list(own)
        for item in items:
            if isinstance(item, New):
                if item.dtype == "act" or (item.dtype == "mask" and device != "cuda"):
                    item = New(item.elements, "low" if low[node.id] else "act", item.per_sample)
            elif node.id in casts and node.inputs and item == input_storage(node, base.key, base.copies):
                item = ("cast", node.id)
            mine.append(item)
        if node.id in weight_casts and node.grad:
            grads = tuple(nodes[i].grad for i in node.inputs)
            kept = OPS[node.op].amp_kept_weights(node.resolved, grads)
            if kept:
                mine.append(New(kept, "low", per_sample=False))
        saved.append(mine)
    kept, _ = checkpointed(graph, base.key, saved)
    plan = base._replace(size=size, saved=saved, kept=kept, dtype=dtype, low=low, casts=casts, weight_casts=weight_casts)
    for node, items in zip(nodes, _first_saves(graph, kept, size, dtype.__getitem__)):
        node.amp_saved[device] = items
    graph.amp_storages[device] = plan
    return plan
