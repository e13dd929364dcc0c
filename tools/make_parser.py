"""Regenerate archdsl/_lark_parser.py from archdsl/grammar.lark: run after editing the grammar
or upgrading Lark.

    python tools/make_parser.py            # --tables: rebuild _lark_tables.py even when it is current

The parser is Lark's own stand-alone LALR parser (lark.tools.standalone), built here with
strict=True so that a conflict or a terminal collision stops the build. archdsl imports the
generated module instead of lark: it loads in about half the time, and `archdsl analyze` is a
command people wait for. The file's header records what it was built from (the grammar's
digest, the build options, Lark's version); tests/test_grammar.py checks it against this tool.

The stand-alone module rebuilds its parser from its tables (DATA, MEMO) on every start: a third
of a first parse. The tool also writes archdsl/_lark_tables.py, that parser once built (as
archdsl/parser.py configures it) and pickled: unpickling is C code. Its header records the digest
of the _lark_parser.py it was built from; archdsl/parser.py falls back to Lark_StandAlone() when
it cannot load it, and tests/test_grammar.py checks that it is current and parses as the tables do.
"""
import hashlib
import importlib
import io
import pickle
import sys
import types
from pathlib import Path

import lark
from lark import Lark
from lark.tools.standalone import gen_standalone

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "archdsl" / "grammar.lark"
TARGET = ROOT / "archdsl" / "_lark_parser.py"
TABLES = ROOT / "archdsl" / "_lark_tables.py"
OPTIONS = dict(parser="lalr", lexer="contextual", strict=True, maybe_placeholders=False)


def grammar_digest() -> str:
    return hashlib.sha256(GRAMMAR.read_bytes()).hexdigest()


def provenance() -> dict[str, str]:
    """What the generated parser depends on, as its header lines record it."""
    return {
        "grammar sha256": grammar_digest(),
        "options": ", ".join(f"{k}={v!r}" for k, v in OPTIONS.items()),
        "lark": lark.__version__,
        "edited": "Lark's logger set up on first use (no `import logging` at start); TextSlice a plain class (no dataclasses); "
                  "no pickle, zlib, base64; DATA and MEMO built when Lark_StandAlone() asks; annotations not evaluated",
    }


# Lark's stand-alone module imports `logging` to set up a logger that the LALR parser never uses
# at run time; importing `logging` is about 4% of `archdsl analyze`'s instructions. The logger is
# set up as Lark sets it up, the first time something logs.
_LOGGER = """logger: logging.Logger = logging.getLogger("lark")
logger.addHandler(logging.StreamHandler())
##

##

logger.setLevel(logging.CRITICAL)
"""
_LAZY_LOGGER = """class _Logger:  # archdsl: Lark's logger, set up the first time something logs
    def __getattr__(self, name):
        import logging
        real = logging.getLogger("lark")
        if not real.handlers:
            real.addHandler(logging.StreamHandler())
            real.setLevel(logging.CRITICAL)
        return getattr(real, name)


logger = _Logger()
"""


# Lark's annotations (`Optional[Callable]`, `Dict[str, Any]`, ...) are typing subscriptions that
# Python evaluates on every start, when each function is defined: about 1% of `archdsl analyze`.
# Nothing reads them at run time, so they stay strings.
_FUTURE = "from __future__ import annotations  # archdsl: annotations are not evaluated at import\n"


# Lark's TextSlice is a frozen dataclass: Python generates and compiles its methods on every start,
# and `dataclasses` is imported for it alone (together about 1.5% of `archdsl analyze`). Here it is
# a plain class with the same fields, checks and methods (Lark never compares or hashes one).
_TEXT_SLICE = """@dataclass(frozen=True)
class TextSlice(Generic[AnyStr]):
    #--
    text: AnyStr
    start: int
    end: int

    def __post_init__(self):
"""
_PLAIN_TEXT_SLICE = """class TextSlice(Generic[AnyStr]):  # archdsl: a plain class (Lark: a frozen data class)
    #--
    __slots__ = ("text", "start", "end")

    def __init__(self, text: AnyStr, start: int, end: int):
        self.text, self.start, self.end = text, start, end
        self.__post_init__()

    def __post_init__(self):
"""

