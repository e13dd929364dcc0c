"""IR -> readable, standalone PyTorch source (`archdsl build -o model.py`).

The file imports only `torch` and `torch.nn`: one `nn.Module` class per block call or named group
(identical ones, same layers and same constructor arguments, share a class), a class for the
network, and straight-line `forward` methods with the shapes in comments (HxWxC, as the slides
write them). Submodules sit at the analysis names and are registered in the order
`backends.torch.to_graph_module` registers them, so the `state_dict` (keys, shapes, order) is the
built module's and its weights load with `strict=True`.

It imports torch only to copy the source of the two layers torch.nn lacks (backends/layers.py).
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from math import prod

from ..ir import Graph
from ..ops import OPS
from ..ops.base import slide_order
from ..ops.lowering import ALWAYS, Lowering

# classes of backends/layers.py that ops lower to: the file copies them, so no block class may take their names
PROJECT_LAYERS = {op.lowering.layer for op in OPS.values()
                  if op.lowering and op.lowering.layer and not op.lowering.layer.startswith("nn.")}
_RESERVED = {"self", "torch", "nn", "getattr", "super"}


def _helper_source(name: str) -> str:
    """The source of a class of backends/layers.py, copied into the file (it imports torch)."""
    import inspect

    from . import layers

    return inspect.getsource(getattr(layers, name))


# --------------------------------------------------------------------------- layer constructors

def _lit(value) -> str:
    """A Python literal; a tuple of equal numbers is written once (3, not (3, 3))."""
    if isinstance(value, tuple):
        if value and len(set(value)) == 1:
            return _lit(value[0])
        return "(" + ", ".join(_lit(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _same(value, default) -> bool:
    """Whether PyTorch's default gives the same layer (3 and (3, 3) do; True and 1 do not)."""
    if default is ALWAYS:
        return False
    if isinstance(value, tuple) and not isinstance(default, tuple):
        return all(v == default for v in value) and type(value[0]) is type(default)
    return value == default and type(value) is type(default)


def layer_source(lowering: Lowering, resolved: dict, inplace: bool) -> str:
    """The constructor call of one layer: the op's lowering, printed as `backends.torch.make_layer`
    instantiates it. Positional arguments first, keywords only where they differ from PyTorch's
    defaults."""
    parts = []
    for param, value in lowering.arguments(resolved):
        text = repr(value) if param.form == "tuple" else _lit(value)
        if param.positional:
            parts.append(text)
        elif not _same(value, param.default):
            parts.append(f"{param.name}={text}")
    if lowering.inplace and inplace:
        parts.append("inplace=True")
    return f"{lowering.layer_name(resolved)}({', '.join(parts)})"


# --------------------------------------------------------------------------- scopes

@dataclass
class _Scope:
    path: str
    label: str = ""
    kind: str = "group"
    parent: str = ""
    groups: list = field(default_factory=list)  # the paths of the groups right inside it
    children: list = field(default_factory=list)  # ("leaf", name) | ("scope", path), registration order
    direct: list = field(default_factory=list)  # ids of the nodes it holds itself (not through a child), in order
    size: int = 0  # nodes in the subtree
    first: int = -1  # the lowest and highest node id in the subtree
    last: int = -1
    layers: int = 0  # modules (not merges) in the subtree, and how many of them are frozen
    frozen: int = 0
    inputs: list = field(default_factory=list)  # tensors from outside that its nodes read, in the order they read them
    outputs: list = field(default_factory=list)  # its tensors read outside it or returned by the network, by id
    convex: bool = True
    cls: str = ""
    # numbers of a depth-first walk of the group tree: the subtree of a scope is numbered [walk, walk_end]
    walk: int = 0
    walk_end: int = 0


