"""`archdsl compare` as a table, JSON (schema archdsl.compare/1), CSV and Markdown: one row per
network, figures as `analyze` computes them (archdsl/compare.py)."""
from __future__ import annotations

import json

from ..compare import Summary
from ..ops.base import fmt_size, slide_order
from .table import human, rf_text, wrap, wrap_parts

SCHEMA = "archdsl.compare/1"

# (key, header, the value of a summary, how the table writes it): the columns of every format
_BYTES = "bytes"
COLUMNS = (
    ("network", "network", lambda s: s.network, str),
    ("input", "input", lambda s: fmt_size(slide_order(s.input_shape)), str),
    ("params", "params", lambda s: s.totals["params"], human),
    ("macs", "MACs", lambda s: s.totals["macs"], human),
    ("flops", "FLOPs", lambda s: s.totals["flops"], human),
    ("activations", "activations", lambda s: s.totals["activations"], human),
    ("activation_bytes", "act. memory", lambda s: s.totals["activation_bytes"], _BYTES),
    ("saved_bytes", "saved", lambda s: s.totals["saved_bytes"], _BYTES),
    ("train_peak_bytes", "train peak", lambda s: s.totals["train_peak_bytes"], _BYTES),
    ("inference_peak_bytes", "infer. peak", lambda s: s.totals["inference_peak_bytes"], _BYTES),
    ("depth", "depth", lambda s: s.depth, str),
    ("receptive_field", "RF", lambda s: s.receptive_field, rf_text),
    ("top1", "top-1 %", lambda s: s.top1, lambda v: "" if v is None else f"{v:g}"),
)


def _text(fmt, value) -> str:
    if fmt is _BYTES:
        return f"{human(value)}B"
    return fmt(value)


def settings_text(settings: dict) -> str:
    """The analysis options in a title; archdsl's own convention and no autocast go unsaid, as in analyze's."""
    unsaid = {("convention", "archdsl"), ("amp", None)}
    return ", ".join(f"{k} {v}" for k, v in settings.items() if (k, v) not in unsaid)


# What a narrow terminal leaves out, first to last, until the table fits its width: FLOPs (twice
# the MACs), the activations' count and bytes, saved, the inference peak, the depth, the input,
# the receptive field, the training peak. The network, params, MACs and top-1 always stay; a pipe,
# a file and `--wide` get every column.
DROP_ORDER = ("flops", "activations", "activation_bytes", "saved_bytes", "inference_peak_bytes", "depth", "input",
              "receptive_field", "train_peak_bytes")


def _shown(summaries: list[Summary]) -> list[tuple]:
    """The columns with a value for these networks: the accuracy only where a spec records one."""
    return [c for c in COLUMNS if c[0] != "top1" or any(s.top1 is not None for s in summaries)]


def cells(summaries: list[Summary], columns: list[tuple] | None = None) -> tuple[list[str], list[list[str]]]:
    """The headers and each network's cells as the table and Markdown write them."""
    shown = _shown(summaries) if columns is None else columns
    return [h for _, h, _, _ in shown], [[_text(f, get(s)) for _, _, get, f in shown] for s in summaries]


def table_lines(summaries: list[Summary], settings: dict, width: int | None = None) -> list[str]:
    """Plain lines, numbers right-aligned, no line ending in a space: every column in full, or
    fitted to `width` columns by leaving out columns in DROP_ORDER (a last line says which)."""
    shown = _shown(summaries)
    dropped = []

    def widths_of(columns):
        headers, rows = cells(summaries, columns)
        return [max(len(c) for c in column) for column in zip(headers, *rows)]

    for key in DROP_ORDER if width is not None else ():
        if sum(widths_of(shown)) + 2 * (len(shown) - 1) <= width:
            break
        dropped += [h for k, h, _, _ in shown if k == key]
        shown = [c for c in shown if c[0] != key]
    headers, rows = cells(summaries, shown)
    widths = widths_of(shown)
    right = [key not in ("network", "input") for key, *_ in shown]

    def line(values):
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    lines = [*wrap_parts(["compare", f"({settings_text(settings)})"], width, "  "), line(headers), *(line(r) for r in rows)]
    if dropped:
        lines += wrap(f"(--wide: also {', '.join(dropped)})", width)
    return lines


def to_dict(summaries: list[Summary], settings: dict) -> dict:
    return {
        "schema": SCHEMA,
        **settings,
        "networks": [{
            "network": s.network,
            "file": s.path,
            "input": list(s.input_shape),
            "depth": s.depth,
            "receptive_field": None if s.receptive_field is None else
            {"size": list(s.receptive_field[0]), "stride": list(s.receptive_field[1])},
            "top1": s.top1,
            "totals": s.totals,
        } for s in summaries],
    }


def to_json(summaries: list[Summary], settings: dict) -> str:
    doc = to_dict(summaries, settings)
    head = {k: v for k, v in doc.items() if k != "networks"}
    body = ",\n  ".join(json.dumps(n) for n in doc["networks"])
    return json.dumps(head)[:-1] + ',\n "networks": [\n  ' + body + "\n ]\n}"


def to_csv(summaries: list[Summary], settings: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([k for k, _, _, _ in COLUMNS] + ["layers", "file"])
    for s in summaries:
        values = []
        for key, _, get, _ in COLUMNS:
            v = get(s)
            values.append("" if v is None else rf_text(v) if key == "receptive_field" else v)
        writer.writerow(values + [s.totals["layers"], s.path])
    return buf.getvalue()


def to_markdown(summaries: list[Summary], settings: dict) -> str:
    headers, rows = cells(summaries)
    lines = [f"### compare ({settings_text(settings)})", "",
             "| " + " | ".join(headers) + " |",
             "|---|---|" + "--:|" * (len(headers) - 2)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


FORMATS = {"json": to_json, "csv": to_csv, "markdown": to_markdown}
