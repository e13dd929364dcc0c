"""IR -> readable, standalone PyTorch source (`archdsl build -o model.py`).

The file imports only `torch` and `torch.nn` and reads as a person would write the network: one
class per block definition, whose constructor takes the block's parameters (generalize.py turns
the values its calls differ in into expressions of them: `nn.Conv2d(in_channels, 4 * c, 1)`); a
part only some calls have is built under a condition, a run whose length differs is a loop; a
named group that is a plain sequence is an inline `nn.Sequential`; other named groups have a class
shared by the groups of the same structure; a class for the network. `forward` methods are
straight-line, with shapes in comments (HxWxC, as the slides write them) where the calls agree.
Submodules sit at the analysis names and are registered in the order
`backends.torch.to_graph_module` registers them, so the `state_dict` (keys, shapes, order) is the
built module's and its weights load with `strict=True`.

The work is linear in the network's size: each scope is one instance of its class, described
once (its children as calls with values, its forward), and a class's parameters are searched
over the values of its instances.

It imports torch only to copy the source of the two layers torch.nn lacks (backends/layers.py).
"""
from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from math import prod

from ..ir import Graph, GroupInfo
from ..ops import OPS
from ..figures import total
from ..ops.base import slide_order
from ..ops.lowering import ALWAYS, Lowering
from .generalize import MISSING, Param, Params, Slot, call_arguments, literal, progression, py_name, same

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
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name) and name not in _RESERVED


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
    return OPS[node.op].lowering.call not in ("module", "parameter")


def _is_parameter(node) -> bool:
    """A learned tensor of its scope (scale, pos_embedding, class_token): `self.name = filled(...)`,
    used as `self.name * x`, `x + self.name` or `prepend(self.name, x)`."""
    return OPS[node.op].lowering.call == "parameter"


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
    for path, names in graph.registration.items():  # `register`: these children first, in this order
        rank = {name: i for i, name in enumerate(names)}
        scopes[path].children.sort(key=lambda child: rank.get(child[1].rsplit(".", 1)[-1], len(rank)))


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


# --------------------------------------------------------------------------- constructor calls

@dataclass
class _Elem:
    """A child of a module as its constructor call: a layer, an inline `nn.Sequential` or a class
    of the file, with its argument values (flat: a Sequential's are its parts', in order)."""

    name: str  # the attribute: the child's local name
    kind: str  # layer | seq | class
    head: str  # what is called: nn.Conv2d, Maxout, Basic, nn.Sequential
    slots: list
    values: list
    skel: tuple  # everything but the values: equal skeletons differ only in argument values
    shape: tuple | None = None  # its output, slide order, for comments
    parts: list = field(default_factory=list)  # seq: its elements
    inplace: bool = False


def _lits(elem: _Elem) -> list:
    return [("lit", v) for v in elem.values]


def _arg(slot: Slot, val) -> str | None:
    """One argument of a call; None where a literal is the default."""
    is_expr, x = val[0] == "expr", val[1]
    if is_expr:
        return x if slot.positional else f"{slot.name}={x}"
    if slot.positional:
        return literal(x, slot.form)
    if _same(x, slot.default):
        return None
    return f"{slot.name}={literal(x, slot.form)}"


def _render(elem: _Elem, vals: list, peers: list) -> list[str]:
    """The call as lines: the first to be put after `self.name = `, the others indented already.
    `peers`: the same element in every instance the call is written for (their shapes comment a
    Sequential's parts)."""
    if elem.kind != "seq":
        args = [a for a in (_arg(s, v) for s, v in zip(elem.slots, vals)) if a is not None]
        if elem.inplace:
            args.append("inplace=True")
        return [f"{elem.head}({', '.join(args)})"]
    parts, k = [], 0
    for j, part in enumerate(elem.parts):
        n = len(part.slots)
        parts.append(_render(part, vals[k:k + n], [p.parts[j] for p in peers]))
        k += n
    if len(parts) <= 2 and all(len(p) == 1 for p in parts):
        text = f"nn.Sequential({', '.join(p[0] for p in parts)})"
        if len(text) <= 88:
            return [text]
    lines, before = ["nn.Sequential("], None
    for j, p in enumerate(parts):
        p = list(p)
        p[-1] += ","
        shape = _merge_shapes([q.parts[j].shape for q in peers])
        if shape is not None and shape != before:
            p[-1] += f"  # {shape}"
        before = shape
        lines += ["    " + line for line in p]
    return lines + [")"]


def _assign(target: str, lines: list[str], end: str = "") -> list[str]:
    """`target = <call>` (target ends with `= ` or `(`), then `end`."""
    out = [target + lines[0]] + lines[1:]
    out[-1] += end
    return out


