"""Source spans, the error classes of every phase, and the one formatter that prints them."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from .limits import MAX_QUOTED

SHOWN_LINE = 120  # characters of the source line an error shows, around the caret
SHOWN_TEXT = 300  # characters of a message or hint


@dataclass(frozen=True, slots=True)
class Source:
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


class ArchError(Exception):
    """An error in a spec. `phase` names the stage that found it."""

    phase = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def format(self) -> str:
        return format_diagnostic("error", self.message, self.span, self.hint)


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


@dataclass(frozen=True, slots=True)
class Warning_:
    message: str
    span: Span | None
    hint: str | None = None

    def format(self) -> str:
        return format_diagnostic("warning", self.message, self.span, self.hint)


def format_diagnostic(kind: str, message: str, span: Span | None, hint: str | None) -> str:
    """`file:line:col: error: message`, the source line, a caret under the span, a hint.

    What the spec wrote is shown safely: control and bidirectional-formatting characters as
    escapes (\\u202e), a long line as a window around the caret, long messages cut short."""
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
    if hint:
        out.append(f"hint: {_one_line(hint, SHOWN_TEXT)}")
    return "\n".join(out)


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
