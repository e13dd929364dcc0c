"""The arguments an op declares, and the check that turns a written value into one."""

import math
from typing import NamedTuple

from ..errors import ExpandError, Span

REQUIRED = object()


class Arg(NamedTuple):
    """One argument of an op. `flag`: a yes/no option that may be written bare (`bn`, `ceil`)."""

    name: str
    kind: str  # int | float | bool | size | pad | choice | act | ints (every plain value left) | any
    default: object = REQUIRED
    minimum: int = 0
    choices: tuple = ()
    flag: bool = False

    def coerce(self, op_name: str, value, span: Span):
        """The value as the op stores it (a float for `float`, an alias resolved for `act`), or an
        ExpandError naming the op, the argument and what it must be."""
        kind = self.kind

        def fail(expected: str):
            shown = "yes" if value is True else "no" if value is False else "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
            return ExpandError(f"{op_name} {self.name} must be {expected}, not {shown}", span, code="E0201")

        is_int = isinstance(value, int) and not isinstance(value, bool)
        if kind == "any":
            return value
        if kind == "int":
            if not is_int:
                raise fail("a whole number")
            if value < self.minimum:
                raise fail(f"at least {self.minimum}")
            return value
        if kind == "ints":
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= self.minimum for v in value):
                raise fail(f"whole numbers of at least {self.minimum}")
            return tuple(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise fail("a finite number")
            return float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise fail("yes or no")
            return value
        if kind == "choice":
            if value not in self.choices:
                raise fail("one of " + ", ".join(self.choices))
            return value
        if kind == "act":
            from . import ACTIVATIONS, ALIASES  # the registry imports this module

            value = ALIASES.get(value, value) if isinstance(value, str) else value
            if value != "none" and value not in ACTIVATIONS:
                raise fail("none or one of " + ", ".join(ACTIVATIONS))
            return value
        if kind in ("size", "pad"):
            if kind == "pad" and value in ("same", "valid"):
                return value
            if value is None and self.default is None:
                return None
            if is_int:
                values = (value,)
            elif isinstance(value, tuple):
                values = value
            else:
                raise fail("a size such as 3 or 3x3" + (", same or valid" if kind == "pad" else ""))
            if any(v < self.minimum for v in values):
                raise fail(f"at least {self.minimum}")
            return value
        raise AssertionError(kind)  # pragma: no cover
