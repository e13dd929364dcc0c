"""Scopes and the names of what the spec creates.

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
from functools import lru_cache

from ... import ast as A
from ...errors import ExpandError, Span, did_you_mean, quote
from ..evaluate import POISONED, Cascade, Env, Tensor


class Scope:
    """Where names are given and looked up: a block body, a group or the network (a plain class,
    not a dataclass: see ir.Graph)."""

    __slots__ = ("prefix", "input", "parent", "barrier", "position", "names", "merges")

    def __init__(self, prefix: str, input: int, parent: Scope | None = None, barrier: bool = False):
        self.prefix = prefix  # "" at the top, "layer1.0." inside
        self.input = input  # the tensor `@input` refers to
        self.parent = parent
        self.barrier = barrier  # a block body: references do not look outside it
        self.position = 0
        self.names: dict = {}  # label -> node id of its output
        self.merges: dict = {}

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


def resolve(ref: A.Ref, scope: Scope, env: Env) -> int:
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
        raise ExpandError(f"there is no tensor named '{ref.name}' here", ref.span, hint, code="E0104")
    return node


def _defined_outside(scope: Scope, name: str) -> bool:
    while scope is not None and not scope.barrier:
        scope = scope.parent
    scope = scope.parent if scope is not None else None
    while scope is not None:
        if name in scope.names:
            return True
        scope = scope.parent
    return False


def fill_label(label: A.Label, env: Env) -> str:
    """`stage{i}:` with the value of i."""
    def fill(match):
        name = match.group(1)
        try:
            value = env.lookup(name)
        except KeyError:
            raise ExpandError(f"unknown name '{name}' in the label", label.span, did_you_mean(name, env.names()), code="E0103") from None
        if value is POISONED:
            raise Cascade(f"'{name}' has an error", label.span, code="E0103")
        return str(value)

    name = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", fill, label.template) if "{" in label.template else label.template
    check_label(name, label.span)
    return name


_MODULE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # PyTorch takes '-' in a module name (RegNet's block1-0)


def check_label(name: str, span: Span) -> None:
    """A label becomes a module name and a state_dict key part: ASCII letters, digits, '_' and '-',
    not a Python keyword (generated code writes `self.name`), no attribute of nn.Module and not
    `__`-prefixed (Python's and torch's own, some added at run time)."""
    problem = _label_problem(name)
    if problem is not None:
        message, hint = problem
        raise ExpandError(message, span, hint, code="E0106")


@lru_cache(maxsize=4096)  # a block's labels are checked on every call of it
def _label_problem(name: str) -> tuple[str, str] | None:
    import keyword

    from .reserved import MODULE_ATTRIBUTES

    if not _MODULE_NAME.fullmatch(name):
        return (f"the label '{quote(name)}' must be ASCII letters, digits, '_' and '-'",
                "a label is a module name and part of the state_dict keys; a value filled into it must be "
                "a number or such a word")
    if keyword.iskeyword(name) or name in MODULE_ATTRIBUTES or name.startswith("__"):
        what = ("a Python keyword" if keyword.iskeyword(name) else "reserved for Python's own names" if name.startswith("__")
                else "an attribute of every PyTorch module")
        return f"the label '{name}' is {what}, so it cannot name a layer", f"rename it, e.g. '{name.strip('_')}_layer'"
    return None


_RESERVED = re.compile(r"x[0-9]+$")


def check_bindable(name: str, span: Span) -> None:
    """`x2` is a repetition wherever a layer's arguments are read, so it cannot be a name."""
    if _RESERVED.match(name):
        raise ExpandError(f"'{name}' reads as a repetition (x2 repeats twice) and cannot be a name", span, code="E0107")


def network_name(path: str) -> str:
    """The network's name before a `network` statement: the spec file's stem."""
    if path.startswith("<"):
        return "network"
    return os.path.splitext(os.path.basename(path))[0] or "network"
