"""The statement walk: every statement of the spec, in order, with blocks, repetition and
branches expanded, appends its layers to the graph."""

from typing import NamedTuple

from ... import ast as A
from ...errors import ArchError, Errors, ExpandError, Frame, LimitError, Span, did_you_mean
from ...ir import Graph, ShapeAssertion
from ...limits import MAX_BRANCHES, MAX_CALL_DEPTH, MAX_DEPTH, MAX_NODES, MAX_REPEAT, MAX_STEPS
from ...ops import ALIASES, LAYER_NAMES, OPS, lookup
from ..evaluate import POISONED, Cascade, Env, Tensor, evaluate
from .arguments import bind_block_args, bind_layer_args, fill_defaults
from .builder import Builder
from .freeze import apply_checkpoints, apply_freezes
from .imports import Imports, collect_defs, read_file, through_use
from .register import apply_registrations
from .scopes import Scope, check_bindable, fill_label, network_name, resolve


def expand(program: A.Program, overrides: dict[str, A.Expr] | None = None, read=None,
           input: A.Expr | None = None, lib=()) -> Graph:
    """Expand a parsed spec into a Graph. `overrides` are `--set NAME=VALUE` constants; `input`
    (`--input 160x160x3`) replaces the size the spec's `input` statement writes; `lib`: library
    folders `use` may read besides ARCHDSL_PATH's (imports.py)."""
    return _Expander(program, overrides or {}, read or read_file, input, lib).run()


CALL_STEPS = 10  # a block call costs about as much as ten statements (binding, its scope and group)


class Context(NamedTuple):
    """Where statements are expanded: the scope that names their layers, the names they see, and
    the `set` defaults in force. A `let`, `set` or loop variable makes a new one for what follows."""

    scope: Scope
    env: Env
    defaults: dict  # op name -> {argument: value}


def trace_for(span: Span | None, frames: tuple) -> tuple:
    """The frames (innermost first) that the location `span` was reached through: from the
    innermost one whose text holds it outwards; none for a location outside them all (an error
    blamed on an outer loop)."""
    for i, frame in enumerate(frames):
        if frame.holds(span):
            return frames[i:]
    return ()


# Statements after which the expansion cannot go on: what follows would fail for their sake.
_FATAL = (A.Use, A.Input)


