"""Evaluates the spec's small expressions: integers, sizes, yes/no, names. Nothing else can run."""
from __future__ import annotations

from .. import ast as A
from ..errors import ExpandError, LimitError, did_you_mean
from ..limits import MAX_EXPR_DEPTH, MAX_INT

BOOLEANS = {"yes": True, "true": True, "no": False, "false": False}


class Cascade(ExpandError):
    """An error that follows from one already reported (a name whose `let` failed): not said again."""


class _Poisoned:
    """The value of a name whose definition had an error (the expander goes on after it)."""

    def __repr__(self) -> str:
        return "<error>"


POISONED = _Poisoned()


class Tensor(int):
    """A block argument that is a tensor (`up 512 @enc4`): the node id of that tensor."""


class Env:
    """Names in scope: constants (`let`), block parameters, loop variables."""

    __slots__ = ("values", "parent")

    def __init__(self, values: dict | None = None, parent: "Env | None" = None):
        self.values = {} if values is None else values  # the caller's dict itself: a block's defaults are added to it
        self.parent = parent

    def lookup(self, name: str):
        env = self
        while env is not None:
            if name in env.values:
                return env.values[name]
            env = env.parent
        raise KeyError(name)

    def names(self) -> set[str]:
        out, env = set(), self
        while env is not None:
            out |= env.values.keys()
            env = env.parent
        return out

    def child(self, values: dict) -> "Env":
        return Env(values, self)


def evaluate(expr: A.Expr, env: Env, symbols: bool = False, depth: int = 0):
    """The value of an expression. With `symbols`, an unknown name is a word (`act=relu`).
    `depth`: how many operators this one is inside (the limit keeps the recursion short)."""
    if depth > MAX_EXPR_DEPTH:
        raise LimitError(f"the expression nests more than {MAX_EXPR_DEPTH} operators inside one another", expr.span,
                         "compute part of it with `let` first, or use parentheses (1+1+1+1 is 3 deep, (1+1)+(1+1) is 2)", code="E0604")
    depth += 1
    if isinstance(expr, A.Num):
        return expr.value
    if isinstance(expr, A.Dims):
        return expr.values
    if isinstance(expr, A.Str):
        return expr.value
    if isinstance(expr, A.Ref):
        raise ExpandError(f"@{expr.name} is a tensor: it can be passed to a block, not computed with", expr.span, code="E0207")
    if isinstance(expr, A.Var):
        if expr.name in BOOLEANS:
            return BOOLEANS[expr.name]
        try:
            value = env.lookup(expr.name)
        except KeyError:
            if symbols:
                return expr.name
            raise ExpandError(f"unknown name '{expr.name}'", expr.span, did_you_mean(expr.name, env.names()), code="E0103") from None
        if value is POISONED:
            raise Cascade(f"'{expr.name}' has an error", expr.span, code="E0103")
        return value
    if isinstance(expr, A.UnaryOp):
        value = evaluate(expr.operand, env, symbols and expr.op == "not", depth)
        if expr.op == "not":
            return not _truth(value, expr.operand)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ExpandError(f"cannot negate {_what(value)}", expr.span, code="E0207")
        return -value
    if isinstance(expr, A.BinOp):
        if expr.op in ("and", "or"):
            left = _truth(evaluate(expr.left, env, False, depth), expr.left)
            if (expr.op == "and" and not left) or (expr.op == "or" and left):
                return left
            return _truth(evaluate(expr.right, env, False, depth), expr.right)
        words = expr.op in ("==", "!=")  # `if act == relu`: words compare as words
        left, right = evaluate(expr.left, env, words, depth), evaluate(expr.right, env, words, depth)
        return _arith(expr, left, right)
    raise AssertionError(expr)  # pragma: no cover


def _truth(value, expr) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    raise ExpandError(f"expected yes/no or a number, got {_what(value)}", expr.span, code="E0207")


def _what(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return "the size " + "x".join(map(str, value))
    if isinstance(value, Tensor):
        return "a tensor"
    if isinstance(value, str):
        return f"the word '{value}'"
    return f"the number {value}"


def _arith(expr: A.BinOp, left, right):
    op = expr.op
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not numeric:
        raise ExpandError(f"'{op}' needs two numbers, got {_what(left)} and {_what(right)}", expr.span, code="E0207")
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    if op in ("//", "%"):
        if not (isinstance(left, int) and isinstance(right, int)):
            raise ExpandError(f"'{op}' needs whole numbers", expr.span, code="E0207")
        if right == 0:
            raise ExpandError("division by zero", expr.span, code="E0208")
        result = left // right if op == "//" else left % right
    elif op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    else:  # pragma: no cover
        raise AssertionError(op)
    if abs(result) > MAX_INT:
        raise LimitError(f"the value {result:,} is larger than the limit {MAX_INT:,}", expr.span, code="E0605")
    return result