def _set_child(name: str, lines: list[str], condition: str | None = None) -> list[str]:
    """The statement that registers a child: `self.name = ...` or `self.add_module('0', ...)`."""
    tail = f" if {condition} else None" if condition is not None and _is_ident(name) else ""
    if _is_ident(name):
        body = _assign(f"self.{name} = ", lines, tail)
    else:
        body = _assign(f"self.add_module({name!r}, ", lines, ")")
    if condition is not None and not _is_ident(name):
        return [f"if {condition}:"] + ["    " + line for line in body]
    return body


@dataclass
class _Inst:
    """One scope that a class is written for: its children as calls, its forward, and the block
    call whose arguments its layers see."""

    path: str
    elems: list
    lines: list | None  # forward (None for an nn.Sequential layout)
    marks: list | None  # per forward line: its comment
    chain: bool  # its forward calls its children one after the other, in registration order
    numbered: bool  # its children are 0, 1, 2, ... (as in nn.Sequential)
    info: GroupInfo | None
    in_channels: object
    shape: tuple | None


@dataclass
class _Item:
    """One statement of a generated __init__: a child (`fixed`; absent in some instances: then
    under a condition) or a run of equal children (`loop`)."""

    kind: str
    proto: _Elem
    elems: list  # per instance: the elements it has here


def _partition(insts: list[_Inst]) -> list[list[_Inst]]:
    """Instances with the same children (but for argument values) and the same forward."""
    parts: dict = {}
    for inst in insts:
        key = (inst.chain, inst.numbered, tuple((e.name, e.skel) for e in inst.elems),
               None if inst.lines is None else tuple(inst.lines))
        parts.setdefault(key, []).append(inst)
    return list(parts.values())


_NUMBERED = re.compile(r"^(.*?)(0|[1-9][0-9]*)$")


def _pattern(names: list[str]) -> tuple[str, int] | None:
    """`denselayer1, denselayer2, ...`: the prefix and the first number, when consecutive."""
    found = [_NUMBERED.match(n) for n in names]
    if not all(found) or len({m.group(1) for m in found}) != 1:
        return None
    start = int(found[0].group(2))
    if [int(m.group(2)) for m in found] != list(range(start, start + len(names))):
        return None
    return found[0].group(1), start


def _runs(inst: _Inst) -> list[list[_Elem]]:
    """The children as runs: equal consecutive ones, then three or more that differ only by a
    fixed step (densenet's growing inputs). Named children must be numbered consecutively."""
    named = not inst.numbered
    runs: list[list[_Elem]] = []
    for e in inst.elems:
        last = runs[-1] if runs else None
        if last and last[0].skel == e.skel and all(same(a, b) for a, b in zip(last[0].values, e.values)) \
                and (not named or _next_name(last[-1].name, e.name)):
            last.append(e)
        else:
            runs.append([e])
    merged: list[list[_Elem]] = []
    k = 0
    while k < len(runs):  # each run is looked at once or twice: linear
        group = runs[k]
        if len(group) == 1 and k + 2 < len(runs):
            step = _step(group[0], runs[k + 1])
            end = k + 1
            while step is not None and end < len(runs) and len(runs[end]) == 1 \
                    and _step(runs[end - 1][0], runs[end]) == step:
                end += 1
            if step is not None and end - k >= 3:
                merged.append([r[0] for r in runs[k:end]])
                k = end
                continue
        merged.append(group)
        k += 1
    return merged


def _next_name(a: str, b: str) -> bool:
    """`denselayer3` then `denselayer4`."""
    ma, mb = _NUMBERED.match(a), _NUMBERED.match(b)
    return bool(ma and mb) and ma.group(1) == mb.group(1) and int(mb.group(2)) == int(ma.group(2)) + 1


def _step(a: _Elem, run: list[_Elem]) -> tuple | None:
    """What each argument of `a` grows by to give the single element of `run` (0 for an equal
    one); None where one differs otherwise, or the names are not consecutive."""
    if len(run) != 1 or run[0].skel != a.skel:
        return None
    b = run[0]
    if not _next_name(a.name, b.name):
        return None
    found = progression([a.values, b.values], a.slots)
    return None if found is None else tuple(found[1])


def _agreement(a: _Elem, b: _Elem) -> float:
    """Below 1: how many argument values two elements share (to align optional children)."""
    return sum(same(x, y) for x, y in zip(a.values, b.values)) / (len(a.values) + 1)


