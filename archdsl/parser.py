"""Text -> AST: the Lark LALR parser (strict) and one Transformer method per grammar rule.

The parser is Lark's stand-alone LALR parser generated from grammar.lark (tools/make_parser.py,
built with strict=True): it starts in half the time of importing lark.
"""
from __future__ import annotations

import threading

from ._lark_parser import (
    BasicLexer,
    CallChain,
    ContextualLexer,
    Lark_StandAlone,
    PatternRE,
    PatternStr,
    Scanner,
    Token,
    Transformer,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    UnlessCallback,
    VisitError,
    _get_lexer_callbacks,
)

from . import ast as A
from .errors import ArchError, Errors, LimitError, Source, Span, SyntaxErr
from .lalr import Driver, Reject
from .limits import MAX_FILE_BYTES, MAX_INT, MAX_NESTING

_LOCAL = threading.local()

# Lark's contextual lexer has one scanner per set of terminals a parser state accepts: one regular
# expression, the alternation of those terminals in priority order. A spec reaches a dozen such
# sets and Python's `re` compiles each in pure Python (about half the time of a first parse of
# ResNet-152, on every start). Here a scanner first tries the terminals one by one, in the same
# order, with each terminal's own compiled expression (a handful, shared by all scanners): an
# alternation matches its first alternative that matches, so the token is the same. After
# LAZY_TOKENS tokens a scanner compiles Lark's alternation, which is faster per token.
LAZY_TOKENS = 200
_UNLESS: dict = {}  # (regexp terminal, string terminal) -> whether the string is a match of the regexp
_MATCH: dict = {}  # (terminal, its pattern, flags) -> the match of its compiled expression


class _LazyScanner(Scanner):
    def __init__(self, terminals, g_regex_flags, re_, use_bytes):
        self.terminals, self.g_regex_flags, self.re_, self.use_bytes = terminals, g_regex_flags, re_, use_bytes
        self.allowed_types = {t.name for t in terminals}
        self._singles = [(_match_of(t, g_regex_flags, re_), t.name) for t in terminals]
        self._left = LAZY_TOKENS

    def match(self, text, pos):
        if self._left:
            self._left -= 1
            for match, name in self._singles:
                m = match(text.text, pos, text.end)
                if m:
                    return m.group(0), name
            return None
        self._mres = self._build_mres(self.terminals, len(self.terminals))
        self.match = super().match  # from now on, Lark's own
        return self.match(text, pos)


def _match_of(terminal, flags, re_):
    """The `match` of a terminal's own compiled expression, made once for all the scanners."""
    key = (terminal.name, terminal.pattern.value, flags)
    if key not in _MATCH:
        _MATCH[key] = re_.compile(terminal.pattern.to_regexp(), flags).match
    return _MATCH[key]


class _Keywords:
    """What Lark's UnlessCallback asks of its scanner (`fullmatch`) for plain strings: a lookup."""

    def __init__(self, terminals):
        self._names = {}
        for t in terminals:
            self._names.setdefault(t.pattern.value, t.name)  # the first in Lark's order wins, as in its alternation

    def fullmatch(self, text):
        return self._names.get(text)


