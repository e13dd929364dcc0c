"""The machine formats. JSON is the contract other tools rely on (schema archdsl.analysis/1)."""
from __future__ import annotations

import json

from ..analysis import Analysis, Row
from ..figures import COLUMNS, FIGURES

SCHEMA = "archdsl.analysis/1"


def row_dict(row: Row) -> dict:
    out = {
        "name": row.name,
        "op": row.op,
        "description": row.description,
        "file": row.file,
        "line": row.line,
        "output_shape": list(row.output_shape),
        **row.figures,
        "receptive_field": None if row.receptive_field is None else
        {"size": list(row.receptive_field[0]), "stride": list(row.receptive_field[1])},
    }
    if row.layers != 1:
        out["layers"] = row.layers
    return out


def to_dict(a: Analysis) -> dict:
    """The JSON document as plain Python (`Analysis.to_dict()`)."""
    doc = {
        "schema": SCHEMA,
        "network": a.network,
        "batch": a.batch,
        "dtype": a.dtype,
        "optimizer": a.settings.optimizer,
        "device": a.settings.device,
        "convention": a.convention,
        "amp": a.settings.amp,
        "input": {"shape": list(a.input_shape), "activations": a.rows[0].activations},
        "layers": [row_dict(r) for r in a.layers],
        "outputs": [{"name": n, "shape": list(s)} for n, s in a.outputs],
        "totals": dict(a.totals),
        "warnings": [{"line": w.span.line if w.span else None, "column": w.span.column if w.span else None,
                      "message": w.message} for w in a.warnings],
    }
    if a.depth is not None:
        doc["depth"] = a.depth
    return doc


def to_json(a: Analysis) -> str:
    return json_document(to_dict(a))


# json.dumps's settings, without its check for cycles (a report has none): a tenth less work
_encode = json.JSONEncoder(check_circular=False).encode


def json_document(doc: dict) -> str:
    """A report's JSON: one layer per line, readable, and every piece goes through json's fast C
    encoder (indent= turns it off: 6x slower on 10,000 layers)."""
    fields = []
    for key, value in doc.items():
        if key == "layers":
            fields.append(' "layers": [' + ("\n  " + ",\n  ".join(map(_encode, value)) + "\n ]" if value else "]"))
        else:
            fields.append(f" {_encode(key)}: {_encode(value)}")
    return "{\n" + ",\n".join(fields) + "\n}"


CSV_FIELDS = ("name", "op", "description", "line", "output_shape", *(f.name for f in FIGURES), "rf_size", "rf_stride",
              "file", "convention")  # added columns last: the columns before them keep their places


def _flat(row: Row, convention: str) -> dict:
    d = row_dict(row)
    d["convention"] = convention
    rf = d.pop("receptive_field")
    d["output_shape"] = "x".join(map(str, row.output_shape))
    d["rf_size"] = "" if rf is None else "x".join(map(str, rf["size"]))
    d["rf_stride"] = "" if rf is None else "x".join(map(str, rf["stride"]))
    return {k: d[k] for k in CSV_FIELDS}


def to_csv(a: Analysis) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in a.rows:
        writer.writerow(_flat(row, a.convention))
    return buf.getvalue()


def convention_note(a: Analysis) -> str:
    """How a title names a convention other than archdsl's: ", MACs as fvcore counts them"."""
    return "" if a.convention == "archdsl" else f", MACs as {a.convention} counts them"


def _title(a: Analysis) -> str:
    return f"{a.network} (batch {a.batch}, {a.dtype}{'' if a.depth is None else f', depth {a.depth}'}{convention_note(a)})"


def _cells(r: Row) -> list[str]:
    """A row's figures as Markdown and HTML write them; an activation computed in place says so, as the table does."""
    from .table import human

    return ["in place" if f.style == "activations" and r.inplace and not r.figures[f.name] else
            f"{r.figures[f.name]:,}" if f.style in ("count", "params") else
            human(r.figures[f.name]) + ("B" if f.style == "bytes" and r.figures[f.name] else "") for f in COLUMNS]


def _summary(a: Analysis) -> str:
    t = a.totals
    return (f"{t['params']:,} parameters ({t['trainable_params']:,} trainable), {t['macs']:,} MACs "
            f"({t['flops']:,} FLOPs), {t['activations']:,} activations ({t['activation_bytes'] / 1e6:.1f} MB); "
            f"{t['saved_bytes'] / 1e6:.1f} MB saved for backward, a training step ({a.settings.optimizer}) peaks at "
            f"{t['train_peak_bytes'] / 1e6:.1f} MB and an inference at {t['inference_peak_bytes'] / 1e6:.1f} MB.")


def to_markdown(a: Analysis) -> str:
    from .table import rf_text, shape_text

    lines = [
        f"### {_title(a)}",
        "",
        "| name | layer | output | " + " | ".join(f.column for f in COLUMNS) + " | receptive field |",
        "|---|---|---|" + "--:|" * len(COLUMNS) + "---|",
    ]
    for r in a.rows:
        lines.append(f"| {r.name} | `{r.description}` | {shape_text(r.output_shape, len(a.input_shape))} | {' | '.join(_cells(r))} | "
                     f"{rf_text(r.receptive_field)} |")
    lines += ["", f"**Total:** {_summary(a)}"]
    return "\n".join(lines) + "\n"


def to_html(a: Analysis) -> str:
    """The Markdown table as HTML (`Analysis._repr_html_`, for Jupyter)."""
    from html import escape as e

    from .table import rf_text, shape_text

    right = ' style="text-align:right"'
    head = "".join(f"<th>{e(c)}</th>" for c in ("name", "layer", "output")) + \
        "".join(f"<th{right}>{e(f.column)}</th>" for f in COLUMNS) + "<th>receptive field</th>"
    body = []
    for r in a.rows:
        cells = "".join(f"<td{right}>{e(c)}</td>" for c in _cells(r))
        body.append(f"<tr><td>{e(r.name)}</td><td><code>{e(r.description)}</code></td><td>{e(shape_text(r.output_shape, len(a.input_shape)))}</td>"
                    f"{cells}<td>{e(rf_text(r.receptive_field))}</td></tr>")
    return (f"<div><b>{e(_title(a))}</b><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) +
            f"\n</tbody></table><p><b>Total:</b> {e(_summary(a))}</p></div>\n")


__all__ = ["to_dict", "to_json", "to_csv", "to_markdown", "to_html"]
