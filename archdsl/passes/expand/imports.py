"""`use "file"`: used files read and parsed once, cycles and depth checked; the blocks they define."""
from __future__ import annotations

import os

from ... import ast as A
from ...errors import ExpandError, LimitError
from ...limits import MAX_IMPORT_DEPTH
from ...ops import lookup
from .scopes import check_bindable


def read_file(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


class Imports:
    def __init__(self, read):
        self.read = read
        self.loaded: dict[str, A.Program] = {}  # absolute path -> the parsed file

    def path(self, stmt: A.Use, program: A.Program) -> str:
        base = os.path.dirname(os.path.abspath(program.source.path))
        return os.path.normpath(os.path.join(base, stmt.path))

    def load(self, stmt: A.Use, program: A.Program, stack: list[str] | None = None) -> A.Program:
        """The file `stmt` in `program` uses. `stack`: the files being read, outermost first."""
        from ...parser import parse

        if stack is None:
            stack = [os.path.abspath(program.source.path)]
        path = self.path(stmt, program)
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


def collect_defs(program: A.Program, imports: Imports) -> dict[str, A.Def]:
    """The blocks defined in the spec and in every file it uses, by name."""
    defs: dict[str, A.Def] = {}
    _collect(program, [os.path.abspath(program.source.path)], imports, defs)
    return defs


def _collect(program: A.Program, stack: list[str], imports: Imports, defs: dict) -> None:
    for stmt in program.body:
        if isinstance(stmt, A.Def):
            if stmt.name in defs:
                first = defs[stmt.name].span
                raise ExpandError(f"block '{stmt.name}' is defined twice (first at {first})", stmt.span)
            if lookup(stmt.name) is not None:
                raise ExpandError(f"'{stmt.name}' is a layer kind and cannot be a block name", stmt.span)
            for param in stmt.params:
                check_bindable(param.name, param.span)
            defs[stmt.name] = stmt
        elif isinstance(stmt, A.Use):
            path = imports.path(stmt, program)
            first = path not in imports.loaded
            library = imports.load(stmt, program, stack)
            if first:  # a file used twice (directly or through two libraries) is read once
                _collect(library, stack + [path], imports, defs)
