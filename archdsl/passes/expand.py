"""AST -> IR: blocks, repetition, defaults, names, references, imports, frozen parts.

Naming, the contract with PyTorch's `state_dict` (docs/language.md, "Names"):
- every child of a scope is named by its label, or by its position in the scope (0, 1, 2, ...
  as in `nn.Sequential`); a labelled child uses up a position too;
- a label on a single layer names the layer; a label on several layers (a chain, attached
  `bn`/`act`, a repetition) makes them a group, which is a scope of its own;
- a block call is always a scope (labelled, or numbered by position);
- unlabelled braces `{ ... }`, `repeat`, `for`, `if` and merge branches add no scope;
- a merge node is named by its label or by its kind (`concat`, `add_1`), and uses up no position.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .. import ast as A
from ..errors import ExpandError, LimitError, Span, did_you_mean
from ..ir import Graph, GroupInfo, Node, ShapeAssertion
from ..limits import MAX_CALL_DEPTH, MAX_IMPORT_DEPTH, MAX_NAME, MAX_NODES, MAX_REPEAT
from ..ops import ACTIVATIONS, ALIASES, LAYER_NAMES, OPS, Op, lookup
from ..ops.base import REQUIRED, Arg, value_text
from .evaluate import Env, Tensor, evaluate


@dataclass
class _Scope:
    prefix: str  # "" at the top, "layer1.0." inside
    input: int  # the tensor `@input` refers to
    parent: "_Scope | None" = None
    barrier: bool = False  # a block body: references do not look outside it
    position: int = 0
    names: dict = field(default_factory=dict)  # label -> node id of its output
    merges: dict = field(default_factory=dict)

    def child_name(self, label: str | None) -> str:
        index = self.position
        self.position += 1
        return self.prefix + (label if label is not None else str(index))

    def merge_name(self, kind: str) -> str:
        n = self.merges.get(kind, 0)
        self.merges[kind] = n + 1
        return self.prefix + (kind if n == 0 else f"{kind}_{n}")

    def find(self, name: str) -> int | None:
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            if scope.barrier:
                return None
            scope = scope.parent
        return None

    def visible(self) -> set[str]:
        out, scope = set(), self
        while scope is not None:
            out |= scope.names.keys()
            if scope.barrier:
                break
            scope = scope.parent
        return out


def expand(program: A.Program, overrides: dict[str, A.Expr] | None = None, read=None) -> Graph:
    """Expand a parsed spec into a Graph. `overrides` are `--set NAME=VALUE` constants."""
    return _Expander(program, overrides or {}, read or _read_file).run()


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


class _Expander:
    def __init__(self, program: A.Program, overrides: dict[str, A.Expr], read):
        self.program = program
        self.overrides = overrides
        self.used_overrides: set[str] = set()
        self.read = read
        self.defs: dict[str, A.Def] = {}
        self.globals = Env()
        self.graph = Graph(name=_stem(program.source.path))
        self.names: dict[str, int] = {}  # full name -> node id
        self.call_stack: list[str] = []
        self.freezes: list[tuple[str, Span]] = []
        self.outputs: list[A.Ref] | None = None
        self.loaded: dict[str, A.Program] = {}

    # ---- driver ----------------------------------------------------------------------------
    def run(self) -> Graph:
        self._register_defs(self.program, [os.path.abspath(self.program.source.path)])
        top = _Scope(prefix="", input=-1, barrier=True)
        current = self._body(self.program.body, -1, top, self.globals, {}, top_level=True)
        if not self.graph.nodes:
            raise ExpandError("the spec has no input", Span(self.program.source, 1, 1, 1, 2), "start it with e.g. `input 224x224x3`")
        unknown = set(self.overrides) - self.used_overrides
        if unknown:
            name = sorted(unknown)[0]
            defined = sorted(self.globals.names())
            hint = did_you_mean(name, defined) or (f"the spec defines: {', '.join(defined)}" if defined else "the spec defines no constants with `let`")
            raise ExpandError(f"--set {name}: the spec has no constant named '{name}'", None, hint)
        if self.outputs is None:
            self.graph.outputs = [current]
        else:
            for ref in self.outputs:
                node = top.find(ref.name) if ref.name != "input" else 0
                if node is None:
                    raise ExpandError(f"there is no tensor named '{ref.name}'", ref.span, did_you_mean(ref.name, top.visible()))
                self.graph.outputs.append(node)
        self._apply_freezes()
        return self.graph

    # ---- definitions and imports -------------------------------------------------------------
    def _register_defs(self, program: A.Program, stack: list[str]) -> None:
        for stmt in program.body:
            if isinstance(stmt, A.Def):
                if stmt.name in self.defs:
                    first = self.defs[stmt.name].span
                    raise ExpandError(f"block '{stmt.name}' is defined twice (first at {first})", stmt.span)
                if lookup(stmt.name) is not None:
                    raise ExpandError(f"'{stmt.name}' is a layer kind and cannot be a block name", stmt.span)
                for param in stmt.params:
                    check_bindable(param.name, param.span)
                self.defs[stmt.name] = stmt
            elif isinstance(stmt, A.Use):
                path = self._use_path(stmt, program)
                first = path not in self.loaded
                library = self._load_use(stmt, program, stack)
                if first:  # a file used twice (directly or through two libraries) is read once
                    self._register_defs(library, stack + [path])

    def _use_path(self, stmt: A.Use, program: A.Program) -> str:
        base = os.path.dirname(os.path.abspath(program.source.path))
        return os.path.normpath(os.path.join(base, stmt.path))

    def _load_use(self, stmt: A.Use, program: A.Program, stack: list[str]) -> A.Program:
        from ..parser import parse

        path = self._use_path(stmt, program)
        if path in stack:
            cycle = " -> ".join(os.path.basename(p) for p in stack[stack.index(path):] + [path])
            raise ExpandError(f"import cycle: {cycle}", stmt.span)
        if len(stack) > MAX_IMPORT_DEPTH:
            raise LimitError(f"`use` is nested more than {MAX_IMPORT_DEPTH} files deep", stmt.span)
        if path not in self.loaded:
            try:
                text = self.read(path)
            except OSError as err:
                raise ExpandError(f"cannot read '{stmt.path}': {err.strerror}", stmt.span) from None
            library = parse(text, os.path.relpath(path))
            for s in library.body:
                if not isinstance(s, (A.Def, A.Let, A.Use)):
                    raise ExpandError("a file read with `use` may hold only def, let and use", s.span)
            self.loaded[path] = library
        return self.loaded[path]

    # ---- statements --------------------------------------------------------------------------
    def _body(self, stmts, current: int, scope: _Scope, env: Env, defaults: dict, top_level=False) -> int:
        for stmt in stmts:
            if isinstance(stmt, A.LayerStmt):
                current = self._layer_stmt(stmt, current, scope, env, defaults)
            elif isinstance(stmt, A.Let):
                check_bindable(stmt.name, stmt.span)
                value = self._let_value(stmt, env, top_level)
                if top_level:
                    self.globals.values[stmt.name] = value
                else:
                    env = env.child({stmt.name: value})
            elif isinstance(stmt, A.SetDefault):
                defaults = self._set(stmt, env, defaults)
            elif isinstance(stmt, A.Input):
                current = self._input(stmt, env, top_level)
                scope.input = current
            elif isinstance(stmt, A.If):
                chosen = stmt.then if self._truth(stmt.condition, env) else stmt.otherwise
                current = self._body(chosen, current, scope, env, defaults)
            elif isinstance(stmt, A.Repeat):
                count = self._count(stmt.times, env)
                for _ in range(count):
                    current = self._body(stmt.body, current, scope, env, defaults)
            elif isinstance(stmt, A.For):
                check_bindable(stmt.var, stmt.span)
                start, end = self._int(stmt.start, env), self._int(stmt.end, env)
                if end - start + 1 > MAX_REPEAT:
                    raise LimitError(f"the loop runs {end - start + 1:,} times; the limit is {MAX_REPEAT:,}", stmt.span)
                for i in range(start, end + 1):
                    current = self._body(stmt.body, current, scope, env.child({stmt.var: i}), defaults)
            elif isinstance(stmt, A.Def):
                if not top_level:
                    raise ExpandError("blocks are defined at the top level of a file", stmt.span)
            elif isinstance(stmt, A.Use):
                if not top_level:
                    raise ExpandError("`use` belongs at the top level of a file", stmt.span)
                self._run_library(self._load_use(stmt, self.program, [os.path.abspath(self.program.source.path)]))
            elif isinstance(stmt, A.Output):
                if not top_level:
                    raise ExpandError("`output` belongs at the top level of the spec", stmt.span)
                self.outputs = list(stmt.refs)
            elif isinstance(stmt, A.Freeze):
                self.freezes.extend(stmt.paths)
            elif isinstance(stmt, A.Network):
                self.graph.name = stmt.name
            else:  # pragma: no cover
                raise AssertionError(stmt)
        return current

    def _run_library(self, library: A.Program) -> None:
        for stmt in library.body:
            if isinstance(stmt, A.Let):
                self.globals.values[stmt.name] = self._let_value(stmt, self.globals, True)
            elif isinstance(stmt, A.Use):
                self._run_library(self._load_use(stmt, library, [os.path.abspath(library.source.path)]))

    def _let_value(self, stmt: A.Let, env: Env, top_level: bool):
        if top_level and stmt.name in self.overrides:
            self.used_overrides.add(stmt.name)
            return evaluate(self.overrides[stmt.name], env, symbols=True)
        return evaluate(stmt.value, env, symbols=True)

    def _truth(self, expr, env) -> bool:
        value = evaluate(expr, env)
        if isinstance(value, bool) or isinstance(value, int):
            return bool(value)
        raise ExpandError("the condition of `if` must be yes/no or a number", expr.span)

    def _int(self, expr, env) -> int:
        value = evaluate(expr, env)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ExpandError("expected a whole number", expr.span)
        return value

    def _count(self, expr, env) -> int:
        count = self._int(expr, env)
        if count < 0:
            raise ExpandError(f"cannot repeat {count} times", expr.span)
        if count > MAX_REPEAT:
            raise LimitError(f"repeating {count:,} times is more than the limit of {MAX_REPEAT:,}", expr.span)
        return count

    def _input(self, stmt: A.Input, env: Env, top_level: bool) -> int:
        if not top_level or self.graph.nodes:
            raise ExpandError("a spec has exactly one `input`, at the top level, before its first layer", stmt.span)
        value = evaluate(stmt.value, env)
        dims = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(dims, tuple) or not all(isinstance(d, int) and d > 0 for d in dims) or len(dims) > 4:
            raise ExpandError("the input is a size such as 224x224x3 (HxWxC), 1000x12 (LxC), 16x112x112x3 (DxHxWxC) or 784", stmt.span)
        _check_swapped(dims, stmt.span)
        shape = dims if len(dims) == 1 else (dims[-1],) + dims[:-1]
        self._add(OPS["input"], {"shape": shape}, (), stmt.span, "input")
        return 0

    # ---- defaults -----------------------------------------------------------------------------
    def _set(self, stmt: A.SetDefault, env: Env, defaults: dict) -> dict:
        op = lookup(stmt.kind)
        if op is None or op.name in ("input", "concat", "add"):
            raise ExpandError(f"unknown layer kind '{stmt.kind}'", stmt.span, did_you_mean(stmt.kind, LAYER_NAMES))
        given = self._bind_args(op, stmt.args, env, stmt.kind, positional_ok=False)
        new = dict(defaults)
        new[op.name] = {**defaults.get(op.name, {}), **{k: v for k, (v, _) in given.items()}}
        return new

    # ---- layer statements ---------------------------------------------------------------------
    def _layer_stmt(self, stmt: A.LayerStmt, current: int, scope: _Scope, env: Env, defaults: dict) -> int:
        if not self.graph.nodes and not (len(stmt.chain) == 1 and isinstance(stmt.chain[0], A.Ref)):
            raise ExpandError("the spec has no input yet", stmt.span, "start it with e.g. `input 224x224x3`")
        count = 1 if stmt.repeat is None else stmt.repeat
        if count > MAX_REPEAT:
            raise LimitError(f"x{count:,} is more than the limit of {MAX_REPEAT:,} repetitions", stmt.span)
        if count == 0:
            raise ExpandError("x0 repeats nothing", stmt.span)
        label = self._label(stmt.label, env) if stmt.label else None
        layers = [link for link in stmt.chain if not isinstance(link, A.Ref)]
        if label is not None and (count > 1 or len(layers) > 1):
            inner = self._open_group(scope, label, stmt, "group", current)
            for _ in range(count):
                for link in stmt.chain:
                    current = self._link(link, current, inner, env, defaults, None, stmt)
            scope.names[label] = current
        else:
            for _ in range(count):
                for link in stmt.chain:
                    current = self._link(link, current, scope, env, defaults, label, stmt)
            if label is not None:
                scope.names[label] = current
        if stmt.assertion is not None:
            self.graph.assertions.append(ShapeAssertion(current, stmt.assertion.dims, stmt.assertion.span))
        return current

    def _label(self, label: A.Label, env: Env) -> str:
        def fill(match):
            name = match.group(1)
            try:
                return str(env.lookup(name))
            except KeyError:
                raise ExpandError(f"unknown name '{name}' in the label", label.span, did_you_mean(name, env.names())) from None

        return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", fill, label.template)

    def _open_group(self, scope: _Scope, label: str | None, where, kind: str, current: int, barrier=False, text="") -> _Scope:
        """A new scope. `text` describes a block call; other groups are described by their layers."""
        path = scope.child_name(label)
        if path in self.graph.groups or path in self.names:
            raise ExpandError(f"the name '{path}' is already used", where.span, "give each group its own name")
        self._check_name(path, where.span)
        self.graph.groups[path] = GroupInfo(path, text, kind, where.span)
        return _Scope(prefix=path + ".", input=current if barrier else scope.input, parent=scope, barrier=barrier)

    def _resolve(self, ref: A.Ref, scope: _Scope, env: Env) -> int:
        """A named tensor of this scope, `@input`, or a tensor passed to the block as an argument."""
        if ref.name == "input":
            return scope.input if scope.input >= 0 else 0
        node = scope.find(ref.name)
        if node is None:
            try:
                value = env.lookup(ref.name)
            except KeyError:
                value = None
            if isinstance(value, Tensor):
                return int(value)
            hint = did_you_mean(ref.name, scope.visible() | {"input"})
            if _defined_outside(scope, ref.name):
                hint = f"a block sees only its own names: pass the tensor as an argument (`blockname @{ref.name}`)"
            raise ExpandError(f"there is no tensor named '{ref.name}' here", ref.span, hint)
        return node

    def _link(self, link, current, scope, env, defaults, label, stmt) -> int:
        if isinstance(link, A.Ref):
            if link is not stmt.chain[0]:
                raise ExpandError("a reference @name starts a line or a branch", link.span)
            if label is not None and len(stmt.chain) == 1:
                raise ExpandError("a label names layers; a reference alone creates none", stmt.label.span,
                                  f"continue from @{link.name} and label the layers after it")
            return self._resolve(link, scope, env)
        if isinstance(link, A.Group):
            if label is not None:
                inner = self._open_group(scope, label, link, "group", current)
                return self._body(link.body, current, inner, env, defaults)
            return self._body(link.body, current, scope, env, defaults)
        if isinstance(link, A.Merge):
            outs = []
            for branch in link.branches:
                if isinstance(branch, A.LayerStmt):
                    outs.append(self._layer_stmt(branch, current, scope, env, defaults))
                else:
                    outs.append(self._body((branch,), current, scope, env, defaults))
            if len(outs) < 2:
                raise ExpandError(f"{link.kind} needs at least two branches, one per line", link.span,
                                  "a branch that passes its input through is written `identity`")
            name = scope.prefix + label if label is not None else scope.merge_name(link.kind)
            return self._add(OPS[link.kind], {}, tuple(outs), link.span, name)
        return self._call(link, current, scope, env, defaults, label)

    def _call(self, call: A.Call, current, scope, env, defaults, label) -> int:
        if call.name in self.defs:
            return self._block(self.defs[call.name], call, current, scope, env, defaults, label)
        op = lookup(call.name)
        if op is None or op.name in ("input", "concat", "add"):
            candidates = LAYER_NAMES + list(self.defs) + list(ALIASES)
            hint = did_you_mean(call.name, candidates)
            if op is not None:
                hint = f"{call.name} merges branches: write `{call.name} {{ ... }}` with one branch per line"
            raise ExpandError(f"unknown layer or block '{call.name}'", _name_span(call), hint)
        given = self._bind_args(op, call.args, env, call.name)
        attrs = self._complete(op, given, defaults, call)
        extras = []
        if op.attaches:
            if attrs.pop("bn"):
                extras.append((OPS["bn"], self._complete(OPS["bn"], {}, defaults, call)))
            act = attrs.pop("act")
            if act != "none":
                extras.append((OPS[act], self._complete(OPS[act], {}, defaults, call)))
        if label is not None and extras:
            scope = self._open_group(scope, label, call, "group", current)
            label = None
        current = self._add(op, attrs, (current,), call.span, scope.child_name(label))
        for extra, extra_attrs in extras:
            current = self._add(extra, extra_attrs, (current,), call.span, scope.child_name(None))
        return current

    def _block(self, defn: A.Def, call: A.Call, current, scope, env, defaults, label) -> int:
        if defn.name in self.call_stack:
            chain = " -> ".join(self.call_stack[self.call_stack.index(defn.name):] + [defn.name])
            raise ExpandError(f"block '{defn.name}' calls itself ({chain})", call.span, "blocks cannot be recursive; use repetition")
        if len(self.call_stack) >= MAX_CALL_DEPTH:
            raise LimitError(f"blocks call each other more than {MAX_CALL_DEPTH} deep", call.span)
        values, shown = self._bind_block_args(defn, call, env, scope)
        inner = self._open_group(scope, label, call, "block", current, barrier=True, text=" ".join([defn.name, *shown]))
        self.call_stack.append(defn.name)
        try:
            out = self._body(defn.body, current, inner, self.globals.child(values), defaults)
        finally:
            self.call_stack.pop()
        if label is not None:
            scope.names[label] = out
        return out

    # ---- arguments ------------------------------------------------------------------------------
    def _bind_args(self, op: Op, args, env: Env, written: str, positional_ok=True) -> dict:
        """Arguments as written -> {name: (value, span)} (coerced), before defaults."""
        given: dict = {}
        free = list(op.positional)
        for arg in args:
            if isinstance(arg, A.Positional):
                value_expr = arg.value
                if isinstance(value_expr, A.Var) and op.arg(value_expr.name) is not None and op.arg(value_expr.name).flag \
                        and value_expr.name not in env.names():
                    name, value = value_expr.name, True
                else:
                    if not positional_ok or not free:
                        raise self._too_many(op, arg, written, positional_ok, value_expr, env)
                    name = free.pop(0)
                    value = evaluate(value_expr, env, symbols=op.arg(name).kind in ("choice", "act", "pad"))
            elif isinstance(arg, A.Stride):
                if not op.takes_stride:
                    raise ExpandError(f"{op.name} has no stride", arg.span)
                name, value = "stride", evaluate(arg.value, env)
            else:
                name = arg.name
                spec = op.arg(name)
                if spec is None or name in ("shape",):
                    options = [a.name for a in op.args]
                    raise ExpandError(
                        f"{op.name} has no option '{name}'", arg.span,
                        did_you_mean(name, options) or (f"its options are: {', '.join(options)}" if options else f"{op.name} takes no options"),
                    )
                value = evaluate(arg.value, env, symbols=True)
                if name in free:
                    free.remove(name)
            if name in given:
                raise ExpandError(f"'{name}' is given twice", arg.span)
            given[name] = (_coerce(op, op.arg(name), value, arg.span), arg.span)
        return given

    def _too_many(self, op, arg, written, positional_ok, value_expr, env):
        if not positional_ok:
            return ExpandError("`set` takes options such as act=relu or bn, not sizes", arg.span)
        if isinstance(value_expr, A.Var) and op.arg(value_expr.name) is not None and op.arg(value_expr.name).flag:
            name = value_expr.name
            return ExpandError(f"'{name}' here is a value, not the flag {name}", arg.span, f"write {name}={name} to pass it as the option")
        if isinstance(value_expr, A.Var) and value_expr.name not in env.names():
            flags = [a.name for a in op.args if a.flag]
            return ExpandError(f"unknown name '{value_expr.name}'", arg.span, did_you_mean(value_expr.name, flags + sorted(env.names())))
        usage = " ".join(op.positional)
        return ExpandError(f"{written} takes {len(op.positional)} plain argument{'s' if len(op.positional) != 1 else ''}"
                           f"{' (' + usage + ')' if usage else ''}; this one is extra", arg.span,
                           "options are written name=value")

    def _complete(self, op: Op, given: dict, defaults: dict, call) -> dict:
        attrs = {}
        kind_defaults = defaults.get(op.name, {})
        for spec in op.args:
            if spec.name in given:
                attrs[spec.name] = given[spec.name][0]
            elif spec.name in kind_defaults:
                attrs[spec.name] = kind_defaults[spec.name]
            elif spec.default is REQUIRED:
                usage = " ".join(op.positional)
                raise ExpandError(f"{op.name} needs {spec.name}", call.span, f"write `{op.name} {usage}`, e.g. {_EXAMPLES.get(op.name, op.name)}")
            else:
                attrs[spec.name] = spec.default
        return attrs

    def _bind_block_args(self, defn: A.Def, call: A.Call, env: Env, scope: _Scope) -> tuple[dict, list[str]]:
        params = {p.name: p for p in defn.params}
        values: dict = {}
        shown: list[str] = []
        free = [p.name for p in defn.params]
        for arg in call.args:
            if isinstance(arg, A.Positional):
                if not free:
                    raise ExpandError(f"block '{defn.name}' takes {len(defn.params)} argument{'s' if len(defn.params) != 1 else ''}; this one is extra", arg.span)
                name = free.pop(0)
            elif isinstance(arg, A.Stride):
                if "stride" not in params:
                    raise ExpandError(f"block '{defn.name}' has no parameter named stride", arg.span)
                name = "stride"
            else:
                name = arg.name
                if name not in params:
                    raise ExpandError(f"block '{defn.name}' has no parameter '{name}'", arg.span, did_you_mean(name, params))
            if name in values:
                raise ExpandError(f"'{name}' is given twice", arg.span)
            if name in free:
                free.remove(name)
            if isinstance(arg.value, A.Ref):
                values[name] = Tensor(self._resolve(arg.value, scope, env))
                text = "@" + arg.value.name
            else:
                values[name] = evaluate(arg.value, env, symbols=isinstance(arg, A.Option))
                text = value_text(values[name])
            shown.append(text if isinstance(arg, A.Positional) else f"/{text}" if isinstance(arg, A.Stride) else f"{name}={text}")
        block_env = self.globals.child(values)
        for p in defn.params:
            if p.name not in values:
                if p.default is None:
                    names = ", ".join(p.name for p in defn.params)
                    raise ExpandError(f"block '{defn.name}' needs {p.name}", call.span, f"its parameters are ({names})")
                values[p.name] = evaluate(p.default, block_env, symbols=True)
        return values, shown

    # ---- nodes ---------------------------------------------------------------------------------
    def _add(self, op: Op, attrs: dict, inputs: tuple, span: Span, name: str) -> int:
        nodes = self.graph.nodes
        if len(nodes) >= MAX_NODES:
            raise LimitError(f"the spec expands to more than {MAX_NODES:,} layers", span, "check the repetition counts")
        self._check_name(name, span)
        if name in self.names or name in self.graph.groups:
            other = nodes[self.names[name]] if name in self.names else None
            if other is None or not (_stateless(op) and other.op == op.name and other.attrs == attrs):
                first = other.span if other is not None else self.graph.groups[name].span
                raise ExpandError(f"the name '{name}' is already used (at {first})", span,
                                  "only a layer without weights may be applied twice under one name")
        node = Node(len(nodes), name, op.name, attrs, inputs, span)
        nodes.append(node)
        self.names.setdefault(name, node.id)
        return node.id

    def _check_name(self, name: str, span: Span) -> None:
        if len(name) > MAX_NAME:
            raise LimitError(f"the layer name is {len(name)} characters long; the limit is {MAX_NAME}", span)

    def _apply_freezes(self) -> None:
        nodes = self.graph.nodes
        for path, span in self.freezes:
            hit = False
            for node in nodes:
                if node.name == path or node.name.startswith(path + "."):
                    node.frozen = hit = True
            if not hit:
                known = set(self.graph.groups) | {n.name for n in nodes}
                raise ExpandError(f"nothing is named '{path}'", span, did_you_mean(path, known))


_EXAMPLES = {"conv": "`conv 64 3x3`", "convT": "`convT 64 2x2 /2`", "fc": "`fc 4096`", "maxpool": "`maxpool 2x2`",
             "avgpool": "`avgpool 2x2`", "groupnorm": "`groupnorm 32`", "adaptiveavgpool": "`adaptiveavgpool 7x7`"}


def _defined_outside(scope: _Scope, name: str) -> bool:
    while scope is not None and not scope.barrier:
        scope = scope.parent
    scope = scope.parent if scope is not None else None
    while scope is not None:
        if name in scope.names:
            return True
        scope = scope.parent
    return False


_RESERVED = re.compile(r"x[0-9]+$")


def check_bindable(name: str, span: Span) -> None:
    """`x2` is a repetition wherever a layer's arguments are read, so it cannot be a name."""
    if _RESERVED.match(name):
        raise ExpandError(f"'{name}' reads as a repetition (x2 repeats twice) and cannot be a name", span)


