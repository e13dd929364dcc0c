"""Source spans, the error classes of every phase, and the one formatter that prints them.

A diagnostic is printed as compilers print them (docs/errors.md):

    bad.arch:3:3: error[E0101]: unknown layer or block 'cnov'
       3 |   cnov c 3
         |   ^^^^
    hint: did you mean 'conv'?
    bad.arch:7:1: note: expanded from this call of block 'stage'
       7 | stage 16
         | ^^^^^^^^

The first line is `file:line:col: error[CODE]: one sentence` (the code is in archdsl/codes.py);
then the source line with a caret under the whole span, a hint, and one "expanded from" note per
block call, `for` loop or `use` that the location was reached through, innermost first and
outermost last (as clang and rustc print macro expansions). Several errors of one run are
printed one after another, at most MAX_ERRORS of them.
"""

import unicodedata
from typing import NamedTuple

from .limits import MAX_ERRORS, MAX_ERRORS_FOUND, MAX_QUOTED

SHOWN_LINE = 120  # characters of the source line an error shows, around the caret
SHOWN_TEXT = 300  # characters of a message or hint
SHOWN_FRAMES = 4  # "expanded from" notes shown: the innermost ones and the outermost


class Source(NamedTuple):
    """One spec text and where it came from."""

    path: str
    text: str

    def line(self, number: int) -> str:
        """Line `number` (from 1) as the parser counts lines: only "\n" ends one."""
        if number < 1:
            return ""
        start = 0
        for _ in range(number - 1):
            start = self.text.find("\n", start) + 1
            if start == 0:
                return ""
        end = self.text.find("\n", start)
        return self.text[start:end if end >= 0 else len(self.text)].rstrip("\r")


class Span(NamedTuple):
    """Where something is written; a NamedTuple because the parser makes one per token."""

    source: Source
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.source.path}:{self.line}:{self.column}"


class Frame(NamedTuple):
    """A block call, `for` loop or `use` that an error's location was reached through: `span` is
    the call, `note` says what it is ("this call of block 'stage'"), `body` where the called text is."""

    span: Span
    note: str
    body: Span | None = None

    def holds(self, span: Span | None) -> bool:
        """Whether `span` lies in the text this frame expanded (a block's definition, a loop)."""
        b = self.body
        return (b is not None and span is not None and span.source is b.source
                and (b.line, b.column) <= (span.line, span.column) and (span.end_line, span.end_column) <= (b.end_line, b.end_column))


class ArchError(Exception):
    """An error in a spec. `phase` names the stage that found it; `code` its kind (codes.py).

    `trace`: the frames its location was reached through, innermost first (None: not known yet).
    `more`: the further errors found in the same run, in order;
    `stopped`: the search stopped at MAX_ERRORS_FOUND, so there may be more."""

    phase = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.code = code
        self.trace: tuple[Frame, ...] | None = None
        self.more: list[ArchError] = []
        self.stopped = False

    @property
    def errors(self) -> list["ArchError"]:
        """Every error of the run: this one, then the others."""
        return [self, *self.more]

    def format(self) -> str:
        shown = [format_diagnostic("error", e.message, e.span, e.hint, e.code, e.trace or ()) for e in self.errors[:MAX_ERRORS]]
        left = len(self.errors) - MAX_ERRORS
        if left > 0 or self.stopped:
            shown.append(f"{max(left, 0)}{'+' if self.stopped else ''} more error{'s' if left != 1 or self.stopped else ''} not shown"
                         + (f" (archdsl stopped looking after {MAX_ERRORS_FOUND})" if self.stopped else ""))
        return "\n\n".join(shown)

    def to_dict(self) -> dict:
        """One error as data (the JSON form): code, message, hint, location and its frames."""
        def where(span):
            return None if span is None else {"file": span.source.path, "line": span.line, "column": span.column,
                                              "end_line": span.end_line, "end_column": span.end_column}

        return {"code": self.code, "phase": self.phase, "message": self.message, "hint": self.hint,
                "location": where(self.span),
                "expanded_from": [{"note": f.note, "location": where(f.span)} for f in self.trace or ()]}


class Errors:
    """The errors of one run, for a stage that recovers and goes on (parser, expander, shapes):
    each kept once (an error in a loop body or a block called twice is said once), the first
    raised with the others as its `more` when the stage ends."""

    def __init__(self):
        self.found: list[ArchError] = []
        self.seen: set = set()
        self.stopped = False

    def __len__(self) -> int:
        return len(self.found)

    def add(self, err: ArchError) -> None:
        for e in err.errors:
            key = (e.code, e.message, None if e.span is None else tuple(e.span[1:]), None if e.span is None else e.span.source.path)
            if key not in self.seen:
                self.seen.add(key)
                e.more = []
                self.found.append(e)
        self.stopped = self.stopped or err.stopped
        if len(self.found) >= MAX_ERRORS_FOUND:
            self.stopped = True
            raise self.error()

    def error(self) -> ArchError:
        first = self.found[0]
        first.more, first.stopped = self.found[1:], self.stopped
        return first

    def check(self) -> None:
        """Raise the errors found, if any."""
        if self.found:
            raise self.error()


