"""What changed between two specs (`archdsl diff A B`): their analyses' rows aligned by name.

Rows are aligned by their names in order (difflib's longest matching runs over the two name
sequences; a name that occurs twice, as ResNet's shared `relu`, is matched occurrence by
occurrence). A row present in both is `changed` when its description, output shape or any figure
differs, else `same`; a row of one side only is `removed` or `added`, except that an unmatched row
of B and one of A in the same run of differences, with the same description, shape and figures,
are one `renamed` layer (each row of B takes the first such row of A). With a depth, both analyses are collapsed to it first, so that
whole blocks are compared (docs/compare.md, "diff").
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from .analysis import Analysis, Row

STATUSES = ("changed", "added", "removed", "renamed", "same")


@dataclass(frozen=True)
class Change:
    status: str  # one of STATUSES
    a: Row | None  # None for an added row
    b: Row | None  # None for a removed row

    @property
    def name(self) -> str:
        return (self.b or self.a).name

    def value(self, side: str, figure: str) -> int:
        row = self.a if side == "a" else self.b
        return 0 if row is None else row.figures[figure]

    def delta(self, figure: str) -> int:
        return self.value("b", figure) - self.value("a", figure)


@dataclass(frozen=True)
class Diff:
    a: Analysis
    b: Analysis
    changes: tuple[Change, ...]  # every row of both, in order

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.changes)

    def total_delta(self, name: str) -> int:
        return self.b.totals[name] - self.a.totals[name]


def _same_layer(a: Row, b: Row) -> bool:
    return a.description == b.description and a.output_shape == b.output_shape and a.figures == b.figures


def _keys(rows) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        seen[row.name] = seen.get(row.name, -1) + 1
        out.append((row.name, seen[row.name]))
    return out


def diff(a: Analysis, b: Analysis) -> Diff:
    """Every row of `a` and `b` (the input included), aligned."""
    ka, kb = _keys(a.rows), _keys(b.rows)
    in_a, in_b = dict(zip(ka, a.rows)), dict(zip(kb, b.rows))
    changes = []

    def matched(key):
        ra, rb = in_a[key], in_b[key]
        changes.append(Change("same" if _same_layer(ra, rb) else "changed", ra, rb))

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if tag == "equal":
            for key in ka[i1:i2]:
                matched(key)
            continue
        only_a = [in_a[k] for k in ka[i1:i2] if k not in in_b]  # names in both but moved: matched on B's side
        only_b = [in_b[k] for k in kb[j1:j2] if k not in in_a]
        renamed, taken = {}, set()
        for rb in only_b:  # each with the first unpaired row of A that is the same layer
            ra = next((r for r in only_a if id(r) not in taken and _same_layer(r, rb)), None)
            if ra is not None:
                renamed[id(rb)] = ra
                taken.add(id(ra))
        changes.extend(Change("removed", r, None) for r in only_a if id(r) not in taken)
        for key in kb[j1:j2]:
            if key in in_a:
                matched(key)
            elif id(in_b[key]) in renamed:
                changes.append(Change("renamed", renamed[id(in_b[key])], in_b[key]))
            else:
                changes.append(Change("added", None, in_b[key]))
    return Diff(a, b, tuple(changes))


def diff_networks(a, b, depth: int | None = None, **analysis_options) -> Diff:
    """`Network`s a and b, each analysed with the keyword arguments of `Network.analyze`
    (batch, dtype, optimizer, device, ...) and collapsed to `depth`: the one place diff passes them on."""
    return diff(a.analyze(depth=depth, **analysis_options), b.analyze(depth=depth, **analysis_options))