class _Expander:
    def __init__(self, program: A.Program, overrides: dict[str, A.Expr], read, input: A.Expr | None = None, lib=()):
        self.program = program
        self.overrides = overrides
        self.input_override = input
        self.used_overrides: set[str] = set()
        self.imports = Imports(read, program, lib)
        self.defs: dict[str, A.Def] = {}
        self.globals = Env()
        self.builder = Builder(network_name(program.source.path))
        self.graph = self.builder.graph
        self.builder.blame = lambda: self.active[0] if self.active else None
        self.call_stack: list[str] = []
        self.freezes: list[tuple[str, Span]] = []
        self.registrations: list[tuple[str, tuple, Span]] = []  # (scope path, names, span) of each `register`
        self.checkpoints: list[tuple[str, Span]] = []
        self.outputs: list[A.Ref] | None = None
        self.steps = 0  # the work budget (MAX_STEPS): statements, iterations, calls
        self.depth = 0  # bodies being expanded inside one another (MAX_DEPTH)
        self.active: list[Span] = []  # the loops and block calls in progress, outermost first
        self.errors = Errors()  # what the statements found, going on after each (a limit stops at once)
        self.cascades = 0  # errors that follow from an earlier one and are not said

    def run(self) -> Graph:
        try:
            graph = self._run()
        except ArchError as err:
            if err.trace is None:
                err.trace = ()
            if not isinstance(err, Cascade):
                self.errors.add(err)
            if not self.errors:
                raise
            raise self.errors.error() from None
        self.errors.check()
        return graph

    def _recover(self, err: ArchError, stmt) -> None:
        """An error in `stmt`: kept, and the expansion goes on after the statement; a limit, an
        error of `use` or `input`, and one that follows from an earlier error, are raised on."""
        if err.trace is None:
            err.trace = trace_for(err.span, self.builder.frames)
        if isinstance(err, Cascade) and self.errors:
            self.cascades += 1
            return
        if isinstance(err, LimitError) or isinstance(stmt, _FATAL) or not isinstance(err, ExpandError):
            raise err
        self.errors.add(err)  # raises them all once there are too many

    def _run(self) -> Graph:
        self.defs = collect_defs(self.program, self.imports)
        top = Scope(prefix="", input=-1, barrier=True)
        current = self._body(self.program.body, -1, Context(top, self.globals, {}), top_level=True)
        self.errors.check()  # what follows (outputs, freezes) would fail for the statements that did
        if not self.graph.nodes:
            raise ExpandError("the spec has no input", Span(self.program.source, 1, 1, 1, 2), "start it with e.g. `input 224x224x3`", code="E0301")
        self._check_overrides()
        if self.outputs is None:
            self.graph.outputs = [current]
        else:
            for ref in self.outputs:
                node = top.find(ref.name) if ref.name != "input" else 0
                if node is None:
                    raise ExpandError(f"there is no tensor named '{ref.name}'", ref.span, did_you_mean(ref.name, top.visible()), code="E0104")
                if node in self.graph.outputs:
                    raise ExpandError(f"@{ref.name} is already an output", ref.span, "name each output once", code="E0309")
                self.graph.outputs.append(node)
        apply_freezes(self.graph, self.freezes)
        apply_registrations(self.graph, self.registrations)
        apply_checkpoints(self.graph, self.checkpoints)
        return self.graph

    def _check_overrides(self) -> None:
        unknown = set(self.overrides) - self.used_overrides
        if unknown:
            name = sorted(unknown)[0]
            defined = sorted(self.globals.names())
            hint = did_you_mean(name, defined) or (f"the spec defines: {', '.join(defined)}" if defined else "the spec defines no constants with `let`")
            raise ExpandError(f"--set {name}: the spec has no constant named '{name}'", None, hint, code="E0109")

    # ---- statements --------------------------------------------------------------------------
    def _step(self, span: Span | None, cost: int = 1) -> None:
        self.steps += cost
        if self.steps > MAX_STEPS:
            raise LimitError(f"expanding the spec takes more than {MAX_STEPS:,} steps (statements, loop iterations "
                             "and block calls)", self.active[0] if self.active else span,
                             "check the repetition counts and the block calls inside loops", code="E0608")

    def _iterate(self, count: int, span: Span):
        """range(count), counted: after the first iteration, a loop whose iterations would pass the
        layer limit or the work limit is refused here, at the loop, before it runs on."""
        steps, nodes = self.steps, len(self.graph.nodes)
        errors = len(self.errors) + self.cascades
        self.active.append(span)
        try:
            for k in range(count):
                self._step(span)
                yield k
                if len(self.errors) + self.cascades > errors:  # said once is enough: every iteration would say it again
                    break
                if k == 0 and count > 1:
                    self._predict(count, self.steps - steps, len(self.graph.nodes) - nodes, span)
        finally:
            self.active.pop()

    def _predict(self, count: int, steps: int, layers: int, span: Span) -> None:
        total = len(self.graph.nodes) + layers * (count - 1)
        if total > MAX_NODES:
            raise LimitError(f"repeated {count:,} times, this expands the spec to more than {MAX_NODES:,} layers "
                             f"(about {total - 1:,})", span,
                             f"one repetition makes {layers:,} layers: check the repetition counts", code="E0607")
        if self.steps + steps * (count - 1) > MAX_STEPS:
            raise LimitError(f"repeated {count:,} times, this would take about {steps * count:,} steps of expansion; "
                             f"the limit is {MAX_STEPS:,}", span,
                             f"one repetition takes {steps:,} steps (statements, loop iterations and block calls)", code="E0608")

    def _body(self, stmts, current: int, ctx: Context, top_level=False) -> int:
        if not stmts:
            return current
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise LimitError(f"statements are nested more than {MAX_DEPTH} deep (braces, loops, branches and "
                                 "block calls together)", stmts[0].span, "flatten the nesting or call fewer blocks inside blocks", code="E0603")
            return self._statements(stmts, current, ctx, top_level)
        finally:
            self.depth -= 1

    def _statements(self, stmts, current: int, ctx: Context, top_level: bool) -> int:
        local = None  # the Env of this body's `let`s
        for stmt in stmts:
            try:
                self._step(stmt.span)
                if isinstance(stmt, A.LayerStmt):
                    current = self._layer_stmt(stmt, current, ctx)
                elif isinstance(stmt, A.Let):
                    check_bindable(stmt.name, stmt.span)
                    value = self._let_value(stmt, ctx.env, top_level)
                    if top_level:
                        self.globals.values[stmt.name] = value
                    elif ctx.env is not local:  # the body's first `let`: its names, for the statements after it
                        local = ctx.env.child({stmt.name: value})
                        ctx = ctx._replace(env=local)
                    else:  # later ones join it: a chain of one Env per `let` made every lookup walk them all
                        local.values[stmt.name] = value
                elif isinstance(stmt, A.SetDefault):
                    ctx = ctx._replace(defaults=self._set(stmt, ctx))
                elif isinstance(stmt, A.Input):
                    current = self._input(stmt, ctx.env, top_level)
                    ctx.scope.input = current
                elif isinstance(stmt, A.If):
                    chosen = stmt.then if _truth(stmt.condition, ctx.env) else stmt.otherwise
                    current = self._body(chosen, current, ctx)
                elif isinstance(stmt, A.Repeat):
                    count = _count(stmt.times, ctx.env)
                    for _ in self._iterate(count, stmt.span):
                        current = self._body(stmt.body, current, ctx)
                elif isinstance(stmt, A.For):
                    check_bindable(stmt.var, stmt.span)
                    start, end = _int(stmt.start, ctx.env), _int(stmt.end, ctx.env)
                    if end - start + 1 > MAX_REPEAT:
                        raise LimitError(f"the loop runs {end - start + 1:,} times; the limit is {MAX_REPEAT:,}", stmt.span, code="E0606")
                    frames = self.builder.frames
                    try:
                        for k in self._iterate(max(0, end - start + 1), stmt.span):
                            i = start + k
                            self.builder.frames = (Frame(stmt.span, f"this loop, with {stmt.var} = {i}", stmt.span),) + frames
                            current = self._body(stmt.body, current, ctx._replace(env=ctx.env.child({stmt.var: i})))
                    finally:
                        self.builder.frames = frames
                elif isinstance(stmt, A.Def):
                    if not top_level:
                        raise ExpandError("blocks are defined at the top level of a file", stmt.span, code="E0306")
                elif isinstance(stmt, A.Use):
                    if not top_level:
                        raise ExpandError("`use` belongs at the top level of a file", stmt.span, code="E0306")
                    with through_use(stmt):
                        self._run_library(self.imports.load(stmt, self.program), self.imports.path(stmt, self.program))
                elif isinstance(stmt, A.Output):
                    if not top_level:
                        raise ExpandError("`output` belongs at the top level of the spec", stmt.span, code="E0306")
                    self.outputs = list(stmt.refs)
                elif isinstance(stmt, A.Freeze):
                    self.freezes.extend(stmt.paths)
                elif isinstance(stmt, A.Checkpoint):
                    self.checkpoints.extend(stmt.paths)
                elif isinstance(stmt, A.Register):
                    self._register(stmt, ctx.scope)
                elif isinstance(stmt, A.Network):
                    self.graph.name = stmt.name
                    self.graph.records = _records(stmt, ctx.env)
                else:  # pragma: no cover
                    raise AssertionError(stmt)
            except ArchError as err:
                self._recover(err, stmt)
                if isinstance(stmt, A.Let):  # its name stays defined, so that what uses it fails quietly
                    if top_level:
                        self.globals.values[stmt.name] = POISONED
                    else:
                        ctx = ctx._replace(env=ctx.env.child({stmt.name: POISONED}))
                elif isinstance(stmt, A.LayerStmt) and stmt.label is not None:  # so does its label
                    try:
                        ctx.scope.names.setdefault(fill_label(stmt.label, ctx.env), current)
                    except ArchError:
                        pass
        return current

    def _register(self, stmt: A.Register, scope) -> None:
        self.registrations.append((scope.prefix.rstrip("."), stmt.names, stmt.span))

    def _run_library(self, library: A.Program, path: str) -> None:
        """The constants of a used file (and of the files it uses) become global, once per file."""
        if path in self.imports.ran:
            return
        self.imports.ran.add(path)
        for stmt in library.body:
            self._step(stmt.span)
            if isinstance(stmt, A.Let):
                self.globals.values[stmt.name] = self._let_value(stmt, self.globals, True)
            elif isinstance(stmt, A.Use):
                with through_use(stmt):
                    self._run_library(self.imports.load(stmt, library), self.imports.path(stmt, library))

    def _let_value(self, stmt: A.Let, env: Env, top_level: bool):
        if top_level and stmt.name in self.overrides:
            self.used_overrides.add(stmt.name)
            return evaluate(self.overrides[stmt.name], env, symbols=True)
        return evaluate(stmt.value, env, symbols=True)

    def _set(self, stmt: A.SetDefault, ctx: Context) -> dict:
        op = lookup(stmt.kind)
        if op is None or not op.writable:
            raise ExpandError(f"unknown layer kind '{stmt.kind}'", stmt.span, did_you_mean(stmt.kind, LAYER_NAMES), code="E0101")
        given = bind_layer_args(op, stmt.args, ctx.env, stmt.kind, positional_ok=False)
        new = dict(ctx.defaults)
        new[op.name] = {**ctx.defaults.get(op.name, {}), **{k: v for k, (v, _) in given.items()}}
        return new

    def _input(self, stmt: A.Input, env: Env, top_level: bool) -> int:
        if not top_level or self.graph.nodes:
            raise ExpandError("a spec has exactly one `input`, at the top level, before its first layer", stmt.span, code="E0302")
        given = self.input_override
        value = evaluate(stmt.value if given is None else given, env)
        dims = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
        # an --input value has no place in the spec to point at: its errors name the option instead
        span, where = (stmt.span, "") if given is None else (None, f"--input {_size_text(value)}: ")
        if not isinstance(dims, tuple) or not all(isinstance(d, int) and d > 0 for d in dims) or len(dims) > 4:
            raise ExpandError(where + "the input is a size such as 224x224x3 (HxWxC), 1000x12 (LxC), 16x112x112x3 (DxHxWxC) or 784", span, code="E0303")
        _check_swapped(dims, span, where)
        _check_batch_first(dims, span, where)
        shape = dims if len(dims) == 1 else (dims[-1],) + dims[:-1]
        self.builder.add(OPS["input"], {"shape": shape}, (), stmt.span, "input")
        return 0

    # ---- layer statements ---------------------------------------------------------------------
    def _layer_stmt(self, stmt: A.LayerStmt, current: int, ctx: Context) -> int:
        if not self.graph.nodes and not (len(stmt.chain) == 1 and isinstance(stmt.chain[0], A.Ref)):
            raise ExpandError("the spec has no input yet", stmt.span, "start it with e.g. `input 224x224x3`", code="E0301")
        count = 1 if stmt.repeat is None else stmt.repeat
        if count > MAX_REPEAT:
            raise LimitError(f"x{count:,} is more than the limit of {MAX_REPEAT:,} repetitions", stmt.span, code="E0606")
        if count == 0:
            raise ExpandError("x0 repeats nothing", stmt.span, code="E0209")
        label = fill_label(stmt.label, ctx.env) if stmt.label else None
        where, named = ctx, label  # the context of the links, and the label each takes
        if label is not None and (count > 1 or sum(not isinstance(link, A.Ref) for link in stmt.chain) > 1):
            where, named = Context(self.builder.open_group(ctx.scope, label, stmt, "group", current), ctx.env, ctx.defaults), None
        if count == 1:  # what _iterate(1, stmt.span) does, without its generator
            self.active.append(stmt.span)
            try:
                self._step(stmt.span)
                for link in stmt.chain:
                    current = self._link(link, current, where, named, stmt)
            finally:
                self.active.pop()
        else:
            for _ in self._iterate(count, stmt.span):
                for link in stmt.chain:
                    current = self._link(link, current, where, named, stmt)
        if label is not None:
            ctx.scope.names[label] = current
        if stmt.assertion is not None:
            self.graph.assertions.append(ShapeAssertion(current, stmt.assertion.dims, stmt.assertion.span))
        return current

    def _link(self, link, current: int, ctx: Context, label: str | None, stmt: A.LayerStmt) -> int:
        if type(link) is A.Call:  # the usual link, tested first
            return self._call(link, current, ctx, label)
        if isinstance(link, A.Ref):
            if link is not stmt.chain[0]:
                raise ExpandError("a reference @name starts a line or a branch", link.span, code="E0307")
            if label is not None and len(stmt.chain) == 1:
                raise ExpandError("a label names layers; a reference alone creates none", stmt.label.span,
                                  f"continue from @{link.name} and label the layers after it", code="E0307")
            return resolve(link, ctx.scope, ctx.env)
        if isinstance(link, A.Group):
            if label is not None:
                inner = self.builder.open_group(ctx.scope, label, link, "group", current)
                return self._body(link.body, current, ctx._replace(scope=inner))
            return self._body(link.body, current, ctx)
        if isinstance(link, A.Merge):
            if len(link.branches) > MAX_BRANCHES:
                raise LimitError(f"{link.kind} has {len(link.branches):,} branches; the limit is {MAX_BRANCHES:,}", link.span, code="E0613")
            outs = []
            for branch in link.branches:
                try:
                    if isinstance(branch, A.LayerStmt):
                        outs.append(self._layer_stmt(branch, current, ctx))
                    else:
                        outs.append(self._body((branch,), current, ctx))
                except ArchError as err:  # the other branches are independent of it: they are expanded too
                    self._recover(err, branch)
                    outs.append(current)
            if len(outs) < 2:
                raise ExpandError(f"{link.kind} needs at least two branches, one per line", link.span,
                                  "a branch that passes its input through is written `identity`", code="E0308")
            name = ctx.scope.prefix + label if label is not None else ctx.scope.merge_name(link.kind)
            return self.builder.add(OPS[link.kind], {}, tuple(outs), link.span, name)
        return self._call(link, current, ctx, label)

    def _call(self, call: A.Call, current: int, ctx: Context, label: str | None) -> int:
        if call.name in self.defs:
            return self._block(self.defs[call.name], call, current, ctx, label)
        op = lookup(call.name)
        if op is None or not op.writable:
            candidates = LAYER_NAMES + list(self.defs) + list(ALIASES)
            hint = did_you_mean(call.name, candidates)
            if op is not None:
                hint = f"{call.name} merges branches: write `{call.name} {{ ... }}` with one branch per line"
            raise ExpandError(f"unknown layer or block '{call.name}'", _name_span(call), hint, code="E0101")
        given = bind_layer_args(op, call.args, ctx.env, call.name)
        attrs = fill_defaults(op, given, ctx.defaults, call)
        extras = []
        if op.attaches:
            if attrs.pop("bn"):
                extras.append((OPS["bn"], fill_defaults(OPS["bn"], {}, ctx.defaults, call)))
            act = attrs.pop("act")
            if act != "none":
                extras.append((OPS[act], fill_defaults(OPS[act], {}, ctx.defaults, call)))
        scope = ctx.scope
        if label is not None and extras:
            scope = self.builder.open_group(scope, label, call, "group", current)
            label = None
        current = self.builder.add(op, attrs, (current,), call.span, scope.child_name(label))
        for extra, extra_attrs in extras:
            current = self.builder.add(extra, extra_attrs, (current,), call.span, scope.child_name(None))
        return current

    def _block(self, defn: A.Def, call: A.Call, current: int, ctx: Context, label: str | None) -> int:
        if defn.name in self.call_stack:
            chain = " -> ".join(self.call_stack[self.call_stack.index(defn.name):] + [defn.name])
            raise ExpandError(f"block '{defn.name}' calls itself ({chain})", call.span, "blocks cannot be recursive; use repetition", code="E0401")
        if len(self.call_stack) >= MAX_CALL_DEPTH:
            raise LimitError(f"blocks call each other more than {MAX_CALL_DEPTH} deep", call.span, code="E0609")
        self._step(call.span, CALL_STEPS)
        frames = self.builder.frames
        called = (Frame(call.span, f"this call of block '{defn.name}'", defn.span),) + frames
        try:
            values, shown = bind_block_args(defn, call, ctx.env, ctx.scope, self.globals)
        except ArchError as err:  # one in a parameter's default is inside the block: this call led there
            if err.trace is None:
                err.trace = trace_for(err.span, called)
            raise
        given = _given(defn, call)  # the arguments as bound (the source emitter's)
        inner = self.builder.open_group(ctx.scope, label, call, "block", current, barrier=True, text=" ".join([defn.name, *shown]),
                                        block=defn.name, args=tuple((p.name, values[p.name], p.name in given)
                                                                    for p in defn.params if not isinstance(values[p.name], Tensor)))
        self.call_stack.append(defn.name)
        self.active.append(call.span)
        self.builder.frames = called
        try:
            out = self._body(defn.body, current, Context(inner, self.globals.child(values), ctx.defaults))
        finally:
            self.call_stack.pop()
            self.active.pop()
            self.builder.frames = frames
        if label is not None:
            ctx.scope.names[label] = out
        return out