class SyntaxErr(ArchError):
    phase = "syntax"


class ExpandError(ArchError):
    """Names, blocks, arguments, repetition: everything found while expanding the spec."""

    phase = "expand"


class ShapeError(ArchError):
    phase = "shape"


class LimitError(ArchError):
    phase = "limit"


class UsageError(ArchError):
    """A bad command-line value (no span)."""

    phase = "usage"


class Warning_(NamedTuple):
    message: str
    span: Span | None
    hint: str | None = None
    code: str | None = None
    trace: tuple = ()

    def format(self) -> str:
        return format_diagnostic("warning", self.message, self.span, self.hint, self.code, self.trace)


def format_diagnostic(kind: str, message: str, span: Span | None, hint: str | None, code: str | None = None,
                      trace: tuple = ()) -> str:
    """`file:line:col: error[E0101]: message`, the source line, a caret under the span, a hint,
    then the frames ("expanded from"), innermost first.

    What the spec wrote is shown safely: control and bidirectional-formatting characters as
    escapes (\\u202e), a long line as a window around the caret, long messages cut short."""
    out = _located(f"{kind}[{code}]" if code else kind, message, span)
    if hint:
        out.append(f"hint: {_one_line(hint, SHOWN_TEXT)}")
    frames = list(trace)
    if len(frames) > SHOWN_FRAMES:  # the innermost ones, and the outermost: where the user wrote it
        hidden = len(frames) - SHOWN_FRAMES
        frames = frames[:SHOWN_FRAMES - 1] + [None] + frames[-1:]
    for frame in frames:
        if frame is None:
            out.append(f"note: ... expanded through {hidden} more")
        else:
            out.extend(_located("note", "expanded from " + frame.note, frame.span))
    return "\n".join(out)


def _located(kind: str, message: str, span: Span | None) -> list[str]:
    message = _one_line(message, SHOWN_TEXT)
    if span is None:
        out = [f"{kind}: {message}"]
    else:
        text = span.source.line(span.line)
        start = max(1, min(span.column, len(text) + 1))
        end = span.end_column if span.end_line == span.line else len(text) + 1
        end = max(start + 1, end)
        first = max(0, start - 1 - SHOWN_LINE // 2)  # the window of the line that is shown
        last = min(len(text), max(first + SHOWN_LINE, start))
        cells = [_cell(c) for c in text[first:last]]
        before = "".join(_pad(c) for c in cells[:start - 1 - first])
        caret = "^" * max(1, min(sum(len(_pad(c)) for c in cells[start - 1 - first:end - 1 - first]), SHOWN_LINE))
        gutter = f"{span.line:>4} | "
        shown = ("..." if first else "") + "".join(cells) + ("..." if last < len(text) else "")
        out = [
            f"{_one_line(str(span), SHOWN_TEXT)}: {kind}: {message}",
            gutter + shown,
            " " * (len(gutter) - 2) + "| " + ("   " if first else "") + before + caret,
        ]
    return out


def _cell(ch: str) -> str:
    """One character of a source line as an error shows it: a tab stays a tab; a control or
    format character (bidi overrides, zero-width ones) becomes an escape."""
    if ch == "\t" or ch.isprintable() and unicodedata.category(ch) != "Cf":
        return ch
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}"


def _pad(cell: str) -> str:
    """What goes under a shown cell so that the caret lines up: a tab under a tab, two spaces
    under a wide (East Asian) character."""
    if cell == "\t":
        return "\t"
    return "  " if len(cell) == 1 and unicodedata.east_asian_width(cell) in "WF" else " " * len(cell)


def _one_line(text: str, limit: int) -> str:
    text = "".join(_cell(c) if c != "\t" else " " for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def quote(text: str, limit: int = MAX_QUOTED) -> str:
    """A name or value written in the spec, cut to `limit` characters for a message."""
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text):,} characters)"


def did_you_mean(word: str, candidates) -> str | None:
    """The closest candidates (those as close as the best one), or None."""
    import difflib

    if len(word) > MAX_QUOTED:  # nothing that long is close to a name, and difflib is quadratic
        return None
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word.lower())
    scored = []
    for c in set(candidates):
        if len(c) > MAX_QUOTED:
            continue
        matcher.set_seq1(c.lower())  # the cheap upper bounds first, as difflib.get_close_matches does
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6 and (r := matcher.ratio()) >= 0.6:
            scored.append((r, c))
    scored.sort(key=lambda t: (-t[0], t[1]))
    best = [c for r, c in scored if r >= scored[0][0] - 1e-9] if scored else []
    if not best:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in best[:3]) + "?"
