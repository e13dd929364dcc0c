"""`use "file"`: used files read and parsed once, cycles and depth checked; the blocks they define.

What `use` may read (docs/language.md, "use: imports"): `.arch` files inside the folder of the
spec being expanded (the current folder for spec text), inside a library folder (`--lib DIR`,
`ARCHDSL_PATH`, `load(lib=...)`), or in the spec library archdsl ships. A relative path is looked
up next to the file that writes it, then in each library folder, then in the spec library.
Nothing else is opened, so a spec cannot make archdsl read (and quote) any other file.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

from ... import ast as A
from ...errors import ArchError, ExpandError, Frame, LimitError, UsageError
from ...files import read_spec
from ...limits import MAX_IMPORT_DEPTH
from ...ops import lookup
from .scopes import check_bindable


def read_file(path: str) -> str:
    return read_spec(path, os.path.relpath(path) if os.path.isabs(path) else path)


def library_path(extra=()) -> list[str]:
    """The library folders: `extra` (--lib, load(lib=...)), then ARCHDSL_PATH's, in order."""
    env = os.environ.get("ARCHDSL_PATH", "")
    return [os.fspath(p) for p in extra] + [p for p in env.split(os.pathsep) if p]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Imports:
    def __init__(self, read, program: A.Program, lib=()):
        from ...library import directory

        self.read = read
        self.loaded: dict[str, A.Program] = {}  # real path -> the parsed file
        self.ran: set[str] = set()  # used files whose constants have been evaluated
        top = program.source.path
        own = os.path.dirname(os.path.realpath(top)) if os.path.isfile(top) else os.getcwd()
        self.lib = [os.path.abspath(p) for p in library_path(lib)] + [str(directory())]
        self.roots = [own] + [os.path.realpath(p) for p in self.lib]

    def path(self, stmt: A.Use, program: A.Program) -> str:
        """The real path of the file `stmt` names, checked against the rule above."""
        if not stmt.path.endswith(".arch"):
            raise ExpandError(f"`use` reads .arch spec files; '{stmt.path}' is not one", stmt.span, code="E0404")
        base = os.path.dirname(os.path.abspath(program.source.path))
        candidates = [os.path.join(base, stmt.path)]
        if not os.path.isabs(stmt.path):
            candidates += [os.path.join(folder, stmt.path) for folder in self.lib]
        found = next((c for c in candidates if os.path.exists(c)), candidates[0])
        real = os.path.realpath(found)
        if not any(_inside(real, root) for root in self.roots):
            raise ExpandError(f"'{stmt.path}' is outside the folders `use` may read", stmt.span,
                              "`use` reads files in the spec's own folder, in a --lib folder (or ARCHDSL_PATH) "
                              "and in the spec library", code="E0405")
        return real

    def load(self, stmt: A.Use, program: A.Program, stack: list[str] | None = None) -> A.Program:
        """The file `stmt` in `program` uses. `stack`: the files being read, outermost first."""
        from ...parser import parse

        if stack is None:
            stack = [os.path.realpath(program.source.path)]
        path = self.path(stmt, program)
        if path in stack:
            cycle = " -> ".join(os.path.basename(p) for p in stack[stack.index(path):] + [path])
            raise ExpandError(f"import cycle: {cycle}", stmt.span, code="E0406")
        if len(stack) > MAX_IMPORT_DEPTH:
            raise LimitError(f"`use` is nested more than {MAX_IMPORT_DEPTH} files deep", stmt.span, code="E0610")
        if path not in self.loaded:
            try:
                text = self.read(path)
            except OSError as err:
                raise ExpandError(f"cannot read '{stmt.path}': {err.strerror}", stmt.span, code="E0407") from None
            except UsageError as err:  # a folder, a device, a FIFO: said at the `use`
                raise ExpandError(err.message, stmt.span, code=err.code) from None
            library = parse(text, os.path.relpath(path))
            for s in library.body:
                if not isinstance(s, (A.Def, A.Let, A.Use)):
                    raise ExpandError("a file read with `use` may hold only def, let and use", s.span, code="E0408")
            self.loaded[path] = library
        return self.loaded[path]


@contextmanager
def through_use(stmt: A.Use):
    """An error inside the file `stmt` uses (not one at the `use` itself) gets the `use` as a frame."""
    try:
        yield
    except ArchError as err:
        for e in err.errors:  # a used file's syntax errors are several
            if e.span is not stmt.span:
                e.trace = (e.trace or ()) + (Frame(stmt.span, f"this use of '{stmt.path}'"),)
        raise


def collect_defs(program: A.Program, imports: Imports) -> dict[str, A.Def]:
    """The blocks defined in the spec and in every file it uses, by name."""
    defs: dict[str, A.Def] = {}
    _collect(program, [os.path.realpath(program.source.path)], imports, defs)
    return defs


def _collect(program: A.Program, stack: list[str], imports: Imports, defs: dict) -> None:
    for stmt in program.body:
        if isinstance(stmt, A.Def):
            if stmt.name in defs:
                first = defs[stmt.name].span
                raise ExpandError(f"block '{stmt.name}' is defined twice (first at {first})", stmt.span, code="E0402")
            if lookup(stmt.name) is not None:
                raise ExpandError(f"'{stmt.name}' is a layer kind and cannot be a block name", stmt.span, code="E0403")
            for param in stmt.params:
                check_bindable(param.name, param.span)
            defs[stmt.name] = stmt
        elif isinstance(stmt, A.Use):
            path = imports.path(stmt, program)
            first = path not in imports.loaded
            with through_use(stmt):
                library = imports.load(stmt, program, stack)
                if first:  # a file used twice (directly or through two libraries) is read once
                    _collect(library, stack + [path], imports, defs)
