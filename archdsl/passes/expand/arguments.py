"""Binding the arguments of a call: a layer's (positional, flags, options, stride; then `set`
defaults and the op's own) and a block's (its parameters)."""
from __future__ import annotations

from ... import ast as A
from ...errors import ExpandError, did_you_mean
from ...ops import Op
from ...ops.args import REQUIRED
from ...ops.base import value_text
from ..evaluate import Env, Tensor, evaluate
from .scopes import Scope, resolve


def bind_layer_args(op: Op, args, env: Env, written: str, positional_ok=True) -> dict:
    """Arguments as written -> {name: (value, span)} (coerced), before defaults."""
    given: dict = {}
    free = list(op.positional)
    for arg in args:
        if isinstance(arg, A.Positional):
            value_expr = arg.value
            spec = op.arg(value_expr.name) if isinstance(value_expr, A.Var) else None
            if spec is not None and spec.flag and not _defined(value_expr.name, env):
                name, value = value_expr.name, True
            elif positional_ok and free and (spec := op.arg(free[0])).kind == "ints":  # takes every plain value left
                name = free[0]
                value = evaluate(value_expr, env)
                earlier = given[name][0] if name in given else ()
                given[name] = (spec.coerce(op.name, earlier + (value,), arg.span), arg.span)
                continue
            else:
                if not positional_ok or not free:
                    raise _too_many(op, arg, written, positional_ok, value_expr, env)
                name = free.pop(0)
                value = evaluate(value_expr, env, symbols=spec.kind in ("choice", "act", "pad"))
        elif isinstance(arg, A.Stride):
            if not op.takes_stride:
                raise ExpandError(f"{op.name} has no stride", arg.span, code="E0205")
            name, spec, value = "stride", op.arg("stride"), evaluate(arg.value, env)
        else:
            name = arg.name
            spec = op.arg(name)
            if spec is None or name in ("shape",):
                options = [a.name for a in op.args]
                raise ExpandError(
                    f"{op.name} has no option '{name}'", arg.span,
                    did_you_mean(name, options) or (f"its options are: {', '.join(options)}" if options else f"{op.name} takes no options"),
                    code="E0102",
                )
            value = evaluate(arg.value, env, symbols=True)
            if name in free:
                free.remove(name)
        if name in given:
            raise ExpandError(f"'{name}' is given twice", arg.span, code="E0204")
        given[name] = (spec.coerce(op.name, value, arg.span), arg.span)  # spec: op.arg(name)
    return given


def _defined(name: str, env: Env) -> bool:
    """Whether `name` is one of env.names(), without making that set."""
    try:
        env.lookup(name)
    except KeyError:
        return False
    return True


def _too_many(op, arg, written, positional_ok, value_expr, env):
    if not positional_ok:
        return ExpandError("`set` takes options such as act=relu or bn, not sizes", arg.span, code="E0203")
    if isinstance(value_expr, A.Var) and op.arg(value_expr.name) is not None and op.arg(value_expr.name).flag:
        name = value_expr.name
        return ExpandError(f"'{name}' here is a value, not the flag {name}", arg.span, f"write {name}={name} to pass it as the option", code="E0206")
    if isinstance(value_expr, A.Var) and value_expr.name not in env.names():
        flags = [a.name for a in op.args if a.flag]
        return ExpandError(f"unknown name '{value_expr.name}'", arg.span, did_you_mean(value_expr.name, flags + sorted(env.names())), code="E0103")
    usage = " ".join(op.positional)
    return ExpandError(f"{written} takes {len(op.positional)} plain argument{'s' if len(op.positional) != 1 else ''}"
                       f"{' (' + usage + ')' if usage else ''}; this one is extra", arg.span,
                       "options are written name=value", code="E0203")


def fill_defaults(op: Op, given: dict, defaults: dict, call) -> dict:
    """Every argument of the op: as given, else the `set` default for its kind, else its own."""
    attrs = {}
    kind_defaults = defaults.get(op.name, {})
    for spec in op.args:
        if spec.name in given:
            attrs[spec.name] = given[spec.name][0]
        elif spec.name in kind_defaults:
            attrs[spec.name] = kind_defaults[spec.name]
        elif spec.default is REQUIRED:
            usage = " ".join(op.positional)
            raise ExpandError(f"{op.name} needs {spec.name}", call.span, f"write `{op.name} {usage}`, e.g. {f'`{op.example}`' if op.example else op.name}", code="E0202")
        else:
            attrs[spec.name] = spec.default
    return attrs


def bind_block_args(defn: A.Def, call: A.Call, env: Env, scope: Scope, globals_env: Env) -> tuple[dict, list[str]]:
    """The block's parameter values, and the arguments as the group's description shows them."""
    params = {p.name: p for p in defn.params}
    values: dict = {}
    shown: list[tuple[str, bool, str]] = []  # (parameter, positional, text)
    free = [p.name for p in defn.params]
    for arg in call.args:
        if isinstance(arg, A.Positional):
            if not free:
                raise ExpandError(f"block '{defn.name}' takes {len(defn.params)} argument{'s' if len(defn.params) != 1 else ''}; this one is extra", arg.span, code="E0203")
            name = free.pop(0)
        elif isinstance(arg, A.Stride):
            if "stride" not in params:
                raise ExpandError(f"block '{defn.name}' has no parameter named stride", arg.span, code="E0205")
            name = "stride"
        else:
            name = arg.name
            if name not in params:
                raise ExpandError(f"block '{defn.name}' has no parameter '{name}'", arg.span, did_you_mean(name, params), code="E0102")
        if name in values:
            raise ExpandError(f"'{name}' is given twice", arg.span, code="E0204")
        if name in free:
            free.remove(name)
        if isinstance(arg.value, A.Ref):
            values[name] = Tensor(resolve(arg.value, scope, env))
            text = "@" + arg.value.name
        else:
            values[name] = evaluate(arg.value, env, symbols=isinstance(arg, A.Option))
            text = value_text(values[name])
        shown.append((name, isinstance(arg, A.Positional),
                      text if isinstance(arg, A.Positional) else f"/{text}" if isinstance(arg, A.Stride) else f"{name}={text}"))
    block_env = globals_env.child(values)
    for p in defn.params:
        if p.name not in values:
            if p.default is None:
                names = ", ".join(p.name for p in defn.params)
                raise ExpandError(f"block '{defn.name}' needs {p.name}", call.span, f"its parameters are ({names})", code="E0202")
            values[p.name] = evaluate(p.default, block_env, symbols=True)
    return values, _without_defaults(shown, params, values, block_env)


def _without_defaults(shown: list, params: dict, values: dict, env: Env) -> list[str]:
    """The call as a reader wants it: arguments equal to the block's own defaults left out (a block
    that passes its parameters on writes all of them: `groups=groups width_per_group=...`), except a
    positional one that a later positional one still needs to be read in its place."""
    def default(name):
        p = params[name]
        if p.default is None or isinstance(values[name], Tensor):
            return False
        try:
            value = evaluate(p.default, env, symbols=True)
        except ExpandError:
            return False
        return type(value) is type(values[name]) and value == values[name]

    keep = [not default(name) for name, _, _ in shown]
    needed = False
    for i in reversed(range(len(shown))):
        if shown[i][1]:
            keep[i] = keep[i] or needed
            needed = keep[i]
    return [text for (_, _, text), k in zip(shown, keep) if k]
