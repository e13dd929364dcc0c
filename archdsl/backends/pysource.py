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
    children: list = field(default_factory=list)  # ("leaf", name) | ("scope", path), registration order
    nodes: list = field(default_factory=list)  # every node id in the subtree
    convex: bool = True
    cls: str = ""


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


def _build_scopes(graph: Graph) -> tuple[dict, dict]:
    """One _Scope per group of the IR's hierarchy, with its children in registration order."""
    tree = graph.hierarchy()
    scopes = {"": _Scope("", graph.name, "network")}
    for path, info in graph.groups.items():
        scopes[path] = _Scope(path, info.label, info.kind)
    for path, scope in scopes.items():
        scope.nodes = [i for i in tree.members[path] if i != 0]
    owner = {node.id: tree.node_parent[node.id] for node in graph.nodes[1:]}  # the scope a node belongs to directly
    # children in registration order: the first node that installs a module under each child
    first: dict[str, dict] = {p: {} for p in scopes}
    for node in graph.nodes[1:]:
        merge = _is_merge(node)
        path, child = owner[node.id], None if merge else ("leaf", node.name)
        while True:
            order = (merge, node.id)
            if child is not None and (child not in first[path] or order < first[path][child]):
                first[path][child] = order
            if not path:
                break
            child, path = ("scope", path), tree.group_parent[path]
    for path, scope in scopes.items():
        scope.children = sorted(first[path], key=lambda c: first[path][c])
    return scopes, owner


def _convexity(graph: Graph, scopes: dict) -> None:
    """A scope is called as one function only when no path leaves it and comes back."""
    n = len(graph.nodes)
    anc = [0] * n
    for node in graph.nodes:
        for i in node.inputs:
            anc[node.id] |= anc[i] | (1 << i)
    desc = [0] * n
    readers = graph.consumers()
    for node in reversed(graph.nodes):
        for j in readers[node.id]:
            desc[node.id] |= desc[j] | (1 << j)
    for path, scope in scopes.items():
        if not path:
            continue
        mask = a = d = 0
        for i in scope.nodes:
            mask |= 1 << i
            a |= anc[i]
            d |= desc[i]
        scope.convex = not (a & d & ~mask)


# --------------------------------------------------------------------------- emission