def _given(defn: A.Def, call: A.Call) -> set[str]:
    """The parameters a (bound, so valid) call gives itself rather than leaving to their defaults."""
    free, names = [p.name for p in defn.params], set()
    for arg in call.args:
        name = free[0] if isinstance(arg, A.Positional) else "stride" if isinstance(arg, A.Stride) else arg.name
        names.add(name)
        if name in free:
            free.remove(name)
    return names


def _truth(expr, env: Env) -> bool:
    value = evaluate(expr, env)
    if isinstance(value, bool) or isinstance(value, int):
        return bool(value)
    raise ExpandError("the condition of `if` must be yes/no or a number", expr.span, code="E0207")


def _int(expr, env: Env) -> int:
    value = evaluate(expr, env)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExpandError("expected a whole number", expr.span, code="E0207")
    return value


def _count(expr, env: Env) -> int:
    count = _int(expr, env)
    if count < 0:
        raise ExpandError(f"cannot repeat {count} times", expr.span, code="E0209")
    if count > MAX_REPEAT:
        raise LimitError(f"repeating {count:,} times is more than the limit of {MAX_REPEAT:,}", expr.span, code="E0606")
    return count


def _check_swapped(dims: tuple, span: Span | None, where: str = "") -> None:
    """`3x224x224` where `224x224x3` was meant: channels written first."""
    if len(dims) >= 3 and dims[0] in (1, 3, 4) and dims[-1] >= 8 and len(set(dims[1:])) == 1:
        fixed = "x".join(map(str, dims[1:] + dims[:1]))
        raise ExpandError(
            f"{where}the input {'x'.join(map(str, dims))} has {dims[-1]} channels and is {dims[0]} high: it looks swapped",
            span,
            f"archdsl writes inputs as the slides do, channels last (HxWxC): did you mean `{'--input' if where else 'input'} {fixed}`?",
            code="E0304",
        )


