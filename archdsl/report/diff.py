"""`archdsl diff` as a table, JSON (schema archdsl.diff/1), CSV and Markdown (archdsl/diff.py aligns)."""
from __future__ import annotations

from ..diff import STATUSES, Change, Diff
from .table import LAYER_MIN, human, shape_text, wrap, wrap_parts
from .compare import settings_text
from .formats import json_document

SCHEMA = "archdsl.diff/1"
FIGURES = ("params", "macs", "flops", "activations")  # per layer in JSON and CSV; the table shows params and MACs
TOTALS = (  # (key, label, bytes?) of the footer and of JSON's totals
    ("layers", "layers", False),
    ("params", "parameters", False),
    ("macs", "MACs", False),
    ("flops", "FLOPs", False),
    ("activations", "activations", False),
    ("saved_bytes", "saved", True),
    ("train_peak_bytes", "training peak", True),
    ("inference_peak_bytes", "inference peak", True),
)


def _shown(d: Diff, everything: bool) -> list[Change]:
    return [c for c in d.changes if everything or c.status != "same"]


def _pair(a, b) -> str:
    """`a -> b`, or one of them where there is only one or they are equal."""
    if a is None or b is None or a == b:
        return a if b is None else b
    return f"{a} -> {b}"


def _signed(n: int, short: bool = False) -> str:
    if not n:
        return ""
    return ("+" if n > 0 else "-") + human(abs(n)) if short else f"{n:+,}"


def _settings(d: Diff, settings: dict) -> str:
    depth = "" if d.a.depth is None else f", depth {d.a.depth}"
    return settings_text(settings) + depth


def _title(d: Diff) -> str:
    return f"{d.a.network} -> {d.b.network}"


def _count_line(d: Diff) -> str:
    counts = [f"{d.count(s)} {s}" for s in STATUSES if s != "same"]
    return ", ".join(counts) + f"; {d.count('same')} the same"


def cells(c: Change, short: bool = False) -> list[str]:
    name = _pair(c.a.name if c.a else None, c.b.name if c.b else None)
    layer = _pair(c.a.description if c.a else None, c.b.description if c.b else None)
    shape = _pair(shape_text(c.a.output_shape) if c.a else None, shape_text(c.b.output_shape) if c.b else None)
    return [c.status, name, layer, shape, _signed(c.delta("params"), short), _signed(c.delta("macs"), short)]


HEADERS = ["", "name", "layer", "output", "Δ params", "Δ MACs"]


def _total_text(value: int, in_bytes: bool) -> str:
    return f"{human(value)}B" if in_bytes else f"{value:,}"


def total_lines(d: Diff) -> list[tuple[str, list[str]]]:
    """(label, [`a -> b`, `(change; percent)`]) for each total of the footer."""
    out = []
    for key, label, in_bytes in TOTALS:
        a, b = d.a.totals[key], d.b.totals[key]
        change = b - a
        pct = f"; {100 * change / a:+.2f}%" if a and change else ""
        delta = (f"{'+' if change > 0 else '-'}{_total_text(abs(change), True)}" if in_bytes else f"{change:+,}") if change else "no change"
        out.append((label, [f"{_total_text(a, in_bytes)} -> {_total_text(b, in_bytes)}", f"({delta}{pct})"]))
    return out


