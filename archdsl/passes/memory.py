"""Memory: what a training-mode forward keeps for backward (node.saved) and where every tensor
lives (storages shared by views and in-place layers), for the memory figures of figures.py.

A storage is named by the node that created it; a view (flatten, crop), an eval dropout, an
identity and an in-place layer live in their input's storage. Each layer's own rule (`Op.saves`)
says which tensors it keeps; a storage kept by several layers counts once, at the first.
"""
from __future__ import annotations

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
            size[node.id] = prod(node.shape)
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
        grads = tuple(nodes[i].grad for i in node.inputs)
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


def eval_storages(graph: Graph, copies: list) -> tuple[list, dict]:
    """The storage each node's output lives in during an eval forward, and each storage's
    elements per sample (views, identities, eval dropout and in-place layers share their input's)."""
    key, size = [], {}
    for node in graph.nodes:
        op = OPS[node.op]
        own = not node.inputs or (not node.inplace and (op.creates_output or copies[node.id]))
        key.append(node.id if own else key[node.inputs[0]])
        if own:
            size[node.id] = prod(node.shape)
    return key, size


def mark_saved(graph: Graph) -> None:
    """node.saved: (elements, per_sample, dtype) of each tensor the layer is first to keep for
    backward; node.grad: whether its output requires grad; graph.storages."""
    key, size, copies = training_storages(graph)
    saved_items = saved_storages(graph, key, copies)
    graph.storages = Storages(key, size, copies, saved_items, *eval_storages(graph, copies))
    kept: set = set()
    for node, items in zip(graph.nodes, saved_items):
        saved = []
        for item in items:
            if isinstance(item, New):
                saved.append((item.elements, item.per_sample, item.dtype))
            elif item not in kept:
                kept.add(item)
                saved.append((size[item], True, "act"))
        node.saved = tuple(saved)
