"""How archdsl/parser.py loads Lark's parser faster, without changing what it parses: the
pickled parser (_lark_tables.py) parses as the one Lark_StandAlone() builds from its tables, and
archdsl/lalr.py's loop over Lark's tables builds the same AST as Lark's driver and rejects
what Lark rejects, and the lazy scanners (terminals tried one by one until a parser state has seen LAZY_TOKENS tokens,
then Lark's compiled alternation) lex exactly as Lark's own BasicLexer: same ASTs for every spec
and every example of the docs, same errors for broken specs."""
import re

import pytest

from archdsl import _lark_parser as L
from archdsl import parser as P
from archdsl.errors import Source
from archdsl.lalr import Driver, Reject

from .conftest import ROOT, SPECS

BROKEN = [
    "input 8x8x3\ncnov 64 3x3 $\n",
    "input 8x8x3\nconv 64 3x3 /\n",
    "input 8x8x3\n{ conv 4 3x3\n",
    "input 8x8x3\nconv 4 3x3 pad=\n",
    "input 8x8x3\nlet a = 3 / 2\n",
    "def f(a, b=2 { relu }\n",
    'use "x\n',
    "input 8x8x3\n[8x8 relu\n",
    "input 8x8x3\nrelu x\n",
    "input 8x8x3\nnot: relu\n",
]


def texts():
    out = [(p.name, p.read_text()) for p in sorted(SPECS.rglob("*.arch"))]
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for k, block in enumerate(re.findall(r"```arch\n(.*?)```", doc.read_text(), re.S)):
            out.append((f"{doc.name}#{k}", block))
    return out


def reference():
    """A parser whose contextual lexer uses Lark's own BasicLexer."""
    saved = L.ContextualLexer.BasicLexer
    L.ContextualLexer.BasicLexer = L.BasicLexer
    try:
        transformer = P._ToAst()
        return L.Lark_StandAlone(transformer=transformer), transformer
    finally:
        L.ContextualLexer.BasicLexer = saved


def run(parser, transformer, name, text):
    transformer.source = Source(name, text)
    try:
        return parser.parse(text)
    except L.UnexpectedInput as err:
        allowed = getattr(err, "allowed", None) or getattr(err, "expected", None)
        return (type(err).__name__, err.line, err.column, sorted(allowed or ()))


@pytest.mark.parametrize("lazy_tokens", [0, 3, P.LAZY_TOKENS])
def test_same_asts_and_errors_as_lark(monkeypatch, lazy_tokens):
    monkeypatch.setattr(P, "LAZY_TOKENS", lazy_tokens)
    monkeypatch.setattr(P, "_UNLESS", {})
    assert L.ContextualLexer.BasicLexer is P._LazyLexer
    lazy = (L.Lark_StandAlone(transformer=P._ToAst()),)
    lazy = (lazy[0], lazy[0].options.transformer)
    ref = reference()
    cases = texts() + [(f"broken{i}", t) for i, t in enumerate(BROKEN)]
    assert len(cases) > 40
    driver = Driver(lazy[0])
    for name, text in cases:
        expected = run(*ref, name, text)
        assert run(*lazy, name, text) == expected, name
        lazy[1].source = Source(name, text)
        try:
            assert driver.parse(text) == expected, name  # archdsl's LALR loop: the same AST
        except Reject:
            assert type(expected) is tuple, name  # and it rejects exactly what Lark rejects


def test_long_specs_switch_to_the_compiled_scanner():
    text = "input 8x8x3\n" + "conv 4 3x3 pad=1\nrelu\n" * (P.LAZY_TOKENS + 10)
    parser, _ = P._lark()
    P.parse(text, "<long>")
    scanners = [lx._scanner for lx in parser.parser.lexer.lexers.values() if lx._scanner is not None]
    assert any(getattr(s, "_mres", None) for s in scanners)  # Lark's alternation, compiled


def test_pickled_parser_parses_as_the_tables():
    transformer = P._ToAst()
    pickled = P._new_parser(transformer)
    assert pickled.options.transformer is transformer
    assert pickled._callbacks is pickled.parser.parser.parser.callbacks  # the parser calls the transformer
    tables = L.Lark_StandAlone(transformer=P._ToAst())
    for name, text in texts() + [(f"broken{i}", t) for i, t in enumerate(BROKEN)]:
        assert run(pickled, transformer, name, text) == run(tables, tables.options.transformer, name, text), name


def test_the_pickle_is_used(monkeypatch):
    """_new_parser falls back to Lark_StandAlone() only when the pickle does not load."""
    def no_tables(**kwargs):
        raise AssertionError("rebuilt from the tables")

    monkeypatch.setattr(P, "Lark_StandAlone", no_tables)
    transformer = P._ToAst()
    transformer.source = Source("<x>", "input 8x8x3\nrelu\n")
    assert P._new_parser(transformer).parse("input 8x8x3\nrelu\n").body