def _align(items: list[_Item], elems: list[_Elem], numbered: bool) -> list[list[_Elem]] | None:
    """The instance's children spread over the items: each fixed item takes one or none (of its
    name, where the children are named), each loop item a run of any length; where several ways
    fit, the one whose arguments agree most with the reference's. Dynamic programming over
    (item, child)."""
    m, n = len(items), len(elems)
    if m * n > 50_000:
        return None
    neg = float("-inf")
    best = [[neg] * (n + 1) for _ in range(m + 1)]
    best[m][n] = 0.0
    take = [[0] * (n + 1) for _ in range(m + 1)]  # fixed: 1 if it takes child j; loop: 1 if it takes j and goes on
    for i in reversed(range(m)):
        item, nxt, row, choice = items[i], best[i + 1], best[i], take[i]
        for j in range(n, -1, -1):
            score, took = nxt[j], 0
            if j < n and elems[j].skel == item.proto.skel and (numbered or item.kind == "loop" or elems[j].name == item.proto.name):
                if item.kind == "fixed":  # a child a fixed item takes counts more than one a loop takes
                    gain = 1.5 + _agreement(item.proto, elems[j]) / 2
                    if nxt[j + 1] > neg and gain + nxt[j + 1] > score:
                        score, took = gain + nxt[j + 1], 1
                elif row[j + 1] > neg and 1 + row[j + 1] > score:
                    score, took = 1 + row[j + 1], 1
            row[j], choice[j] = score, took
    if best[0][0] == neg:
        return None
    spread, j = [], 0
    for i, item in enumerate(items):
        start = j
        if item.kind == "fixed":
            j += take[i][j]
        else:
            while j < n and take[i][j]:
                j += 1
        spread.append(elems[start:j])
    return spread


