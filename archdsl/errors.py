"""Source spans, the error classes of every phase, and the one formatter that prints them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Source:
    """One spec text and where it came from."""

    path: str
    text: str

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


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
    """`file:line:col: error: message`, the source line, a caret under the span, a hint."""
    if span is None:
        out = [f"{kind}: {message}"]
    else:
        text = span.source.line(span.line)
        width = span.end_column - span.column if span.end_line == span.line else len(text) - span.column + 1
        width = max(1, width)
        gutter = f"{span.line:>4} | "
        out = [
            f"{span}: {kind}: {message}",
            gutter + text.rstrip("\n"),
            " " * (len(gutter) - 2) + "| " + " " * (span.column - 1) + "^" * width,
        ]
    if hint:
        out.append(f"hint: {hint}")
    return "\n".join(out)


def did_you_mean(word: str, candidates) -> str | None:
    """The closest candidates (those as close as the best one), or None."""
    import difflib

    scored = sorted(
        ((difflib.SequenceMatcher(None, word.lower(), c.lower()).ratio(), c) for c in set(candidates)),
        key=lambda t: (-t[0], t[1]),
    )
    best = [c for r, c in scored if r >= 0.6 and r >= scored[0][0] - 1e-9] if scored else []
    if not best:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in best[:3]) + "?"