class _LazyLexer(BasicLexer):
    """Lark's BasicLexer (the contextual lexer's class for one parser state), building its scanner
    as Lark's `_build_scanner` and `_create_unless` do, lazily (see LAZY_TOKENS)."""

    def _build_scanner(self):
        if self.use_bytes:
            return super()._build_scanner()
        regexps = [t for t in self.terminals if isinstance(t.pattern, PatternRE)]
        strings = [t for t in self.terminals if isinstance(t.pattern, PatternStr)]
        embedded, self.callback = set(), {}
        for retok in regexps:
            unless = []
            for strtok in strings:
                if strtok.priority != retok.priority:
                    continue
                key = (retok.name, strtok.name)
                if key not in _UNLESS:
                    m = self.re.match(retok.pattern.to_regexp(), strtok.pattern.value, self.g_regex_flags)
                    _UNLESS[key] = bool(m) and m.group(0) == strtok.pattern.value
                if _UNLESS[key]:
                    unless.append(strtok)
                    if strtok.pattern.flags <= retok.pattern.flags:
                        embedded.add(strtok)
            if unless:
                plain = not any(t.pattern.flags for t in unless) and not self.g_regex_flags
                scanner = _Keywords(unless) if plain else Scanner(unless, self.g_regex_flags, self.re, self.use_bytes)
                self.callback[retok.name] = UnlessCallback(scanner)
        for type_, f in self.user_callbacks.items():
            if type_ in self.callback:
                self.callback[type_] = CallChain(self.callback[type_], f, lambda t: t.type == type_)
            else:
                self.callback[type_] = f
        return _LazyScanner([t for t in self.terminals if t not in embedded], self.g_regex_flags, self.re, self.use_bytes)

    def next_token(self, lex_state, parser_state=None):
        """Lark's BasicLexer.next_token with its lookups hoisted out of the loop and its
        LineCounter.feed written in; on a character no terminal matches, Lark's own raises its error."""
        line_ctr, text = lex_state.line_ctr, lex_state.text
        scanner = self._scanner or self.scanner  # Lark's property builds it the first time
        end, newline = text.end, line_ctr.newline_char
        ignore, callbacks, newline_types = self.ignore_types, self.callback, self.newline_types
        pos = line_ctr.char_pos
        while pos < end:
            found = scanner.match(text, pos)
            if not found:
                return super().next_token(lex_state, parser_state)
            value, kind = found
            start, line, column = pos, line_ctr.line, line_ctr.column
            if kind in newline_types:
                newlines = value.count(newline)
                if newlines:
                    line_ctr.line += newlines
                    line_ctr.line_start_pos = pos + value.rindex(newline) + 1
            pos = line_ctr.char_pos = pos + len(value)
            line_ctr.column = pos - line_ctr.line_start_pos + 1
            if kind in ignore and kind not in callbacks:
                continue
            token = Token._future_new(kind, value, start, line, column, line_ctr.line, line_ctr.column, pos)
            if kind in callbacks:
                token = callbacks[kind](token)
            if kind not in ignore:
                lex_state.last_token = token
                return token
        raise EOFError(self)


ContextualLexer.BasicLexer = _LazyLexer  # Lark's hook for the class of its per-state lexers


def _lark():
    """This thread's parser and its transformer, which builds the AST as LALR reduces (no parse
    tree: several times faster). One per thread: the transformer holds the source being parsed."""
    try:
        return _LOCAL.parser, _LOCAL.transformer
    except AttributeError:
        transformer = _ToAst()
        _LOCAL.parser, _LOCAL.transformer = _new_parser(transformer), transformer
        _LOCAL.driver = Driver(_LOCAL.parser)
        return _LOCAL.parser, transformer


def _new_parser(transformer):
    """Lark_StandAlone(transformer=transformer), from its pickle (_lark_tables.py, written by
    tools/make_parser.py: Lark's tables are not rebuilt on every start) where it loads."""
    try:
        try:
            from _pickle import loads  # CPython's unpickler (pickle.loads) without importing pickle.py
        except ImportError:  # pragma: no cover - another Python
            from pickle import loads

        from ._lark_tables import PICKLE

        lark = loads(PICKLE)
        # what Lark._prepare_callbacks does with a transformer, in the dict the parser already holds
        callbacks = lark._parse_tree_builder.create_callback(transformer)
        callbacks.update(_get_lexer_callbacks(transformer, lark.terminals))
        lark.options.transformer = transformer
        lark._callbacks.clear()
        lark._callbacks.update(callbacks)
        return lark
    except Exception:  # pragma: no cover - a missing or stale pickle: build from the tables
        return Lark_StandAlone(transformer=transformer)


def parse(text: str, path: str = "<spec>") -> A.Program:
    """Parse one spec text. Raises SyntaxErr or LimitError with a span, with the further syntax
    errors of the text as its `more` (see _Recovery). Thread-safe."""
    source = Source(path, text)
    _check_size_and_nesting(source)
    parser, transformer = _lark()
    transformer.source = source
    recovery = _Recovery(source)
    try:
        try:
            return _LOCAL.driver.parse(text)
        except Reject:  # not in the language: Lark's own driver says why, and goes on after each error
            program = parser.parse(text, on_error=recovery)
    except UnexpectedInput as err:
        recovery.add(_syntax_error(err, source))
    except VisitError as err:  # pragma: no cover - inline transformers raise directly
        raise err.orig_exc from None
    except ArchError as err:  # a number past the limit, while the AST is built
        recovery.add(err)
    recovery.errors.check()
    return program  # pragma: no cover - Lark's driver accepts only what the fast one does