# (what, Lark's text, archdsl's): each Lark text must occur exactly once in the stand-alone output
_EDITS = (
    ("its `import logging`", "\nimport logging\n", "\n"),
    ("its logger", _LOGGER, _LAZY_LOGGER),
    ("its dataclass import", "\nfrom dataclasses import dataclass\n", "\n"),
    ("TextSlice", _TEXT_SLICE, _PLAIN_TEXT_SLICE),
    # zlib and base64 decode a compressed DATA, which this stand-alone output does not have (DATA is a
    # literal); pickle is for Lark's cache (Lark.save, Lark.load, cache=True), which archdsl does not use:
    # archdsl/parser.py unpickles _lark_tables.py with the C unpickler alone (importing pickle.py is 0.6%)
    ("its imports for compressed tables and the cache", "\nimport pickle, zlib, base64\n", "\n"),
    # DATA and MEMO, the tables as literals, are for Lark_StandAlone() (tools and archdsl/parser.py's
    # fallback); archdsl unpickles the parser instead. Built at import they were 0.8% of `archdsl analyze`.
    ("DATA", "\nDATA = (\n", "\ndef _data():  # archdsl: built when Lark_StandAlone() asks (Lark: at import)\n    return (\n"),
    ("MEMO", "\nMEMO = (\n", "\ndef _memo():  # archdsl: as _data\n    return (\n"),
    ("Lark_StandAlone", "Lark._load_from_dict(DATA, MEMO, **kwargs)", "Lark._load_from_dict(_data(), _memo(), **kwargs)"),
)


def edited(source: str) -> str:
    """Lark's stand-alone output with its logger set up lazily, TextSlice a plain class, no imports
    it does not use, and its annotations unevaluated."""
    if "from __future__" in source:
        raise SystemExit("Lark's stand-alone output has a __future__ import: update tools/make_parser.py")
    for what, old, new in _EDITS:
        if source.count(old) != 1:
            raise SystemExit(f"Lark's stand-alone output changed: update tools/make_parser.py's edit of {what}")
        source = source.replace(old, new, 1)
    if "@dataclass" in source or "import dataclass" in source:
        raise SystemExit("Lark's stand-alone output has another dataclass: update tools/make_parser.py")
    return _FUTURE + source


def header() -> str:
    lines = ["# Generated by tools/make_parser.py from archdsl/grammar.lark; do not edit."]
    lines += [f"# {key}: {value}" for key, value in provenance().items()]
    return "\n".join(lines) + "\n"


def build() -> Lark:
    return Lark(GRAMMAR.read_text(), **OPTIONS)


def tables_header() -> str:
    """The header of _lark_tables.py: the generated parser it was pickled from."""
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()
    return ("# Generated by tools/make_parser.py from archdsl/_lark_parser.py; do not edit.\n"
            f"# _lark_parser.py sha256: {digest}\n")


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, types.ModuleType):  # the lexers hold the `re` module
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


def tables() -> str:
    """_lark_tables.py: Lark_StandAlone() of the generated module, pickled (no transformer:
    archdsl/parser.py attaches its own to each copy)."""
    sys.path.insert(0, str(ROOT))
    from archdsl import _lark_parser, parser  # noqa: F401  (parser configures the lexer class)

    out = io.BytesIO()
    _Pickler(out, protocol=4).dump(_lark_parser.Lark_StandAlone())
    data = out.getvalue()
    chunks = "\n".join(f"    {data[i:i + 96]!r}" for i in range(0, len(data), 96))
    return (tables_header() + f'"""The parser of _lark_parser.py, built and pickled ({len(data):,} bytes; MPL-2.0, as that module)."""\n\n'
            f"PICKLE = (\n{chunks}\n)\n")


def main() -> None:
    if TARGET.exists() and TARGET.read_text().startswith(header()):
        # Lark's stand-alone output is not reproducible (lark-parser/lark#1194: its tables follow
        # set order), so an unneeded rebuild would rewrite the tables for nothing.
        print(f"{TARGET.relative_to(ROOT)} is up to date", file=sys.stderr)
    else:
        out = io.StringIO()
        gen_standalone(build(), out=out)
        TARGET.write_text(header() + edited(out.getvalue()))
        print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)
    if TABLES.exists() and TABLES.read_text().startswith(tables_header()) and "--tables" not in sys.argv:
        print(f"{TABLES.relative_to(ROOT)} is up to date (--tables rebuilds it)", file=sys.stderr)
        return
    TABLES.write_text(tables())
    print(f"wrote {TABLES.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
