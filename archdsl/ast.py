"""What the user wrote, as frozen dataclasses. Every node carries the span it came from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .errors import Source, Span

# ---- expressions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    span: Span


@dataclass(frozen=True, slots=True)
class Dims:
    """`224x224x3`: a tuple of sizes, written as the slides write them."""

    values: tuple[int, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * // % == != < > <= >= and or
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class UnaryOp:
    op: str  # - not
    operand: "Expr"
    span: Span


Expr = Union[Num, Dims, Var, Str, BinOp, UnaryOp]

# ---- layer statements --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Positional:
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Stride:
    """`/2`: the stride, as the slides and the ResNet figures write it."""

    value: Expr
    span: Span


Arg = Union[Positional, Option, Stride]


@dataclass(frozen=True, slots=True)
class Call:
    """A layer (`conv 64 3x3 /2`) or a block call (`inception 64 96 128 16 32 32`)."""

    name: str
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Group:
    """`{ ... }`: statements grouped; a scope of names only when the group is named."""

    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Merge:
    """`concat { ... }` or `add { ... }`: each statement inside is one parallel branch."""

    kind: str
    branches: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Ref:
    """`@name`: continue from a named tensor."""

    name: str
    span: Span


Link = Union[Call, Group, Merge, Ref]


@dataclass(frozen=True, slots=True)
class Label:
    """`conv1:` or a template such as `denselayer{i}:`."""

    template: str
    span: Span


@dataclass(frozen=True, slots=True)
class Assertion:
    """`[55x55x96]`: the expected output shape, in the slides' order (HxWxC)."""

    dims: tuple[int, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class LayerStmt:
    assertion: Assertion | None
    label: Label | None
    chain: tuple[Link, ...]
    repeat: int | None
    span: Span


# ---- other statements --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Def:
    name: str
    params: tuple[Param, ...]
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class SetDefault:
    """`set conv bn act=relu`: defaults for every later layer of a kind."""

    kind: str
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Use:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Output:
    refs: tuple[Ref, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Freeze:
    paths: tuple[tuple[str, Span], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    condition: Expr
    then: tuple["Stmt", ...]
    otherwise: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    count: Expr
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class For:
    var: str
    start: Expr
    end: Expr
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[LayerStmt, Def, Let, SetDefault, Use, Input, Output, Freeze, Network, If, Repeat, For]


@dataclass(frozen=True, slots=True)
class Program:
    source: Source
    body: tuple[Stmt, ...]