class _Recovery:
    """Lark's `on_error`: each syntax error is kept and Lark goes on past the token (or character)
    it could not take. Only the first error of a line is said: the rest of a line that has gone
    wrong is mostly the same mistake."""

    def __init__(self, source: Source):
        self.source = source
        self.errors = Errors()
        self.line = 0  # the line of the last error said

    def add(self, err: ArchError) -> None:
        if err.span is None or err.span.line != self.line:
            self.line = err.span.line if err.span is not None else self.line
            self.errors.add(err)

    def __call__(self, err: UnexpectedInput) -> bool:
        if isinstance(err, UnexpectedToken) and err.token.type == "$END":
            return False  # nothing left to go on with: Lark raises it, and parse() keeps it
        self.add(_syntax_error(err, self.source))
        return True


def _check_size_and_nesting(source: Source) -> None:
    """Checked on the raw text so that nothing deep or huge reaches the parser."""
    size = len(source.text.encode("utf-8", "replace"))
    if size > MAX_FILE_BYTES:
        raise LimitError(f"the spec is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", Span(source, 1, 1, 1, 2), code="E0601")
    if source.text.count("{") + source.text.count("(") <= MAX_NESTING:  # never deeper than the openers
        return
    depth, line, col, in_comment, in_string = 0, 1, 0, False, False
    for ch in source.text:
        col += 1
        if ch == "\n":
            line, col, in_comment, in_string = line + 1, 0, False, False
        elif in_comment:
            continue
        elif ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch == "#":
            in_comment = True
        elif ch in "{(":
            depth += 1
            if depth > MAX_NESTING:
                raise LimitError(
                    f"braces and parentheses are nested more than {MAX_NESTING} deep",
                    Span(source, line, col, line, col + 1),
                    hint="define a block with `def` and call it instead of nesting",
                    code="E0602",
                )
        elif ch in "})":
            depth -= 1


_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a number",
    "FLOAT": "a number",
    "DIMS": "a size such as 3x3",
    "LABEL": "a name followed by ':'",
    "REF": "a reference such as @conv1",
    "STRING": "a quoted string",
    "PATH": "a layer name such as features or layer1.0",
    "REPEAT": "a repetition such as x3",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "MERGE": "concat, add or mul",
    "CMP": "a comparison",
    "SUMOP": "+ or -",
    "PRODOP": "* or //",
}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _lark()[0].get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'"


def _syntax_error(err: UnexpectedInput, source: Source) -> SyntaxErr:
    line, column = max(err.line, 1), max(err.column, 1)
    width = 1
    expected = set()
    if isinstance(err, UnexpectedToken):
        token = err.token
        expected = err.expected
        if token.type == "$END":
            what = "end of the file"
            line, column = _end_position(source)
        elif token.type == "_NL":
            what = "end of the line"
            width = 1
        elif token.type == "_ELSE":  # the token takes the line breaks before `else`: point at the word
            text = str(token)
            at = text.rindex("else")
            line += text.count("\n", 0, at)
            column = at - text.rfind("\n", 0, at) if "\n" in text[:at] else column + at
            what, width = "'else'", 4
        else:
            what = f"'{token}'"
            width = max(1, len(str(token)))
        message = f"unexpected {what}"
        code = "E0012" if token.type == "$END" else "E0010"
    elif isinstance(err, UnexpectedCharacters):
        char = source.text[err.pos_in_stream] if err.pos_in_stream < len(source.text) else "?"
        message = f"unexpected character '{char}'"
        code = "E0011"
    elif isinstance(err, UnexpectedEOF):
        line, column = _end_position(source)
        expected = set(err.expected)
        message = "unexpected end of the file"
        code = "E0012"
    else:  # pragma: no cover - lark has no other kinds
        message, code = str(err), "E0010"
    hint = None
    names = sorted({_describe_terminal(e) for e in expected if not e.startswith("__")})
    if names:
        hint = "expected " + ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    if isinstance(err, UnexpectedToken) and err.token.type == "$END" and "RBRACE" in expected:
        hint = "a '{' is not closed"
    elif isinstance(err, UnexpectedToken) and err.token.type == "SLASH":
        hint = "division is written // (a single / is a stride, as in conv 64 3x3 /2)"
    return SyntaxErr(message, Span(source, line, column, line, column + width), hint, code=code)


