"""The op registry: every layer kind the language knows, by the name a spec writes.

An op is a class with a `name` in one of this package's modules; the registry finds it there, so
adding an op is adding a file (or a class to a file) and nothing else.
"""
from __future__ import annotations

import importlib
import os

from .base import INPUT, NOTHING, OUTPUT, Arg, Counts, Input, New, Op, OpError
from .lowering import Lowering, Param


def _discover() -> dict[str, Op]:
    ops: dict[str, Op] = {}
    # the package's files, read directly: importing pkgutil to list them costs more than the listing
    names = sorted({f[:-3] for folder in __path__ for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py"})
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Op) and value.__module__ == module.__name__ \
                    and value.__dict__.get("name"):
                if value.name in ops:
                    raise ImportError(f"two ops are named {value.name!r}")
                ops[value.name] = op = value()
                if op.lowering is not None:
                    op.lowering.check()
    return ops


OPS: dict[str, Op] = _discover()

# Other spellings people use on slides (each op's `aliases`); each maps to one op.
ALIASES = {alias: op.name for op in OPS.values() for alias in op.aliases}

LAYER_NAMES = sorted(n for n, op in OPS.items() if op.writable)

# what `act=` accepts, in the registry's order
ACTIVATIONS = tuple(n for n, op in OPS.items() if op.act_option)


def lookup(name: str) -> Op | None:
    return OPS.get(ALIASES.get(name, name))


__all__ = ["ACTIVATIONS", "ALIASES", "Arg", "Counts", "INPUT", "NOTHING", "Input", "New", "OUTPUT", "LAYER_NAMES", "Lowering", "OPS", "Op", "OpError", "Param", "lookup"]