def _local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _is_ident(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name not in _RESERVED


def _attr(base: str, parts) -> str:
    expr = base
    for part in parts:
        expr = f"{expr}.{part}" if _is_ident(part) else f"getattr({expr}, {part!r})"
    return expr


def _camel(name: str) -> str:
    words = [w for w in "".join(c if c.isalnum() else " " for c in name).split() if w]
    text = "".join(w[:1].upper() + w[1:] for w in words)
    if not text:
        return ""
    return text if text[0].isalpha() else "Net" + text


def _is_merge(node) -> bool:
    return OPS[node.op].lowering.call != "module"


class _Scopes:
    """One _Scope per group of the IR's hierarchy ("" is the network), and the scope that holds
    each node directly. Every question the emitter asks of them takes time proportional to the
    nodes and edges it concerns, never to a scope's whole subtree: that would make a deep
    hierarchy quadratic."""

    def __init__(self, graph: Graph):
        tree = graph.hierarchy()
        self.graph = graph
        self.owner = tree.node_parent  # by node id: the scope that holds it directly
        self.by_path = {"": _Scope("", graph.name, "network")}
        for path, info in graph.groups.items():
            self.by_path[path] = _Scope(path, info.label, info.kind, tree.group_parent[path])
        for path, scope in self.by_path.items():
            if path:
                self.by_path[scope.parent].groups.append(path)
        self.preorder = self._number()
        self.node_walk = [self.by_path[path].walk for path in self.owner]  # by node id: its scope's number
        self._measure()

    def __getitem__(self, path: str) -> _Scope:
        return self.by_path[path]

    def holds(self, scope: _Scope, node_id: int) -> bool:
        """Whether node `node_id` belongs to `scope`, directly or through one of its groups."""
        return scope.walk <= self.node_walk[node_id] <= scope.walk_end

    def above(self, path: str):
        """`path` and the scopes around it, innermost first, "" (the network) excluded."""
        while path:
            yield self.by_path[path]
            path = self.by_path[path].parent

    def _number(self) -> list[_Scope]:
        """Number the scopes in a depth-first walk; a scope's subtree gets consecutive numbers."""
        order, stack = [], [""]
        while stack:
            scope = self.by_path[stack.pop()]
            scope.walk = len(order)
            order.append(scope)
            stack.extend(reversed(scope.groups))
        for scope in reversed(order):
            scope.walk_end = max([scope.walk] + [self.by_path[g].walk_end for g in scope.groups])
        return order

    def _measure(self) -> None:
        """Each scope's own nodes, and its subtree's size, node id range and (frozen) layers."""
        for node in self.graph.nodes[1:]:
            scope = self.by_path[self.owner[node.id]]
            scope.direct.append(node.id)
            scope.size += 1
            scope.first = node.id if scope.first < 0 else scope.first
            scope.last = node.id
            if not _is_merge(node):
                scope.layers += 1
                scope.frozen += node.frozen
        for scope in reversed(self.preorder):  # children before their parent
            if not scope.path or not scope.size:
                continue
            parent = self.by_path[scope.parent]
            parent.size += scope.size
            parent.first = scope.first if parent.first < 0 else min(parent.first, scope.first)
            parent.last = max(parent.last, scope.last)
            parent.layers += scope.layers
            parent.frozen += scope.frozen


def _register_children(graph: Graph, scopes: _Scopes) -> None:
    """Each scope's children (its layers and groups) in registration order: the first node that
    installs a module under each child, layers before merges."""
    first: dict[str, dict] = {scope.path: {} for scope in scopes.preorder}
    for node in graph.nodes[1:]:
        merge = _is_merge(node)
        order = (merge, node.id)
        path = scopes.owner[node.id]
        child = None if merge else ("leaf", node.name)
        while True:
            if child is not None:
                known = first[path].get(child)
                if known is not None and known < order:
                    break  # the scopes above hold an order at least as early for this branch already
                first[path][child] = order
            if not path:
                break
            child, path = ("scope", path), scopes[path].parent
    for path, orders in first.items():
        scopes[path].children = sorted(orders, key=orders.get)


def _boundaries(graph: Graph, scopes: _Scopes, readers: list[list[int]]) -> None:
    """Each scope's inputs and outputs, from one walk over the edges: an edge adds its tensor to
    the scopes it enters (or leaves), innermost first, and stops where an outer scope has it already."""
    entered = set()  # (path, node id)
    for node in graph.nodes[1:]:
        for j in node.inputs:
            for scope in scopes.above(scopes.owner[node.id]):
                if scopes.holds(scope, j) or (scope.path, j) in entered:
                    break
                entered.add((scope.path, j))
                scope.inputs.append(j)
    returned = set(graph.outputs)
    for node in graph.nodes[1:]:
        left = scopes.above(scopes.owner[node.id])  # one walk up for all readers: each leaves a prefix of it
        scope = next(left, None)
        for r in readers[node.id]:
            while scope is not None and not scopes.holds(scope, r):
                scope.outputs.append(node.id)
                scope = next(left, None)
        if node.id in returned:
            while scope is not None:
                scope.outputs.append(node.id)
                scope = next(left, None)


def _convexity(graph: Graph, scopes: _Scopes, readers: list[list[int]]) -> None:
    """A scope is called as one function only when no path leaves it and comes back. Node ids are
    a topological order, so such a path passes through a node of another scope numbered between
    the scope's first and last: a scope whose nodes are consecutive ids is convex."""
    for scope in scopes.preorder[1:]:
        if scope.size and scope.last - scope.first + 1 > scope.size:
            scope.convex = not _reenters(graph, scopes, readers, scope)


def _reenters(graph: Graph, scopes: _Scopes, readers: list[list[int]], scope: _Scope) -> bool:
    """Whether a path from `scope` through nodes outside it comes back into it."""
    reached = set()  # nodes outside the scope that a path from inside reaches
    for i in range(scope.first + 1, scope.last):
        if scopes.holds(scope, i):
            continue
        if any(scopes.holds(scope, j) or j in reached for j in graph.nodes[i].inputs):
            if any(scopes.holds(scope, r) for r in readers[i]):
                return True
            reached.add(i)
    return False


# --------------------------------------------------------------------------- emission

@dataclass
class _Unit:
    """One statement of a forward: a layer, a merge, or the call of a child scope."""

    kind: str  # leaf | merge | call
    attr: tuple  # the module's path from the class's own `self`
    inputs: list  # node ids it reads, in argument order
    outputs: list  # node ids it returns
    first: int  # its first node: where the spec writes it
    node: int | None = None  # leaf and merge
    scope: str | None = None  # call


def _in_spec_order(units: list[_Unit]) -> list[_Unit]:
    """A topological order of the units; where several are ready, the one the spec writes first."""
    producer = {o: k for k, u in enumerate(units) for o in u.outputs}
    waiting = [0] * len(units)
    dependents = [[] for _ in units]
    for k, u in enumerate(units):
        for p in {producer[i] for i in u.inputs if i in producer}:
            waiting[k] += 1
            dependents[p].append(k)
    ready = [(u.first, k) for k, u in enumerate(units) if not waiting[k]]
    heapify(ready)
    order = []
    while ready:
        _, k = heappop(ready)
        order.append(units[k])
        for d in dependents[k]:
            waiting[d] -= 1
            if not waiting[d]:
                heappush(ready, (units[d].first, d))
    if len(order) < len(units):
        raise ValueError("the statements of a forward depend on one another in a cycle")
    return order


def _is_generic(name: str) -> bool:
    """A name that says nothing (x, out, out3): a layer may reuse it for its output."""
    return name in ("x", "out") or (name.startswith("out") and name[3:].isdigit())


def _generic_name(index: int) -> str:
    """The names a fresh tensor gets, in the order they are tried: x, out, out2, out3, ..."""
    return "x" if index == 0 else "out" if index == 1 else f"out{index}"


def _generic_index(name: str) -> int | None:
    """The inverse of _generic_name (None for other names)."""
    if name in ("x", "out"):
        return 0 if name == "x" else 1
    digits = name[3:]
    if name.startswith("out") and digits.isdigit() and digits[0] != "0" and int(digits) >= 2:
        return int(digits)
    return None


class _LiveNames:
    """The names of the tensors a forward still needs (a name may hold several), and the first
    generic name that none holds, found without trying every name before it."""

    def __init__(self):
        self.count: dict[str, int] = {}
        self.unused = 0  # generic names from this index on have never been handed out
        self.free: list[int] = []  # a heap: every free generic name below `unused` (and some taken since)

    def __contains__(self, name: str) -> bool:
        return name in self.count

    def hold(self, name: str) -> None:
        self.count[name] = self.count.get(name, 0) + 1

    def release(self, name: str) -> None:
        self.count[name] -= 1
        if not self.count[name]:
            del self.count[name]
            index = _generic_index(name)
            if index is not None and index < self.unused:
                heappush(self.free, index)

    def fresh(self) -> str:
        """The first generic name no tensor holds (the caller holds it next)."""
        while self.free:
            name = _generic_name(heappop(self.free))
            if name not in self.count:
                return name
        while _generic_name(self.unused) in self.count:
            self.unused += 1  # held: a release brings it back
        self.unused += 1
        return _generic_name(self.unused - 1)


class _Uses:
    """How the statements of one forward read each tensor."""

    def __init__(self, units: list[_Unit], outs: list[int]):
        self.last: dict[int, int] = {}  # node id -> the last statement that reads it (len(units): returned)
        self.readers: dict[int, int] = {}  # node id -> how many statements read it
        for k, u in enumerate(units):
            for i in u.inputs:
                self.last[i] = k
                self.readers[i] = self.readers.get(i, 0) + 1
        for o in outs:
            self.last[o] = len(units)
        self.returned = set(outs)
        self.read_last: dict[int, list[int]] = {}  # statement -> the tensors it reads for the last time
        for i, k in self.last.items():
            self.read_last.setdefault(k, []).append(i)


def _output_names(u: _Unit, k: int, args: list[str], uses: _Uses, live: _LiveNames) -> list[str]:
    """Names for the outputs of statement `k`: a call's own name where its tensor is read again,
    else the name of the first input where it dies here, else a fresh generic one. Each name is
    held in `live` as it is chosen."""
    local = u.attr[-1]
    named = u.kind == "call" and _is_ident(local) and local not in live
    new = []
    for index, o in enumerate(u.outputs):
        many = uses.readers.get(o, 0) + (o in uses.returned) > 1
        if index == 0 and named and many:
            name = local
        elif index == 0 and args and _is_generic(args[0]) and uses.last[u.inputs[0]] == k \
                and (u.kind == "merge" or uses.readers[u.inputs[0]] == 1) and args[0] not in live:
            name = args[0]
        elif index == 0 and named:
            name = local
        else:
            name = live.fresh()
        new.append(name)
        live.hold(name)  # taken for this statement's other outputs
    return new


class _Emitter:
    def __init__(self, graph: Graph):
        self.graph = graph
        if not graph.analysed:
            raise ValueError("emit_source() takes an analysed graph (Network.analysed())")
        self.nodes = graph.nodes
        readers = graph.consumers()
        self.scopes = _Scopes(graph)
        _register_children(graph, self.scopes)
        _boundaries(graph, self.scopes, readers)
        _convexity(graph, self.scopes, readers)
        self.helpers: set[str] = set()
        self.first_node = {}  # leaf module name -> first node id
        for node in graph.nodes[1:]:
            if not _is_merge(node):
                self.first_node.setdefault(node.name, node.id)
        self.classes: dict[tuple, dict] = {}  # key -> {"name", "code", "comments": [per instance], "paths"}
        self.order: list[tuple] = []
        self.used_names = {_camel(graph.name) or "Network", *PROJECT_LAYERS}
        self.counts: dict[str, int] = {}

    # ---- units of a forward
    def _units(self, path: str, prefix: tuple) -> list[_Unit]:
        """The statements of `path`'s forward: layers, merges and calls of convex child scopes."""
        scope = self.scopes[path]
        units = []
        for i in scope.direct:
            node = self.nodes[i]
            units.append(_Unit("merge" if _is_merge(node) else "leaf", prefix + (_local(node.name),),
                               list(dict.fromkeys(node.inputs)), [i], i, node=i))
        for kind, child in scope.children:
            if kind != "scope":
                continue
            sub = self.scopes[child]
            attr = prefix + (_local(child),)
            if sub.convex:
                units.append(_Unit("call", attr, sub.inputs, self._scope_io(child)[1], sub.first, scope=child))
            else:
                units.extend(self._units(child, attr))
        return units

    def _scope_io(self, path: str) -> tuple[list[int], list[int]]:
        if not path:
            return [0], list(self.graph.outputs)
        scope = self.scopes[path]
        return scope.inputs, scope.outputs or [scope.last]  # a part nothing reads still returns its last tensor

    # ---- one class
    def forward(self, path: str) -> tuple[list[str], list]:
        """The lines of `forward` and, per line, the shape for its comment (or None)."""
        params, outs = self._scope_io(path)
        units = _in_spec_order(self._units(path, ()))
        uses = _Uses(units, outs)
        var = {}  # node id -> the name of its tensor
        live = _LiveNames()
        names = ["x"] + [("skip" if k == 1 else f"skip{k}") for k in range(1, len(params))]
        for p, name in zip(params, names):
            var[p] = name
            if p in uses.last:
                live.hold(name)
        lines = [f"def forward(self, {', '.join(names)}):"]
        comments = [None]
        for p, name in zip(params, names):
            lines.append(f"    # {name}: ")
            comments.append(("input", self._shape(p)))
        for k, u in enumerate(units):
            for v in uses.read_last.get(k, ()):
                live.release(var[v])
            args = [var[i] for i in u.inputs]
            new = _output_names(u, k, args, uses, live)
            for o, name in zip(u.outputs, new):
                var[o] = name
                if o not in uses.last:
                    live.release(name)  # nothing reads it: its name is free from the next statement on
            for line, comment in self._statement(u, ", ".join(new), args):
                lines.append(line)
                comments.append(comment)
        lines.append(f"    return {', '.join(var[o] for o in outs)}")
        comments.append(None)
        return lines, comments

    def _statement(self, u: _Unit, target: str, args: list[str]) -> list[tuple]:
        """The lines of one unit, each with its comment: ("out", shape) or ("out", None)."""
        shape = self._shape(u.outputs[0]) if len(u.outputs) == 1 else None
        if u.kind == "merge":
            node = self.nodes[u.node]
            if OPS[node.op].lowering.call == "cat":
                expr = f"torch.cat([{', '.join(args)}], 1)"
            elif node.inplace:  # into the first branch, as torchvision's `out += identity`
                expr = args[0] + "".join(f".add_({a})" for a in args[1:])
            else:
                expr = " + ".join(args)
            return [(f"    {target} = {expr}", ("out", shape))]
        call = f"    {target} = {_attr('self', u.attr)}"
        if u.kind == "call":
            return [(f"{call}({', '.join(args)})", ("out", shape))]
        result = []
        node = self.nodes[u.node]
        if OPS[node.op].lowering.flattens(node.resolved):
            result.append((f"    {target} = torch.flatten({args[0]}, 1)", ("out", (prod(self.nodes[node.inputs[0]].shape),))))
            args = [target]
        before = self._shape(u.inputs[0])
        result.append((f"{call}({', '.join(args)})", ("out", shape if shape != before else None)))
        return result

    def _shape(self, node_id: int):
        return slide_order(self.nodes[node_id].shape)

    def init(self, path: str) -> list[str]:
        lines = ["def __init__(self):", "    super().__init__()"]
        for kind, name in self.scopes[path].children:
            if kind == "leaf":
                i = self.first_node[name]
                node = self.graph.nodes[i]
                lowering = OPS[node.op].lowering
                if not lowering.layer.startswith("nn."):
                    self.helpers.add(lowering.layer)
                expr = layer_source(lowering, node.resolved, node.inplace)
                local = _local(name)
            else:
                expr = f"{self.scopes[name].cls}()"
                local = _local(name)
            if _is_ident(local):
                lines.append(f"    self.{local} = {expr}")
            else:
                lines.append(f"    self.add_module({local!r}, {expr})")
        return lines

    def visit(self, path: str) -> None:
        """Post-order: children's classes first; a scope's class is shared when identical."""
        scope = self.scopes[path]
        for kind, child in scope.children:
            if kind == "scope":
                self.visit(child)
        if not path:
            return
        init = self.init(path)
        if scope.convex:
            fwd, comments = self.forward(path)
        else:
            fwd, comments = [], []
        base = self._base(scope)
        key = (base, tuple(init), tuple(fwd))
        entry = self.classes.get(key)
        if entry is None:
            entry = {"name": self._fresh(base), "init": init, "forward": fwd, "comments": [], "paths": [],
                     "labels": [], "convex": scope.convex}
            self.classes[key] = entry
            self.order.append(key)
        entry["comments"].append(comments)
        entry["paths"].append(path)
        entry["labels"].append(scope.label)
        scope.cls = entry["name"]

    def _base(self, scope: _Scope) -> str:
        if scope.kind == "block" and scope.label:
            base = _camel(scope.label.split()[0])
        else:
            base = _camel(_local(scope.path)) if not _local(scope.path).isdigit() else ""
        return base or "Group"

    def _fresh(self, base: str) -> str:
        count = self.counts.get(base, 0)
        while True:
            count += 1
            name = base if count == 1 else f"{base}{'_' if base[-1].isdigit() else ''}{count}"
            if name not in self.used_names:
                break
        self.counts[base] = count
        self.used_names.add(name)
        return name


def _merge_shapes(shapes: list):
    """One comment for every instance of a shared class: dimensions that differ become '?'."""
    shapes = [s for s in shapes if s is not None]
    if not shapes:
        return None
    if any(len(s) != len(shapes[0]) for s in shapes):
        return "?"
    return "x".join(str(v[0]) if len(set(v)) == 1 else "?" for v in zip(*shapes))


def _render_forward(lines: list[str], comments_per_instance: list[list]) -> list[str]:
    out = []
    for index, line in enumerate(lines):
        marks = [c[index] for c in comments_per_instance]
        if marks[0] is None:
            out.append(line)
            continue
        kind = marks[0][0]
        text = _merge_shapes([m[1] for m in marks])
        if kind == "input":
            out.append(line + (text or "?"))
        elif text:
            out.append(f"{line}  # {text}")
        else:
            out.append(line)
    return out


def _docstring(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', "'")
    return f'"""{text}"""'


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + line if line else line for line in lines]


def emit_source(graph: Graph, source: str | None = None) -> str:
    """Standalone PyTorch source for `graph`: `import torch`, `from torch import nn`, no archdsl.

    `source` is the spec path the docstring names (default: the path the graph was loaded from).
    """
    e = _Emitter(graph)
    e.visit("")
    totals = {"params": sum(node.figures["params"] for node in graph.nodes)}
    source = source or graph.nodes[0].span.source.path
    top = _camel(graph.name) or "Network"
    head = _docstring(f"{graph.name} in PyTorch, generated by archdsl from {source}.")[:-3]
    blocks = ["\n".join([
        head,
        "",
        f"{totals['params']:,} parameters. Submodules carry the analysis' layer names, so the state_dict",
        "keys are those of `archdsl.build`. Shapes in comments are per sample, HxWxC as the slides write them.",
        '"""',
        "import torch",
        "from torch import nn",
    ])]
    init = e.init("")  # before the helper classes: it notes those the top level uses
    blocks += [_helper_source(name).rstrip("\n") for name in sorted(e.helpers)]
    for key in e.order:
        c = e.classes[key]
        paths = c["paths"]
        doc = f"{paths[0]}: {c['labels'][0]}" if c["labels"][0] else paths[0]
        if len(paths) > 1:
            more = ", ".join(paths[1:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
            doc += f" (also {more})"
        if not c["convex"]:
            doc += "; only holds layers, which the enclosing module's forward calls"
        body = [_docstring(doc if doc.endswith(".") else doc + "."), ""] + c["init"]
        if c["forward"]:
            body += [""] + _render_forward(c["forward"], c["comments"])
        blocks.append("\n".join([f"class {c['name']}(nn.Module):"] + _indent(body)))

    frozen = _frozen(e, "")
    if frozen:
        init += ["    # frozen (`freeze` in the spec): not trained"] + [f"    {f}.requires_grad_(False)" for f in frozen]
    fwd, comments = e.forward("")
    body = [_docstring(f"{graph.name}: {totals['params']:,} parameters."), ""] + init + [""]
    body += _render_forward(fwd, [comments])
    blocks.append("\n".join([f"class {top}(nn.Module):"] + _indent(body)))
    shape = ", ".join(map(str, graph.nodes[0].shape))
    blocks.append("\n".join([
        'if __name__ == "__main__":',
        f"    model = {top}().eval()",
        "    with torch.no_grad():",
        f"        y = model(torch.randn(1, {shape}))",
        "    print(f\"{sum(p.numel() for p in model.parameters()):,} parameters\")",
        "    print([tuple(t.shape) for t in (y if isinstance(y, tuple) else (y,))])",
    ]))
    return "\n\n\n".join(blocks) + "\n"


def _frozen(e: _Emitter, path: str, prefix: tuple = ()) -> list[str]:
    """`requires_grad_(False)` targets: a whole scope when all its layers are frozen."""
    result = []
    for kind, name in e.scopes[path].children:
        parts = prefix + (_local(name),)
        if kind == "leaf":
            if e.graph.nodes[e.first_node[name]].frozen:
                result.append(_attr("self", parts))
            continue
        scope = e.scopes[name]
        if scope.layers and scope.frozen == scope.layers:
            result.append(_attr("self", parts))
        elif scope.frozen:
            result += _frozen(e, name, parts)
    return result