class _Emitter:
    def __init__(self, graph: Graph):
        self.graph = graph
        if not graph.analysed:
            raise ValueError("emit_source() takes an analysed graph (Network.analysed())")
        self.nodes = graph.nodes
        self.readers = graph.consumers()
        self.scopes, self.owner = _build_scopes(graph)
        _convexity(graph, self.scopes)
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
    def _units(self, path: str, prefix: tuple) -> list[dict]:
        """The statements of `path`'s forward: layers, merges and calls of convex child scopes."""
        units = []
        scope = self.scopes[path]
        direct = [i for i in scope.nodes if self.owner[i] == path]
        for i in direct:
            node = self.graph.nodes[i]
            units.append({"kind": "merge" if _is_merge(node) else "leaf", "nodes": {i}, "node": i,
                          "attr": prefix + (_local(node.name),)})
        for kind, child in scope.children:
            if kind != "scope":
                continue
            sub = self.scopes[child]
            if sub.convex:
                units.append({"kind": "call", "nodes": set(sub.nodes), "scope": child,
                              "attr": prefix + (_local(child),)})
            else:
                units.extend(self._units(child, prefix + (_local(child),)))
        for u in units:
            ins = []
            for i in sorted(u["nodes"]):
                for j in self.graph.nodes[i].inputs:
                    if j not in u["nodes"] and j not in ins:
                        ins.append(j)
            u["inputs"] = ins
            u["outputs"] = self._scope_io(u["scope"])[1] if u["kind"] == "call" else [u["node"]]
            u["first"] = min(u["nodes"])
        return units

    def _scope_io(self, path: str) -> tuple[list[int], list[int]]:
        if not path:
            return [0], list(self.graph.outputs)
        members = set(self.scopes[path].nodes)
        ins = []
        for i in sorted(members):
            for j in self.graph.nodes[i].inputs:
                if j not in members and j not in ins:
                    ins.append(j)
        outs = sorted(i for i in members if i in self.graph.outputs or any(r not in members for r in self.readers[i]))
        return ins, outs or [max(members)]  # a part nothing reads still returns its last tensor

    # ---- one class
    def forward(self, path: str) -> tuple[list[str], list]:
        """The lines of `forward` and, per line, the shape for its comment (or None)."""
        params, outs = self._scope_io(path)
        units = self._units(path, ())
        producer = {}
        for k, u in enumerate(units):
            for o in u["outputs"]:
                producer[o] = k
        # topological order, spec order where free
        deps = [{producer[i] for i in u["inputs"] if i in producer} for u in units]
        done, order = set(), []
        while len(order) < len(units):
            ready = [k for k in range(len(units)) if k not in done and deps[k] <= done]
            k = min(ready, key=lambda k: units[k]["first"])
            done.add(k)
            order.append(units[k])
        units = order
        last = {}
        n_readers = {}
        for k, u in enumerate(units):
            for i in u["inputs"]:
                last[i] = k
                n_readers[i] = n_readers.get(i, 0) + 1
        for o in outs:
            last[o] = len(units)
        var = {}
        names = ["x"] + [("skip" if k == 1 else f"skip{k}") for k in range(1, len(params))]
        for p, name in zip(params, names):
            var[p] = name
        lines = [f"def forward(self, {', '.join(names)}):"]
        comments = [None]
        for p, name in zip(params, names):
            lines.append(f"    # {name}: ")
            comments.append(("input", self._shape(p)))

        def live(k):
            return {var[v] for v in var if last.get(v, -1) > k}

        generic = lambda name: name in ("x", "out") or (name.startswith("out") and name[3:].isdigit())

        for k, u in enumerate(units):
            taken = live(k)
            args = [var[i] for i in u["inputs"]]
            local = u["attr"][-1]
            named = u["kind"] == "call" and _is_ident(local) and local not in taken
            new = []
            for index, o in enumerate(u["outputs"]):
                first_in = u["inputs"][0] if u["inputs"] else None
                name = None
                many = n_readers.get(o, 0) + (o in outs) > 1
                if index == 0 and named and many:
                    name = local
                elif index == 0 and first_in is not None and generic(var[first_in]) and last[first_in] == k \
                        and (u["kind"] == "merge" or n_readers[first_in] == 1) and var[first_in] not in taken:
                    name = var[first_in]
                elif index == 0 and named:
                    name = local
                else:
                    for cand in ["x", "out"] + [f"out{j}" for j in range(2, 1000)]:
                        if cand not in taken and cand not in new:
                            name = cand
                            break
                new.append(name)
                taken = taken | {name}
            for o, name in zip(u["outputs"], new):
                var[o] = name
            target = ", ".join(new)
            shape = self._shape(u["outputs"][0]) if len(u["outputs"]) == 1 else None
            if u["kind"] == "merge":
                node = self.graph.nodes[u["node"]]
                if OPS[node.op].lowering.call == "cat":
                    expr = f"torch.cat([{', '.join(args)}], 1)"
                elif node.inplace:  # into the first branch, as torchvision's `out += identity`
                    expr = args[0] + "".join(f".add_({a})" for a in args[1:])
                else:
                    expr = " + ".join(args)
                lines.append(f"    {target} = {expr}")
                comments.append(("out", shape))
                continue
            attr = _attr("self", u["attr"])
            if u["kind"] == "leaf":
                node = self.graph.nodes[u["node"]]
                if OPS[node.op].lowering.flattens(node.resolved):
                    lines.append(f"    {target} = torch.flatten({args[0]}, 1)")
                    comments.append(("out", (prod(self.nodes[node.inputs[0]].shape),)))
                    args = [target]
                before = self._shape(u["inputs"][0])
                lines.append(f"    {target} = {attr}({', '.join(args)})")
                comments.append(("out", shape if shape != before else None))
            else:
                lines.append(f"    {target} = {attr}({', '.join(args)})")
                comments.append(("out", shape))
        result = [var[o] for o in outs]
        lines.append(f"    return {', '.join(result)}")
        comments.append(None)
        return lines, comments

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
        layers = [i for i in e.scopes[name].nodes if not _is_merge(e.graph.nodes[i])]
        if layers and all(e.graph.nodes[i].frozen for i in layers):
            result.append(_attr("self", parts))
        elif any(e.graph.nodes[i].frozen for i in layers):
            result += _frozen(e, name, parts)
    return result
