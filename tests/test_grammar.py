"""The grammar is strict LALR(1), and the generated parser archdsl imports is built from it."""
import importlib.util
import re
import subprocess
import sys

from .conftest import ROOT


def _tool():
    spec = importlib.util.spec_from_file_location("make_parser", ROOT / "tools" / "make_parser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grammar_builds_strict_lalr():
    """strict=True: any LALR conflict or terminal collision raises when the parser is built."""
    parser = _tool().build()
    assert parser.options.parser == "lalr" and parser.options.strict


def test_generated_parser_is_fresh():
    """Its header records the grammar's digest, the build options and Lark's version: all three
    must be what tools/make_parser.py would build from now."""
    generated = (ROOT / "archdsl" / "_lark_parser.py").read_text()
    expected = _tool().provenance()
    recorded = {key: m.group(1) for key in expected
                if (m := re.search(rf"^# {re.escape(key)}: (.*)$", generated, re.M))}
    stale = sorted(key for key in expected if recorded.get(key) != expected[key])
    assert not stale, f"archdsl/_lark_parser.py is stale ({', '.join(stale)} differ): run `python tools/make_parser.py`"


def test_pickled_parser_is_fresh():
    """_lark_tables.py (the parser, pickled) records the digest of the _lark_parser.py it was built
    from; tests/test_parser_load.py checks that it parses as Lark_StandAlone() does."""
    tables = (ROOT / "archdsl" / "_lark_tables.py").read_text()
    assert tables.startswith(_tool().tables_header()), \
        "archdsl/_lark_tables.py is stale: run `python tools/make_parser.py`"


def test_archdsl_runs_without_lark():
    """lark is a dependency of the tool and these tests only: archdsl imports the generated module."""
    code = ("import sys, archdsl; archdsl.load('input 8x8x3\\nconv 4 3x3\\n').analyze(); "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'lark'], 'archdsl imported lark'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
