"""The grammar is strict LALR(1), and the generated parser archdsl imports is built from it."""
import importlib.util
import re

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


def test_generated_parser_matches_the_grammar():
    generated = (ROOT / "archdsl" / "_lark_parser.py").read_text()
    digest = re.search(r"^# grammar sha256: (\w+)$", generated, re.M).group(1)
    assert digest == _tool().grammar_digest(), "grammar.lark changed: run `python tools/make_parser.py`"