def _stateless(op: Op) -> bool:
    return type(op).params is Op.params


def _coerce(op: Op, spec: Arg, value, span: Span):
    kind = spec.kind

    def fail(expected: str):
        shown = "yes" if value is True else "no" if value is False else "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
        return ExpandError(f"{op.name} {spec.name} must be {expected}, not {shown}", span)

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "any":
        return value
    if kind == "int":
        if not is_int:
            raise fail("a whole number")
        if value < spec.minimum:
            raise fail(f"at least {spec.minimum}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("yes or no")
        return value
    if kind == "choice":
        if value not in spec.choices:
            raise fail("one of " + ", ".join(spec.choices))
        return value
    if kind == "act":
        value = ALIASES.get(value, value) if isinstance(value, str) else value
        if value != "none" and value not in ACTIVATIONS:
            raise fail("none or one of " + ", ".join(ACTIVATIONS))
        return value
    if kind in ("size", "pad"):
        if kind == "pad" and value in ("same", "valid"):
            return value
        if value is None and spec.default is None:
            return None
        if is_int:
            values = (value,)
        elif isinstance(value, tuple):
            values = value
        else:
            raise fail("a size such as 3 or 3x3" + (", same or valid" if kind == "pad" else ""))
        if any(v < spec.minimum for v in values):
            raise fail(f"at least {spec.minimum}")
        return value
    raise AssertionError(kind)  # pragma: no cover


def _check_swapped(dims: tuple, span: Span) -> None:
    """`3x224x224` where `224x224x3` was meant: channels written first."""
    if len(dims) >= 3 and dims[0] in (1, 3, 4) and dims[-1] >= 8 and len(set(dims[1:])) == 1:
        fixed = "x".join(map(str, dims[1:] + dims[:1]))
        raise ExpandError(
            f"the input {'x'.join(map(str, dims))} has {dims[-1]} channels and is {dims[0]} high: it looks swapped",
            span,
            f"archdsl writes inputs as the slides do, channels last (HxWxC): did you mean `input {fixed}`?",
        )


def _name_span(call: A.Call) -> Span:
    s = call.span
    return Span(s.source, s.line, s.column, s.line, s.column + len(call.name))


def _stem(path: str) -> str:
    if path.startswith("<"):
        return "network"
    return os.path.splitext(os.path.basename(path))[0] or "network"