def _end_position(source: Source) -> tuple[int, int]:
    """Just after the last character that is not blank (the file's last line may be empty)."""
    lines = source.text.rstrip().split("\n")
    return len(lines), len(lines[-1].rstrip("\r")) + 1


def _first(child) -> Token | Span | None:
    """What a child begins with (its `line` and `column`): a token, a node's span, or for a body or
    chain its first item's."""
    if isinstance(child, Token):
        return child
    if type(child) is tuple:
        for item in child:
            found = _first(item)
            if found is not None:
                return found
        return None
    return getattr(child, "span", None)


def _last(child) -> Token | Span | None:
    """What a child ends with (its `end_line` and `end_column`): as _first, from the end."""
    if isinstance(child, Token):
        return child
    if type(child) is tuple:
        for item in reversed(child):
            found = _last(item)
            if found is not None:
                return found
        return None
    return getattr(child, "span", None)


_KEPT = frozenset({"LSQB", "RSQB", "LBRACE", "RBRACE", "SLASH", "MINUS", "DEF", "LET", "SET", "USE", "INPUT", "OUTPUT",
                   "FREEZE", "REGISTER", "CHECKPOINT", "NETWORK", "IF", "REPEAT_KW", "FOR"})


def _bare(children) -> list:
    """The children without the keywords and brackets kept only for their positions."""
    return [c for c in children if not (isinstance(c, Token) and c.type in _KEPT)]