# --------------------------------------------------------------------------- the emitter

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
        self.top = _camel(graph.name) or "Network"
        self.used_names = {self.top, *PROJECT_LAYERS}
        self.counts: dict[str, int] = {}
        self.blocks: list[str] = []  # the classes' source, dependencies first
        self.calls: dict[str, _Elem] = {}  # scope path -> its constructor call (class layouts)
        self.kind: dict[str, str] = {}  # scope path -> seq (inline nn.Sequential) | class | holder
        self.fwd: dict[str, tuple] = {}  # scope path -> (lines, marks)
        self.context: dict[str, GroupInfo | None] = {"": None}
        self.holders: dict[tuple, str] = {}  # init text -> class name (holders are shared when identical)
        self.leaves: dict[str, _Elem] = {}  # leaf module name -> its call
        self.layer_kinds: dict[tuple, tuple] = {}
        self.chain: dict[str, bool] = {}
        self.checkpoints = {n.checkpoint: False for n in graph.nodes if n.checkpoint}  # path -> emitted as one call

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
    def forward(self, path: str, units: list[_Unit] | None = None) -> tuple[list[str], list]:
        """The lines of `forward` and, per line, the shape for its comment (or None)."""
        params, outs = self._scope_io(path)
        if units is None:
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
            elif OPS[node.op].lowering.call == "mul":  # one new tensor, the further branches into it
                expr = f"{args[0]} * {args[1]}" if len(args) == 2 else f"({args[0]} * {args[1]})" + "".join(f".mul_({a})" for a in args[2:])
            elif node.inplace:  # into the first branch, as torchvision's `out += identity`
                expr = args[0] + "".join(f".add_({a})" for a in args[1:])
            else:
                expr = " + ".join(args)
            return [(f"    {target} = {expr}", ("out", shape))]
        call = f"    {target} = {_attr('self', u.attr)}"
        checkpointed = (u.kind == "call" and self.scopes[u.scope].path in self.checkpoints
                        or u.kind == "leaf" and self.nodes[u.node].name in self.checkpoints)
        if checkpointed:  # `checkpoint NAME`: its backward runs it again
            self.checkpoints[self.scopes[u.scope].path if u.kind == "call" else self.nodes[u.node].name] = True
            call = f"    {target} = checkpoint({_attr('self', u.attr)}, "
            args = args + ["use_reentrant=False"]
            if u.kind == "call" or not OPS[self.nodes[u.node].op].lowering.flattens(self.nodes[u.node].resolved):
                return [(f"{call}{', '.join(args)})", ("out", shape))]
        if u.kind == "call":
            return [(f"{call}({', '.join(args)})", ("out", shape))]
        result = []
        node = self.nodes[u.node]
        if OPS[node.op].lowering.flattens(node.resolved):
            result.append((f"    {target} = torch.flatten({args[0]}, 1)", ("out", (prod(self.nodes[node.inputs[0]].shape),))))
            args = [target]
        before = self._shape(u.inputs[0])
        if _is_parameter(node):
            param = _attr('self', u.attr)
            combine = OPS[node.op].lowering.combine
            expr = {"mul": f"{param} * {args[0]}", "add": f"{args[0]} + {param}",
                    "prepend": f"prepend({param}, {args[0]})"}[combine]
            result.append((f"    {target} = {expr}", ("out", shape if shape != before else None)))
            return result
        result.append((f"{call}{', '.join(args)})" if checkpointed else f"{call}({', '.join(args)})",
                       ("out", shape if shape != before else None)))
        return result

    def _shape(self, node_id: int):
        return slide_order(self.nodes[node_id].shape, len(self.nodes[0].shape))

    # ---- what each scope becomes
    def run(self) -> None:
        """Every scope's class (or inline Sequential), in an order where a class comes after the
        classes it calls; the instances of one block definition share one class."""
        groups = self.graph.groups
        for scope in self.scopes.preorder[1:]:
            info = groups[scope.path]
            self.context[scope.path] = info if info.kind == "block" and info.block else self.context[scope.parent]
        family: dict[str, tuple] = {}
        members: dict[tuple, list[str]] = {}
        signature: dict[str, tuple] = {}  # scope -> what it is, without values (named groups share classes by it)
        interned: dict[tuple, int] = {}
        reach: dict[str, set] = {}  # scope -> the families its constructor call depends on
        for scope in reversed(self.scopes.preorder):
            path = scope.path
            if not path:
                continue
            info = groups[path]
            children = []
            needs = set()
            for kind, child in scope.children:
                if kind == "leaf":
                    children.append(self._leaf(child).skel)
                else:
                    children.append(signature[child])
                    needs |= reach[child]
            if not scope.convex:
                self.kind[path] = "holder"
                key = ("holder", path)
            else:
                units = _in_spec_order(self._units(path, ()))
                chain = self.chain[path] = self._is_chain(path, units)
                numbered = [_local(c) for _, c in scope.children] == [str(k) for k in range(len(scope.children))]
                if info.kind != "block" and chain and numbered and scope.children:
                    self.kind[path] = "seq"
                    signature[path] = ("seq", tuple(children))
                    reach[path] = needs
                    continue
                self.kind[path] = "class"
                self.fwd[path] = self.forward(path, units)
                if info.kind == "block" and info.block:
                    key = ("block", info.block)
                else:
                    shape = (chain, numbered, tuple(children), tuple(self.fwd[path][0]))
                    key = ("group", interned.setdefault(shape, len(interned)))
            family[path] = key
            members.setdefault(key, []).append(path)
            signature[path] = key
            reach[path] = {key}
            deps = members.setdefault(("deps",) + key, [])
            deps.extend(needs)
        rank = {scope.path: k for k, scope in enumerate(self.scopes.preorder)}
        for key, paths in members.items():
            if key[0] != "deps":
                paths.sort(key=rank.__getitem__)  # instances in the order the spec writes them
        for key in self._dependency_order(members):
            paths = members[key]
            if key[0] == "holder":
                self._holder(paths[0])
            else:
                self._family(key, paths)

    def _dependency_order(self, members: dict) -> list[tuple]:
        """The families, each after those its instances call (a depth-first walk)."""
        keys = [k for k in members if k[0] != "deps"]
        done, order = set(), []
        for root in keys:
            if root in done:
                continue
            stack = [(root, iter(dict.fromkeys(members[("deps",) + root])))]
            done.add(root)
            while stack:
                key, deps = stack[-1]
                for dep in deps:
                    if dep not in done:
                        done.add(dep)
                        stack.append((dep, iter(dict.fromkeys(members[("deps",) + dep]))))
                        break
                else:
                    stack.pop()
                    order.append(key)
        return order

    def _is_chain(self, path: str, units: list[_Unit]) -> bool:
        """Whether the forward calls the children one after the other, in registration order,
        each on the output of the one before (what nn.Sequential does)."""
        scope = self.scopes[path]
        inputs, outputs = self._scope_io(path)
        if len(units) != len(scope.children) or len(inputs) != 1 or not units:
            return False
        tensor = inputs[0]
        for u, (kind, name) in zip(units, scope.children):
            if u.kind == "merge" or u.attr != (_local(name),) or u.inputs != [tensor] or len(u.outputs) != 1:
                return False
            if u.kind == "leaf" and (OPS[self.nodes[u.node].op].lowering.flattens(self.nodes[u.node].resolved)
                                     or _is_parameter(self.nodes[u.node])):
                return False
            tensor = u.outputs[0]
        return outputs == [tensor]

    # ---- children as calls
    def _leaf(self, name: str) -> _Elem:
        elem = self.leaves.get(name)
        if elem is not None:
            return elem
        node = self.nodes[self.first_node[name]]
        lowering = OPS[node.op].lowering
        head = lowering.layer_name(node.resolved)
        if not head.startswith("nn."):
            self.helpers.add(head)
        if lowering.call == "parameter" and lowering.combine == "prepend":
            self.helpers.add("prepend")  # the function that puts it in front of the sequence
        pairs = lowering.arguments(node.resolved)
        inplace = bool(lowering.inplace and node.inplace)
        key = (id(lowering), head, inplace)
        known = self.layer_kinds.get(key)
        if known is None:  # the slots and skeleton of a kind of layer, made once
            slots = [Slot(p.name, p.positional, p.default, p.form) for p, _ in pairs]
            known = self.layer_kinds[key] = (slots, ("layer", head, tuple(s.name for s in slots), inplace))
        elem = self.leaves[name] = _Elem(_local(name), "layer", head, known[0], [v for _, v in pairs], known[1],
                                         slide_order(node.shape, len(self.nodes[0].shape)), inplace=inplace)
        return elem

    def _child(self, kind: str, name: str) -> _Elem:
        if kind == "leaf":
            return self._leaf(name)
        if self.kind[name] == "seq":
            parts = [self._child(k, c) for k, c in self.scopes[name].children]
            return _Elem(_local(name), "seq", "nn.Sequential", [s for p in parts for s in p.slots],
                         [v for p in parts for v in p.values], ("seq",) + tuple(p.skel for p in parts),
                         self._out_shape(name), parts)
        call = self.calls[name]
        return _Elem(_local(name), call.kind, call.head, call.slots, call.values, call.skel, call.shape)

    def _out_shape(self, path: str):
        outs = self._scope_io(path)[1]
        return self._shape(outs[0]) if len(outs) == 1 else None

    def _instance(self, path: str) -> _Inst:
        scope = self.scopes[path]
        elems = [self._child(k, c) for k, c in scope.children]
        lines, marks = self.fwd.get(path, (None, None))
        chain = self.chain.get(path, False)
        numbered = [e.name for e in elems] == [str(k) for k in range(len(elems))]
        inputs = self._scope_io(path)[0]
        first = self.nodes[inputs[0]].shape if inputs else None
        return _Inst(path, elems, lines, marks, chain, numbered, self.context[path],
                     first[0] if first else None, self._out_shape(path))

    # ---- classes
    def _family(self, key: tuple, paths: list[str]) -> None:
        insts = [self._instance(p) for p in paths]
        base = _camel(key[1]) if key[0] == "block" else self._base(paths[0])
        parts = _partition(insts)
        if len(parts) > 1:
            if all(p[0].chain and p[0].numbered == parts[0][0].numbered for p in parts):
                merged = self._chain_items(insts)
                if merged is not None:
                    self._write_class(base, key, insts, "seq" if insts[0].numbered else "chain", merged)
                    return
            elif len(parts) == 2 and self._two_forwards(base, key, insts, parts):
                return
        for part in parts:
            items = [_Item("fixed", e, [[inst.elems[k]] for inst in part]) for k, e in enumerate(part[0].elems)]
            numbered_chain = key[0] == "block" and part[0].chain and part[0].numbered
            forward = None if numbered_chain else [(line, [inst.marks[k] for inst in part])
                                                   for k, line in enumerate(part[0].lines)]
            self._write_class(base, key, part, "seq" if numbered_chain else "module", items, forward)

    def _chain_items(self, insts: list[_Inst]) -> list[_Item] | None:
        """Chains with different children as one program: the runs of the instance with the
        most, each a fixed child (optional where some instances lack it) or a loop."""
        runs = [_runs(inst) for inst in insts]
        longest = max(range(len(insts)), key=lambda i: (len(insts[i].elems), len(runs[i])))
        most = max(range(len(insts)), key=lambda i: (len(runs[i]), len(insts[i].elems)))
        for ref in dict.fromkeys((longest, most)):  # the reference: the longest, else the one with most runs
            items = self._aligned(insts, runs[ref])
            if items is not None:
                return items
        return None

    def _aligned(self, insts: list[_Inst], runs: list) -> list[_Item] | None:
        items = [_Item("fixed" if len(run) == 1 else "loop", run[0], []) for run in runs]
        for inst in insts:
            spread = _align(items, inst.elems, inst.numbered)
            if spread is None:
                return None
            for item, elems in zip(items, spread):
                item.elems.append(elems)
        for item in items:
            if item.kind == "loop" and all(len(e) <= 1 for e in item.elems):
                item.kind = "fixed"
            if item.kind == "loop":
                starts = set()
                for elems in item.elems:
                    if len(elems) > 1 and progression([e.values for e in elems], item.proto.slots) is None:
                        return None
                    if elems and not insts[0].numbered:
                        found = _pattern([e.name for e in elems])
                        if found is None:
                            return None
                        starts.add(found)
                if len(starts) > 1:
                    return None
        return items

    def _two_forwards(self, base: str, key: tuple, insts: list[_Inst], parts: list) -> bool:
        """Two kinds of instance, one with children the other lacks (ResNet's downsample): one
        class, the extra children under a condition, the forwards' different middle in an if."""
        a, b = sorted(parts, key=lambda p: -len(p[0].elems))
        ea, eb = a[0].elems, b[0].elems
        where, j = [], 0  # per child of `a`: its index in `b`, or None
        for e in ea:
            if j < len(eb) and eb[j].name == e.name and eb[j].skel == e.skel:
                where.append(j)
                j += 1
            else:
                where.append(None)
        la, lb = a[0].lines, b[0].lines
        if j != len(eb) or la is None or lb is None or la[0] != lb[0]:
            return False
        in_a = {inst.path for inst in a}
        items = [_Item("fixed", e, [[inst.elems[k]] if inst.path in in_a else
                                    ([] if where[k] is None else [inst.elems[where[k]]]) for inst in insts])
                 for k, e in enumerate(ea)]
        p = 0
        while p < min(len(la), len(lb)) and la[p] == lb[p]:
            p += 1
        s = 0
        while s < min(len(la), len(lb)) - p and la[-1 - s] == lb[-1 - s]:
            s += 1
        ia = {inst.path: i for i, inst in enumerate(a)}
        ib = {inst.path: i for i, inst in enumerate(b)}

        def marks(ka, kb):
            return [(a[ia[inst.path]].marks[ka] if ka is not None else None) if inst.path in in_a else
                    (b[ib[inst.path]].marks[kb] if kb is not None else None) for inst in insts]

        forward = [(la[k], marks(k, k)) for k in range(p)]
        branch_a = [("    " + la[k], marks(k, None)) for k in range(p, len(la) - s)]
        branch_b = [("    " + lb[k], marks(None, k)) for k in range(p, len(lb) - s)]
        forward.append(("COND", branch_a, branch_b))
        forward += [(la[len(la) - s + k], marks(len(la) - s + k, len(lb) - s + k)) for k in range(s)]
        optional = [e.name for e, w in zip(ea, where) if w is None]
        self._write_class(base, key, insts, "module", items, forward, [inst.path in in_a for inst in insts], optional)
        return True

    def _write_class(self, base: str, key: tuple, insts: list[_Inst], layout: str, items: list[_Item],
                     forward: list | None = None, mask: list | None = None, optional=()) -> None:
        """One class for `insts`: its parameters, __init__ and forward; each instance's call."""
        n = len(insts)
        name = self._fresh(base)
        taken = self.used_names | {"seq": {"layers", "i"}, "chain": {"i"}}.get(layout, set())  # the __init__'s own names
        params = Params(n, self._arguments(insts, name, taken), taken=taken,
                        hints={("in_features" if self._flat(insts) else "in_channels"): [i.in_channels for i in insts]})
        body = []  # (kind, item, vals, extra): extra is a fixed item's condition, a loop's (count, names)
        for item in items:
            counts = [len(e) for e in item.elems]
            if item.kind == "fixed":
                vals = [params.value([e[0].values[k] if e else MISSING for e in item.elems], slot)
                        for k, slot in enumerate(item.proto.slots)]
                condition = None
                if not all(counts):
                    hint = item.proto.name if _is_ident(item.proto.name) else f"with_{item.proto.head.split('.')[-1].lower()}"
                    condition = params.condition([c == 1 for c in counts], hint)
                body.append(("fixed", item, vals, condition))
            else:
                vals = self._loop_values(params, item)
                names = None if insts[0].numbered else _pattern([next(e for e in item.elems if e)[0].name])
                count = params.count(counts, "blocks" if names is None else names[0] + "s")
                body.append(("loop", item, vals, (count, names)))
        flag, set_flag = None, None  # what forward tests, and the __init__ line that sets it
        if mask is not None:
            idents = [o for o in optional if _is_ident(o)]
            if idents:  # torchvision's `if self.downsample is not None`
                flag = f"self.{idents[0]} is not None"
            else:
                condition = params.condition(mask, "variant")
                attrs = {item.proto.name for item in items} | {"training", "forward"}
                flag = "self." + py_name(condition.replace("not ", "not_").replace(" == ", "_is_")
                                         .replace(" != ", "_is_not_"), attrs)
                set_flag = f"    {flag} = {condition}"
        signature = params.signature()
        lines = self._init_lines(layout, body, signature) + ([set_flag] if set_flag else [])
        doc = self._class_doc(key, insts)
        superclass = "nn.Sequential" if layout == "seq" else "nn.Module"
        out = [f"class {name}({superclass}):", f"    {_docstring(doc)}", ""] + ["    " + line if line else line for line in lines]
        if layout == "chain":
            out += ["", "    def forward(self, x):", "        for layer in self.children():", "            x = layer(x)",
                    "        return x"]
        elif forward is not None:
            out += [""] + ["    " + line if line else line for line in _render_forward(forward, flag)]
        self.blocks.append("\n".join(out))
        slots = [Slot(p.name, p.default is ALWAYS, p.default, p.form) for p in signature]
        for i, inst in enumerate(insts):
            self.calls[inst.path] = _Elem(_local(inst.path), "class", name, slots, call_arguments(signature, i),
                                          ("class", name), inst.shape)

    @staticmethod
    def _loop_values(params: Params, item: _Item) -> list:
        """A loop's arguments: each instance's run as first values and steps, each an expression
        of the parameters; `first + step * i` where the step is not 0."""
        firsts, steps = [], []
        for elems in item.elems:
            if len(elems) > 1:
                first, step = progression([e.values for e in elems], item.proto.slots)
            else:
                first, step = (elems[0].values if elems else None), None
            firsts.append(first)
            steps.append(step)
        vals = []
        for k, slot in enumerate(item.proto.slots):
            start = params.value([f[k] if f is not None else MISSING for f in firsts], slot)
            known = [s[k] for s in steps if s is not None]
            if not known or all(v == 0 for v in known):
                vals.append(start)
                continue
            step = params.value([s[k] if s is not None else MISSING for s in steps], Slot(slot.name + "_step"))
            text = literal(start[1]) if start[0] == "lit" else start[1]
            by = literal(step[1]) if step[0] == "lit" else step[1]
            if not re.fullmatch(r"[\w.]+( \* [\w.]+)*", by):
                by = f"({by})"  # `(c + 1) * i`
            vals.append(("expr", f"{text} + {by} * i"))
        return vals

    def _flat(self, insts: list[_Inst]) -> bool:
        first = self._scope_io(insts[0].path)[0]
        return bool(first) and len(self.nodes[first[0]].shape) == 1

    def _arguments(self, insts: list[_Inst], name: str, taken: set) -> list[Param]:
        """The block's parameters that every instance has a value for, in the definition's order."""
        infos = [inst.info for inst in insts]
        if any(info is None for info in infos) or len({info.block for info in infos}) != 1:
            return []
        names = [a[0] for a in infos[0].args]
        bound = [{a[0]: a for a in info.args} for info in infos]
        taken = set(taken) | {name}
        args = []
        for arg in names:
            if not all(arg in b for b in bound):
                continue
            values = [b[arg][1] for b in bound]
            defaulted = [b[arg][1] for b in bound if not b[arg][2]]
            default = defaulted[0] if defaulted and all(same(v, defaulted[0]) for v in defaulted) else ALWAYS
            pyname = py_name(arg, taken)
            taken.add(pyname)
            args.append(Param(pyname, values, default, arg=True))
        return args

    def _init_lines(self, layout: str, body: list, signature: list[Param]) -> list[str]:
        params = "".join(f", {p.name}" if p.default is ALWAYS else f", {p.name}={literal(p.default)}" for p in signature)
        lines = [f"def __init__(self{params}):"]

        def call(item, vals, index=0):
            return _render(item.proto, vals, [e[index] for e in item.elems if len(e) > index])

        if layout == "seq":
            lead = 0
            while lead < len(body) and body[lead][0] == "fixed" and body[lead][3] is None:
                lead += 1
            if lead == len(body):
                lines.append("    super().__init__(")
                lines += ["        " + line for line in self._listed(body, call)]
                lines.append("    )")
                return lines
            listed = self._listed(body[:lead], call)
            if len(listed) == 1 and "#" not in listed[0]:
                lines.append(f"    layers = [{listed[0][:-1]}]")
            elif lead:
                lines.append("    layers = [")
                lines += ["        " + line for line in listed]
                lines.append("    ]")
            else:
                lines.append("    layers = []")
            for kind, item, vals, extra in body[lead:]:
                if kind == "fixed":
                    stmt = _assign("layers.append(", call(item, vals), ")")
                    lines += (["    " + l for l in stmt] if extra is None else
                              [f"    if {extra}:"] + ["        " + l for l in stmt])
                else:
                    count, _ = extra
                    var = "i" if any("* i" in v[1] for v in vals if v[0] == "expr") else "_"
                    lines.append(f"    for {var} in range({self._count_text(count)}):")
                    lines += ["        " + l for l in _assign("layers.append(", call(item, vals), ")")]
            lines.append("    super().__init__(*layers)")
            return lines
        lines.append("    super().__init__()")
        for kind, item, vals, extra in body:
            if kind == "fixed":
                lines += ["    " + l for l in _set_child(item.proto.name, call(item, vals), extra)]
                continue
            count, pattern = extra
            prefix, start = pattern
            var = "i"
            label = f'f"{prefix}{{i + {start}}}"' if start else f'f"{prefix}{{i}}"'
            lines.append(f"    for {var} in range({self._count_text(count)}):")
            lines += ["        " + l for l in _assign(f"self.add_module({label}, ", call(item, vals), ")")]
        return lines

    @staticmethod
    def _count_text(count) -> str:
        return repr(count[1]) if count[0] == "lit" else count[1]

    @staticmethod
    def _listed(body: list, call) -> list[str]:
        """The calls of fixed items as the elements of a list, each with its shape."""
        lines, before = [], None
        for _, item, vals, _ in body:
            text = call(item, vals)
            text[-1] += ","
            shape = _merge_shapes([e[0].shape for e in item.elems if e])
            if shape is not None and shape != before:
                text[-1] += f"  # {shape}"
            before = shape
            lines += text
        return lines

    def _class_doc(self, key: tuple, insts: list[_Inst]) -> str:
        paths = [inst.path for inst in insts]
        if key[0] == "block" and len(paths) == 1:
            return f"{paths[0]}: {self.graph.groups[paths[0]].label}."
        head = f"Block `{key[1]}`, {len(paths)} calls: " if key[0] == "block" else ""
        shown = 1
        while shown < len(paths) and len(head) + len(", ".join(paths[:shown + 1])) < 80:
            shown += 1
        more = len(paths) - shown
        return head + ", ".join(paths[:shown]) + (f" and {more} more" if more else "") + "."

    def _holder(self, path: str) -> None:
        """A scope that is not one call (a path leaves it and comes back): a class that holds its
        layers, which the enclosing forward calls."""
        elems = [self._child(k, c) for k, c in self.scopes[path].children]
        lines = ["def __init__(self):", "    super().__init__()"]
        for e in elems:
            lines += ["    " + line for line in _set_child(e.name, _render(e, _lits(e), [e]))]
        text = tuple(lines)
        name = self.holders.get(text)
        if name is None:
            name = self.holders[text] = self._fresh(self._base(path))
            doc = f"{path}; only holds layers, which the enclosing module's forward calls."
            self.blocks.append("\n".join([f"class {name}(nn.Module):", f"    {_docstring(doc)}", ""] +
                                         ["    " + line for line in lines]))
        self.calls[path] = _Elem(_local(path), "class", name, [], [], ("class", name), self._out_shape(path))

    def root_init(self) -> list[str]:
        lines = ["def __init__(self):", "    super().__init__()"]
        for kind, child in self.scopes[""].children:
            e = self._child(kind, child)
            lines += ["    " + line for line in _set_child(e.name, _render(e, _lits(e), [e]))]
        return lines

    def _base(self, path: str) -> str:
        local = _local(path)
        return (_camel(local) if not local.isdigit() else "") or "Group"

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
    """One comment for every instance of a shared class: dimensions that differ become '?';
    None where nothing is known."""
    shapes = [s for s in shapes if s is not None]
    if not shapes or any(len(s) != len(shapes[0]) for s in shapes):
        return None
    dims = [str(v[0]) if len(set(v)) == 1 else "?" for v in zip(*shapes)]
    return None if all(d == "?" for d in dims) else "x".join(dims)