def table_lines(d: Diff, settings: dict, everything: bool = False, width: int | None = None) -> list[str]:
    """Plain lines: every column in full, or fitted to `width` columns as the analyze table
    narrows (report/table.py): the changes abbreviated (`+19.0M`), then the layer column wrapped
    at word boundaries down to LAYER_MIN, then the names after their dots."""
    changes = _shown(d, everything)
    lines = wrap_parts([_title(d), f"({_settings(d, settings)})"], width, "  ")
    if changes:
        rows = [cells(c) for c in changes]
        widths = [max(len(x) for x in column) for column in zip(HEADERS, *rows)]
        if width is not None and sum(widths) + 2 * (len(widths) - 1) > width:
            rows = [cells(c, short=True) for c in changes]
            widths = [max(len(x) for x in column) for column in zip(HEADERS, *rows)]
            name_floor = max(len(piece) + 1 for r in rows for piece in r[1].split("."))  # break after a dot only
            for col, floor in ((2, LAYER_MIN), (1, name_floor)):  # the layer column, then the names
                excess = sum(widths) + 2 * (len(widths) - 1) - width
                if excess > 0:
                    widths[col] = max(floor, widths[col] - excess)
        right = [False, False, False, True, True, True]

        def line(values):
            return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

        lines.append(line(HEADERS))
        for r in rows:
            names, layers = wrap(r[1], widths[1], "."), wrap(r[2], widths[2])
            for k in range(max(len(names), len(layers))):
                first = [r[0]] if k == 0 else [""]
                rest = r[3:] if k == 0 else [""] * 3
                lines.append(line(first + [names[k] if k < len(names) else "", layers[k] if k < len(layers) else ""] + rest))
    lines += ["", _count_line(d)]
    for label, parts in total_lines(d):
        body = wrap_parts(parts, None if width is None else max(width - 16, 20), "  ")
        lines += [f"{label:<16}{body[0]}", *(" " * 16 + more for more in body[1:])]
    return lines


def _side(row) -> dict | None:
    if row is None:
        return None
    return {"name": row.name, "description": row.description, "output_shape": list(row.output_shape),
            **{f: row.figures[f] for f in FIGURES}}


def to_dict(d: Diff, settings: dict, everything: bool = False) -> dict:
    return {
        "schema": SCHEMA,
        "a": {"network": d.a.network, "file": d.a.graph.nodes[0].span.source.path},
        "b": {"network": d.b.network, "file": d.b.graph.nodes[0].span.source.path},
        **settings,
        "depth": d.a.depth,
        "counts": {s: d.count(s) for s in STATUSES},
        "layers": [{"status": c.status, "name": c.name, "a": _side(c.a), "b": _side(c.b),
                    "delta": {f: c.delta(f) for f in FIGURES}} for c in _shown(d, everything)],
        "totals": {side: {k: t[k] for k, _, _ in TOTALS} for side, t in (("a", d.a.totals), ("b", d.b.totals))}
        | {"delta": {k: d.total_delta(k) for k, _, _ in TOTALS}},
    }


def to_json(d: Diff, settings: dict, everything: bool = False) -> str:
    return json_document(to_dict(d, settings, everything))


def to_csv(d: Diff, settings: dict, everything: bool = False) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["status", "name", "name_a", "description_a", "description_b", "output_shape_a", "output_shape_b"]
    header += [f"{f}_{s}" for f in FIGURES for s in ("a", "b", "delta")]
    writer.writerow(header)
    for c in _shown(d, everything):
        row = [c.status, c.name, c.a.name if c.a else "", c.a.description if c.a else "", c.b.description if c.b else "",
               shape_text(c.a.output_shape) if c.a else "", shape_text(c.b.output_shape) if c.b else ""]
        for f in FIGURES:
            row += [c.value("a", f) if c.a else "", c.value("b", f) if c.b else "", c.delta(f)]
        writer.writerow(row)
    return buf.getvalue()


def to_markdown(d: Diff, settings: dict, everything: bool = False) -> str:
    lines = [f"### {_title(d)} ({_settings(d, settings)})", ""]
    rows = [cells(c) for c in _shown(d, everything)]
    if rows:
        lines += ["| | name | layer | output | Δ params | Δ MACs |", "|---|---|---|--:|--:|--:|"]
        lines += ["| " + " | ".join(f"`{v}`" if i == 2 and v else v for i, v in enumerate(r)) + " |" for r in rows]
        lines.append("")
    lines.append(f"**{_count_line(d)}.**")
    lines.append("")
    lines += [f"- {label}: {'  '.join(parts)}" for label, parts in total_lines(d)]
    return "\n".join(lines) + "\n"


FORMATS = {"json": to_json, "csv": to_csv, "markdown": to_markdown}