class _ToAst(Transformer):
    """One method per grammar rule; terminals become Python values with spans. A rule's span
    runs from its first to its last child that has one (keywords and braces are not kept)."""

    source: Source = Source("<spec>", "")

    def _span(self, children) -> Span | None:
        if len(children) == 1 and type(span := getattr(children[0], "span", None)) is Span:  # a node's: the same
            return span
        for child in children:
            first = _first(child)
            if first is not None:
                break
        else:
            return None
        for child in reversed(children):
            last = _last(child)
            if last is not None:
                if first is last and type(first) is Span:  # one child's span: the same
                    return first
                return Span(self.source, first.line, first.column, last.end_line, last.end_column)
        return None  # pragma: no cover - a child with a start has an end

    def _tspan(self, tok: Token) -> Span:
        return Span(self.source, tok.line, tok.column, tok.end_line, tok.end_column)

    def _int(self, tok: Token) -> int:
        return self._int_text(str(tok), tok)

    # program and bodies
    def start(self, children):
        return A.Program(self.source, tuple(children))

    def body(self, children):
        return tuple(children)

    def branches(self, children):
        return tuple(children)

    # layer statements
    def layer_stmt(self, children):  # no keyword or bracket of its own to leave out
        span = self._span(children)
        assertion = label = repeat = None
        chain = ()
        for c in children:
            if isinstance(c, A.Assertion):
                assertion = c
            elif isinstance(c, Token) and c.type == "LABEL":
                label = A.Label(str(c)[:-1], self._tspan(c))
            elif isinstance(c, Token) and c.type == "REPEAT":
                repeat = self._int(Token("INT", str(c)[1:], line=c.line, column=c.column, end_line=c.end_line, end_column=c.end_column))
            else:
                chain = c
        return A.LayerStmt(assertion, label, chain, repeat, span)

    def assertion(self, children):
        span, children = self._span(children), _bare(children)
        (tok,) = children
        dims = tuple(self._int_text(t, tok) for t in str(tok).split("x"))
        return A.Assertion(dims, span)

    def _int_text(self, text: str, tok: Token) -> int:
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(MAX_INT)) or int(digits) > MAX_INT:
            shown = text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"
            raise LimitError(f"the number {shown} is larger than the limit {MAX_INT:,}", self._tspan(tok), code="E0605")
        return int(digits)

    def chain(self, children):
        return tuple(children)

    def call(self, children):
        name, *args = children
        return A.Call(str(name), tuple(args), self._span(children))

    def group(self, children):
        span, children = self._span(children), _bare(children)
        (body,) = children
        return A.Group(body, span)

    def merge(self, children):
        span, children = self._span(children), _bare(children)
        kind, branches = children
        return A.Merge(str(kind), branches, span)

    def ref(self, children):
        (tok,) = children
        return A.Ref(str(tok)[1:], self._tspan(tok))

    def positional(self, children):
        return A.Positional(children[0], self._span(children))

    def option(self, children):
        name, value = children
        return A.Option(str(name), value, self._span(children))

    def stride(self, children):
        span, children = self._span(children), _bare(children)
        return A.Stride(children[0], span)

    # other statements
    def def_stmt(self, children):
        span, children = self._span(children), _bare(children)
        name, *rest = children
        body = rest[-1]
        params = tuple(p for p in rest[:-1] if p is not None)
        return A.Def(str(name), params, body, span)

    def param(self, children):
        name, *default = children
        return A.Param(str(name), default[0] if default else None, self._span(children))

    def let_stmt(self, children):
        span, children = self._span(children), _bare(children)
        name, value = children
        return A.Let(str(name), value, span)

    def set_stmt(self, children):
        span, children = self._span(children), _bare(children)
        kind, *args = children
        return A.SetDefault(str(kind), tuple(args), span)

    def use_stmt(self, children):
        span, children = self._span(children), _bare(children)
        (tok,) = children
        return A.Use(str(tok)[1:-1], span)

    def input_stmt(self, children):
        span, children = self._span(children), _bare(children)
        return A.Input(children[0], span)

    def output_stmt(self, children):
        span, children = self._span(children), _bare(children)
        return A.Output(tuple(children), span)

    def freeze_stmt(self, children):
        span, children = self._span(children), _bare(children)
        return A.Freeze(tuple((str(t), self._tspan(t)) for t in children), span)

    def register_stmt(self, children):
        span, children = self._span(children), _bare(children)
        return A.Register(tuple((str(t), self._tspan(t)) for t in children), span)

    def checkpoint_stmt(self, children):
        span, children = self._span(children), _bare(children)
        return A.Checkpoint(tuple((str(t), self._tspan(t)) for t in children), span)

    def network_stmt(self, children):
        span, children = self._span(children), _bare(children)
        name, *records = children
        return A.Network(str(name), span, tuple(records))

    def if_stmt(self, children):
        span, children = self._span(children), _bare(children)
        cond, then, *otherwise = children
        return A.If(cond, then, otherwise[0] if otherwise else (), span)

    def repeat_stmt(self, children):
        span, children = self._span(children), _bare(children)
        count, body = children
        return A.Repeat(count, body, span)

    def for_stmt(self, children):
        span, children = self._span(children), _bare(children)
        var, start, end, body = children
        return A.For(str(var), start, end, body, span)

    # expressions
    def or_op(self, children):
        return A.BinOp("or", children[0], children[1], self._span(children))

    def and_op(self, children):
        return A.BinOp("and", children[0], children[1], self._span(children))

    def not_op(self, children):
        return A.UnaryOp("not", children[0], self._span(children))

    def compare(self, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._span(children))

    def binop_sum(self, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._span(children))

    binop_product = binop_sum

    def neg(self, children):
        span, children = self._span(children), _bare(children)
        return A.UnaryOp("-", children[0], span)

    def int(self, children):
        (tok,) = children
        return A.Num(self._int(tok), self._tspan(tok))

    def float(self, children):
        value = float(children[0])
        if not abs(value) <= MAX_INT:  # also inf (1e999)
            text = str(children[0])
            shown = text if len(text) <= 20 else f"{text[:8]}...({len(text)} characters)"
            raise LimitError(f"the number {shown} is larger than the limit {MAX_INT:,}", self._tspan(children[0]), code="E0605")
        return A.Num(value, self._tspan(children[0]))

    def dims(self, children):
        (tok,) = children
        return A.Dims(tuple([self._int_text(t, tok) for t in str(tok).split("x")]), self._tspan(tok))

    def var(self, children):
        (tok,) = children
        return A.Var(str(tok), self._tspan(tok))

    def string(self, children):
        (tok,) = children
        return A.Str(str(tok)[1:-1], self._tspan(tok))