def _check_batch_first(dims: tuple, span: Span | None, where: str = "") -> None:
    """`1x3x32x32`, torchinfo's input_size, where `32x32x3` was meant: a batch of 1, channels first.
    Read as written it is a 3D input 1 deep and 3 high; nobody means that."""
    if len(dims) == 4 and dims[0] == 1 and dims[1] <= 4 and min(dims[2:]) >= 8:
        raise ExpandError(
            f"{where}the input {_size_text(dims)} reads as 1 deep and {dims[1]} high with {dims[3]} channels: "
            f"it looks like PyTorch's (batch, channels, height, width)",
            span,
            batch_first_hint(dims, "--input" if where else "input"),
            code="E0305",
        )


def batch_first_hint(dims: tuple, keyword: str = "input") -> str | None:
    """For an input written `1xCxHxW` or `1xCxL` (batch first, channels first, as PyTorch and
    torchinfo write sizes): the hint that says how archdsl writes it; None for other inputs.
    Network.analysed() adds it to a shape error of a spec whose input looks like that."""
    if len(dims) < 3 or dims[0] != 1:
        return None
    if len(dims) == 3 and dims[1] >= dims[2]:  # 1xWxC: an image one row high, as likely as 1xCxL
        return None
    if len(dims) == 4 and dims[1] > 4 and (dims[2] != dims[3] or dims[1] == dims[2]):  # 1xHxWxC: one frame
        return None
    fixed = _size_text(dims[2:] + dims[1:2])
    return (f"archdsl's input has no batch dimension (--batch sets the batch size) and is written channels last, "
            f"as the slides do: for PyTorch's {tuple(dims)} write `{keyword} {fixed}`")


def _size_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _name_span(call: A.Call) -> Span:
    """The span of the called name alone."""
    s = call.span
    return Span(s.source, s.line, s.column, s.line, s.column + len(call.name))


RECORDS = {"top1": "the top-1 accuracy of the network's trained weights, in percent"}


def _records(stmt: A.Network, env: Env) -> dict:
    """`network resnet50 top1=76.13`: what the spec records about the network (docs/language.md, "network")."""
    out = {}
    for option in stmt.records:
        if option.name not in RECORDS:
            raise ExpandError(f"a network records {', '.join(RECORDS)}, not '{option.name}'", option.span,
                              did_you_mean(option.name, list(RECORDS)) or f"{', '.join(f'{k}: {v}' for k, v in RECORDS.items())}", code="E0310")
        if option.name in out:
            raise ExpandError(f"'{option.name}' is recorded twice", option.span, code="E0310")
        value = evaluate(option.value, env)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ExpandError(f"{option.name} is a percentage from 0 to 100, such as {option.name}=76.13", option.span, code="E0310")
        out[option.name] = float(value)
    return out
