"""AST -> IR: blocks, repetition, defaults, names, references, imports, frozen parts.

expander.py walks the statements; scopes.py names what they create (the naming rules);
arguments.py binds a call's arguments; builder.py appends nodes and groups; imports.py reads
used files; freeze.py marks frozen layers.
"""
from .expander import expand
from .scopes import check_bindable

__all__ = ["check_bindable", "expand"]