def _render_forward(entries: list, flag: str | None = None) -> list[str]:
    """Forward lines with their shape comments, merged over the instances (`marks`: one comment
    per instance, None where it does not run the line). ("COND", a, b) is the part two kinds of
    instance do differently: `if flag:` a, `else:` b."""
    out = []
    for entry in entries:
        if entry[0] == "COND":
            _, a, b = entry
            if a:
                out.append(f"    if {flag}:")
                out += _render_forward(a)
                if b:
                    out.append("    else:")
                    out += _render_forward(b)
            elif b:
                out.append(f"    if not ({flag}):" if " " in flag else f"    if not {flag}:")
                out += _render_forward(b)
            continue
        line, marks = entry
        marks = [m for m in marks if m is not None]
        if not marks:
            out.append(line)
            continue
        text = _merge_shapes([m[1] for m in marks])
        if marks[0][0] == "input":
            if text:
                out.append(line + text)
        elif text:
            out.append(f"{line}  # {text}")
        else:
            out.append(line)
    return out


def _docstring(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', "'")
    return f'"""{text}"""'


def _shown_path(path: str) -> str:
    """The spec's path as the file names it: relative (to the working directory when the spec is
    under it, else its file name), so that the file does not depend on where it was made."""
    if not os.path.isabs(path):
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return os.path.basename(path)
    return os.path.basename(path) if relative.startswith("..") else relative


def emit_source(graph: Graph, source: str | None = None) -> str:
    """Standalone PyTorch source for `graph`: `import torch`, `from torch import nn`, no archdsl.

    `source` is the spec path the docstring names (default: the path the graph was loaded from),
    written relative.
    """
    e = _Emitter(graph)
    e.run()
    totals = {"params": total(graph, "params")}
    source = _shown_path(source or graph.nodes[0].span.source.path)
    top = e.top
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
    init = e.root_init()  # before the helper classes: it notes those the top level uses
    blocks += [_helper_source(name).rstrip("\n") for name in sorted(e.helpers)]
    blocks += e.blocks
    frozen = _frozen(e, "")
    if frozen:
        init += ["    # frozen (`freeze` in the spec): not trained"] + [f"    {f}.requires_grad_(False)" for f in frozen]
    fwd, comments = e.forward("")
    if e.checkpoints:
        missed = [path for path, done in e.checkpoints.items() if not done]
        if missed:
            from ..errors import UsageError

            raise UsageError(f"-o: the checkpointed block '{missed[0]}' is not one call in the generated source "
                             "(it is a layer of an nn.Sequential)", hint="checkpoint the block around it, or build the module without -o", code="E0706")
        blocks[0] += "\nfrom torch.utils.checkpoint import checkpoint"
    body = [_docstring(f"{graph.name}: {totals['params']:,} parameters."), ""] + init + [""]
    body += _render_forward([(line, [mark]) for line, mark in zip(fwd, comments)])
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


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + line if line else line for line in lines]


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
