"""What the user wrote, as immutable records. Every node carries the span it came from.

NamedTuples rather than dataclasses: a spec is parsed in a process that must start fast, and 29
dataclasses cost ~20 ms of code generation at import; NamedTuples cost a fifth of that.
"""
from typing import NamedTuple, Union

from .errors import Source, Span

# ---- expressions -------------------------------------------------------------------------


class Num(NamedTuple):
    value: int | float
    span: Span


class Dims(NamedTuple):
    """`224x224x3`: a tuple of sizes, written as the slides write them."""

    values: tuple[int, ...]
    span: Span


class Var(NamedTuple):
    name: str
    span: Span


class Str(NamedTuple):
    value: str
    span: Span


class BinOp(NamedTuple):
    op: str  # + - * // % == != < > <= >= and or
    left: "Expr"
    right: "Expr"
    span: Span


class UnaryOp(NamedTuple):
    op: str  # - not
    operand: "Expr"
    span: Span


Expr = Union[Num, Dims, Var, Str, BinOp, UnaryOp]

# ---- layer statements --------------------------------------------------------------------


class Positional(NamedTuple):
    value: Expr
    span: Span


class Option(NamedTuple):
    name: str
    value: Expr
    span: Span


class Stride(NamedTuple):
    """`/2`: the stride, as the slides and the ResNet figures write it."""

    value: Expr
    span: Span


Arg = Union[Positional, Option, Stride]


class Call(NamedTuple):
    """A layer (`conv 64 3x3 /2`) or a block call (`inception 64 96 128 16 32 32`)."""

    name: str
    args: tuple[Arg, ...]
    span: Span


class Group(NamedTuple):
    """`{ ... }`: statements grouped; a scope of names only when the group is named."""

    body: tuple["Stmt", ...]
    span: Span


class Merge(NamedTuple):
    """`concat { ... }`, `add { ... }` or `mul { ... }`: each statement inside is one parallel branch."""

    kind: str
    branches: tuple["Stmt", ...]
    span: Span


class Ref(NamedTuple):
    """`@name`: continue from a named tensor."""

    name: str
    span: Span


Link = Union[Call, Group, Merge, Ref]


class Label(NamedTuple):
    """`conv1:` or a template such as `denselayer{i}:`."""

    template: str
    span: Span


class Assertion(NamedTuple):
    """`[55x55x96]`: the expected output shape, in the slides' order (HxWxC)."""

    dims: tuple[int, ...]
    span: Span


class LayerStmt(NamedTuple):
    assertion: Assertion | None
    label: Label | None
    chain: tuple[Link, ...]
    repeat: int | None
    span: Span


# ---- other statements --------------------------------------------------------------------


class Param(NamedTuple):
    name: str
    default: Expr | None
    span: Span


class Def(NamedTuple):
    name: str
    params: tuple[Param, ...]
    body: tuple["Stmt", ...]
    span: Span


class Let(NamedTuple):
    name: str
    value: Expr
    span: Span


class SetDefault(NamedTuple):
    """`set conv bn act=relu`: defaults for every later layer of a kind."""

    kind: str
    args: tuple[Arg, ...]
    span: Span


class Use(NamedTuple):
    path: str
    span: Span


class Input(NamedTuple):
    value: Expr
    span: Span


class Output(NamedTuple):
    refs: tuple[Ref, ...]
    span: Span


class Freeze(NamedTuple):
    paths: tuple[tuple[str, Span], ...]
    span: Span


class Register(NamedTuple):
    """`register a, b`: the scope's children a and b are registered first, in this order (the
    order PyTorch lists them in, where it differs from the order they run)."""

    names: tuple[tuple[str, Span], ...]
    span: Span


class Checkpoint(NamedTuple):
    paths: tuple[tuple[str, Span], ...]
    span: Span


class Network(NamedTuple):
    name: str
    span: Span
    records: tuple = ()  # Options: what the network records (`top1=76.13`)


class If(NamedTuple):
    condition: Expr
    then: tuple["Stmt", ...]
    otherwise: tuple["Stmt", ...]
    span: Span


class Repeat(NamedTuple):
    times: Expr
    body: tuple["Stmt", ...]
    span: Span


class For(NamedTuple):
    var: str
    start: Expr
    end: Expr
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[LayerStmt, Def, Let, SetDefault, Use, Input, Output, Freeze, Register, Checkpoint, Network, If, Repeat, For]


class Program(NamedTuple):
    source: Source
    body: tuple[Stmt, ...]
