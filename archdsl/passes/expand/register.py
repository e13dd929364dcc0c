"""`register a, b, ...`: the scope's children a, b, ... come first in its module, in this order,
and the others after them in the order they run: how a spec states torchvision's order where
PyTorch registers a child before one that runs earlier (Swin V2's block registers `norm1` before
`attn`, which runs first). The order is the built module's and its `state_dict`'s."""
from __future__ import annotations

from ...errors import ExpandError, Span, did_you_mean
from ...ir import Graph
from ...ops import OPS


def apply_registrations(graph: Graph, registrations: list[tuple[str, tuple[tuple[str, Span], ...], Span]]) -> None:
    """Record each scope's order on the graph, once every layer exists: each name must be a module
    of that scope (a layer with a module, or a group holding one)."""
    if not registrations:
        return
    children: dict[str, set[str]] = {}
    for node in graph.nodes[1:]:
        if OPS[node.op].lowering.call != "module":
            continue
        parts = node.name.split(".")
        for i in range(len(parts)):
            children.setdefault(".".join(parts[:i]), set()).add(parts[i])
    for path, names, span in registrations:
        own = children.get(path, set())
        for name, where in names:
            if name not in own:
                scope = f"'{path}'" if path else "the network"
                raise ExpandError(f"register names '{name}', but {scope} has no module of that name", where,
                                  did_you_mean(name, own), code="E0311")
        order = tuple(dict.fromkeys(name for name, _ in names))
        if graph.registration.get(path, order) != order:
            raise ExpandError(f"{'scope ' + repr(path) if path else 'the network'} is given two orders to register", span, code="E0311")
        graph.registration[path] = order
