"""The table a person reads: one row per layer, a totals footer.

The table is laid out here as plain lines, in one pass over the rows (rich's Table engine costs
about half a millisecond a row); on a terminal rich only supplies the colours (`render_table`).

When the table is wider than the terminal, it narrows in this order until it fits:

1. the layer descriptions wrap at word boundaries, down to `LAYER_MIN` columns;
2. headers shorten (`output (HxWxC)` becomes `output`, the axes move to the title) and counts
   are abbreviated (`2,049,000` parameters become `2.0M`);
3. the RF column goes;
4. figure columns go, rightmost first, except MACs and params (`saved`, then `activations`);
5. params goes, then the output shape;
6. descriptions wrap down to their longest word and names wrap after their dots (a word longer
   than its column is split).

The name and MACs are never dropped. `width=None` (`--wide`, and what a pipe or a file gets)
prints every column in full. No line ends in a space.
"""
from __future__ import annotations

from ..figures import COLUMNS
from ..ops.base import slide_order

GAP = "  "  # between columns
LAYER_MIN = 16  # the layer column wraps down to this before anything is dropped
LABEL = 14  # the footer's label column
KEPT_LONGEST = ("params", "macs")  # figure columns dropped last, in this order; macs never
NEVER_DROPPED = ("name", "layer", "macs")
CHUNK = 4096  # lines per write


def human(n: int | float) -> str:
    """3211264 -> 3.2M, as the CS231n table writes memory."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def shape_text(shape: tuple, input_rank: int = 0) -> str:
    return "x".join(map(str, slide_order(shape, input_rank)))


def rf_text(rf) -> str:
    """11x11 /4 (3x3x3 /1 in 3D, 9 /2 in 1D); a stride that differs per dimension is spelled out."""
    if rf is None:
        return "-"
    sizes, strides = rf
    shown = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in strides]
    stride = shown[0] if len(set(shown)) == 1 else "x".join(shown)
    return f"{'x'.join(map(str, sizes))} /{stride}"


def count_text(n: int) -> str:
    """15,262,696 (15.3M); small numbers once."""
    return f"{n:,} ({human(n)})" if n >= 1000 else f"{n:,}"


def bytes_text(n: int) -> str:
    return f"{n / 1e6:,.1f} MB ({n / 2**20:,.1f} MiB)"


def cell(row, figure, short: bool = False) -> str:
    """One figure of a row as the table writes it; empty for zero. `short`: counts abbreviated."""
    value = row.figures[figure.name]
    number = human if short else "{:,}".format
    if figure.style == "params":
        if not value:
            return ""
        trainable = row.figures["trainable_params"]
        if value == trainable:
            return number(value)
        return f"{number(value)} (frozen)" if not trainable else f"{number(value)} ({number(trainable)} trainable)"
    if figure.style == "activations" and not value:
        return "in place" if row.inplace else ""
    if figure.style == "count":
        return number(value) if value else ""
    if figure.style == "bytes":
        return f"{human(value)}B" if value else ""
    return human(value) if value else ""


def _each(f, values: list) -> list[str]:
    """f of each value, computed once per distinct value (shapes, fields, counts repeat)."""
    try:
        texts = {v: f(v) for v in set(values)}
    except TypeError:  # unhashable
        return [f(v) for v in values]
    return [texts[v] for v in values]


def _cells(rows, figure, short: bool = False) -> list[str]:
    """`cell` for every row, with the work done once per distinct value."""
    name = figure.name
    if figure.style == "params":
        return _each(lambda vt: cell(_Figures({name: vt[0], "trainable_params": vt[1]}), figure, short),
                     [(r.figures[name], r.figures["trainable_params"]) for r in rows])
    values = [r.figures[name] for r in rows]
    texts = _each(lambda v: cell(_Figures({name: v}), figure, short), values)
    if figure.style == "activations":
        return [text if v else ("in place" if r.inplace else "") for text, v, r in zip(texts, values, rows)]
    return texts


class _Figures:
    __slots__ = ("figures", "inplace")

    def __init__(self, figures):
        self.figures, self.inplace = figures, False


# --------------------------------------------------------------------------- layout

class _Column:
    __slots__ = ("key", "header", "short_header", "cells", "short_cells", "right", "figure", "_widths")

    def __init__(self, key, header, cells, right, short_header=None, figure=None):
        self.key, self.header, self.cells, self.right, self.figure = key, header, cells, right, figure
        self.short_header = short_header or header
        self.short_cells = None
        self._widths = {}

    def texts(self, short: bool, rows) -> tuple[str, list[str]]:
        if not short:
            return self.header, self.cells
        if self.short_cells is None:
            self.short_cells = (_cells(rows, self.figure, short=True)
                                if self.figure is not None and self.figure.style in ("params", "count") else self.cells)
        return self.short_header, self.short_cells

    def width(self, short: bool, rows) -> int:
        """The widest of the header and the cells."""
        if short not in self._widths:
            header, cells = self.texts(short, rows)
            self._widths[short] = max(len(header), max(map(len, cells), default=0))
        return self._widths[short]


def _columns(a) -> list[_Column]:
    rows = a.rows
    axes = {1: "features", 2: "LxC", 3: "HxWxC", 4: "DxHxWxC"}[len(a.input_shape)]
    cols = [
        _Column("name", "name", [r.name for r in rows], False),
        _Column("layer", "layer", [r.description for r in rows], False),
        _Column("output", f"output ({axes})", _each(lambda s: shape_text(s, len(a.input_shape)), [r.output_shape for r in rows]), True,
                short_header="output"),
    ]
    for figure in COLUMNS:
        cols.append(_Column(figure.name, figure.column, _cells(rows, figure), True, figure=figure))
    cols.append(_Column("rf", "RF", _each(rf_text, [r.receptive_field for r in rows]), True))
    return cols


def _drop_order(cols: list[_Column]) -> list[str]:
    """Which columns go, first to last, when the table does not fit."""
    figures = [c.key for c in cols if c.figure is not None]
    order = ["rf"] + [k for k in reversed(figures) if k not in KEPT_LONGEST]
    order += [k for k in KEPT_LONGEST if k in figures] + ["output"]
    return [k for k in order if k not in NEVER_DROPPED]


def wrap(text: str, width: int, sep: str = " ") -> list[str]:
    """Greedy wrap at `sep` (kept at the end of a piece unless it is a space); a piece longer
    than the width is split."""
    if len(text) <= width:
        return [text]
    if sep == " ":
        pieces = text.split(" ")
    else:
        parts = text.split(sep)
        pieces = [p + sep for p in parts[:-1]] + [parts[-1]]
    glue = " " if sep == " " else ""
    lines: list[str] = []
    line = ""
    for piece in pieces:
        while len(piece) > width:  # longer than a whole line: split it
            if line:
                lines.append(line)
                line = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if not line:
            line = piece
        elif len(line) + len(glue) + len(piece) <= width:
            line += glue + piece
        else:
            lines.append(line)
            line = piece
    if line or not lines:
        lines.append(line)
    return lines


def _longest_piece(texts, sep: str) -> int:
    if sep == " ":
        return max((len(w) for t in texts for w in t.split(" ")), default=0)
    return max((len(p) + 1 for t in texts for p in t.split(sep)), default=0)


def _layout(cols: list[_Column], rows, width: int | None):
    """The columns to show, whether abbreviated, and each shown column's width."""
    def natural(visible, short):
        return {c.key: c.width(short, rows) for c in visible}

    if width is None:
        return cols, False, natural(cols, False)
    order = _drop_order(cols)
    attempts = [(0, False)] + [(k, True) for k in range(len(order) + 1)]
    for dropped, short in attempts:
        gone = set(order[:dropped])
        visible = [c for c in cols if c.key not in gone]
        widths = natural(visible, short)
        room = width - (sum(widths.values()) - widths["layer"]) - len(GAP) * (len(visible) - 1)
        if room >= min(widths["layer"], LAYER_MIN):
            widths["layer"] = min(widths["layer"], room)
            return visible, short, widths
    # the narrowest table: descriptions down to their longest word, then names after their dots
    fixed = sum(w for k, w in widths.items() if k not in ("name", "layer")) + len(GAP) * (len(visible) - 1)
    descriptions = visible[1].texts(True, rows)[1]
    layer = max(len("layer"), min(widths["layer"], _longest_piece(descriptions, " ")))
    name = widths["name"]
    if fixed + name + layer > width:
        name = max(len("name"), min(name, _longest_piece(visible[0].cells, ".")), width - fixed - layer)
    widths["name"], widths["layer"] = name, min(widths["layer"], max(layer, width - fixed - name))
    return visible, short, widths


def table_lines(a, width: int | None = None, styles: dict | None = None) -> list[str]:
    """The table as lines (no newlines): fitted to `width` columns, or everything in full for
    None. `styles` maps "name", "header", "title", "dim", "label" to (ANSI prefix, suffix)."""
    rows = a.rows
    cols = _columns(a)
    visible, short, widths = _layout(cols, rows, width)
    st = styles or {}
    no = ("", "")

    settings = f"batch {a.batch}, {a.dtype}{', depth ' + str(a.depth) if a.depth else ''}"
    if a.convention != "archdsl":
        settings += f", MACs as {a.convention} counts them"
    if short and any(c.key == "output" for c in visible):  # the short header leaves out the axes
        settings += f"; output {cols[2].header[len('output ('):-1]}"
    lines = []
    title_pre, title_suf = st.get("title", no)
    dim_pre, dim_suf = st.get("dim", no)
    for i, piece in enumerate(wrap_parts([a.network, f"({settings})"], width, "  ")):
        if i == 0 and piece.startswith(a.network):
            rest = piece[len(a.network):]
            lines.append(f"{title_pre}{a.network}{title_suf}" + (f"{dim_pre}{rest}{dim_suf}" if rest else ""))
        else:
            lines.append(f"{dim_pre}{piece}{dim_suf}")

    texts = [c.texts(short, rows) for c in visible]
    ws = [widths[c.key] for c in visible]
    fmt = GAP.join(f"{{:{'>' if c.right else '<'}{w}}}" for c, w in zip(visible, ws))
    header_pre, header_suf = st.get("header", no)
    lines.append(header_pre + fmt.format(*(h if len(h) <= w else h[:w] for (h, _), w in zip(texts, ws))).rstrip() + header_suf)

    name_pre, name_suf = st.get("name", no)
    name_w, layer_w = ws[0], ws[1]
    columns = [cells for _, cells in texts]
    names, descriptions = columns[0], columns[1]
    for i, values in enumerate(zip(*columns)):
        name, desc = names[i], descriptions[i]
        if len(name) <= name_w and len(desc) <= layer_w:
            line = fmt.format(*values).rstrip()
            lines.append(f"{name_pre}{name}{name_suf}{line[len(name):]}" if name_pre else line)
            continue
        name_lines = wrap(name, name_w, ".")
        desc_lines = wrap(desc, layer_w, " ")
        for k in range(max(len(name_lines), len(desc_lines))):
            n = name_lines[k] if k < len(name_lines) else ""
            d = desc_lines[k] if k < len(desc_lines) else ""
            line = fmt.format(n, d, *(values[2:] if k == 0 else [""] * (len(values) - 2))).rstrip()
            lines.append(f"{name_pre}{n}{name_suf}{line[len(n):]}" if name_pre and n else line)

    lines.append("")
    t = a.totals
    frozen = t["frozen_params"]
    footer = [
        ("layers", [f"{t['layers']:,}"]),
        ("parameters", [count_text(t["params"]) + (f", {t['trainable_params']:,} trainable, {frozen:,} frozen" if frozen else ""),
                        f"{bytes_text(t['param_bytes'])} as {a.dtype}"]),
        ("MACs", [count_text(t["macs"]), f"FLOPs {count_text(t['flops'])}",
                  *([f"as {a.convention} counts them"] if a.convention != "archdsl" else [])]),
        ("other ops", [count_text(t["other_ops"]), "bias, norms, activations, pooling, adds"]),
        ("activations", [count_text(t["activations"]),
                         f"{bytes_text(t['activation_bytes'])} forward, batch {a.batch}, input included"]),
        *memory_lines(a),
        ("output", [", ".join(f"{n} [{shape_text(s, len(a.input_shape))}]" for n, s in a.outputs)]),
    ]
    label_pre, label_suf = st.get("label", no)
    for label, parts in footer:
        body = wrap_parts(parts, None if width is None else max(width - LABEL, 20), "   ")
        lines.append(f"{label_pre}{label}{label_suf}{' ' * (LABEL - len(label))}{body[0]}")
        lines.extend(" " * LABEL + more for more in body[1:])
    return lines


def memory_lines(a) -> list[tuple[str, list[str]]]:
    """The footer's memory: what autograd keeps, and the peaks of a training step and an inference."""
    t, s = a.totals, a.settings
    state = f", {s.optimizer} state {bytes_text(t['optimizer_bytes'])}" if t["optimizer_bytes"] else f", {s.optimizer}: no state"
    lines = [
        ("saved", [f"{bytes_text(t['saved_bytes'])} kept for backward, batch {a.batch}"]),
        ("training", [f"peak {bytes_text(t['train_peak_bytes'])}",
                      f"parameters {bytes_text(t['param_bytes'])}, gradients {bytes_text(t['grad_bytes'])}{state}"]),
        ("inference", [f"peak {bytes_text(t['inference_peak_bytes'])}", "eval, no grad"]),
    ]
    if s.amp:
        lines.append(("autocast", [f"{s.amp} on {s.device}: {s.device.upper() if s.device == 'cuda' else 'the CPU'}'s lists; "
                                   "float32 weights, their casts counted"]))
    if t["recomputed_macs"]:
        lines.append(("checkpoint", [f"{bytes_text(t['saved_bytes'])} saved; a training step runs "
                                     f"{t['recomputed_macs']:,} MACs again ({t['train_step_macs']:,} in all)"]))
    if s.device == "cuda":
        lines.append(("cuda", ["every tensor rounded up to the caching allocator's 512-byte blocks; "
                               "no cuDNN workspace, no CUDA context"]))
    return lines


def wrap_parts(parts: list[str], width: int | None, glue: str) -> list[str]:
    """Parts joined by `glue`, a new line where the next part does not fit; a part longer than a
    line wraps at its spaces (and a list of names after its commas)."""
    if width is None:
        return [glue.join(parts)]
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(glue) + len(part) <= width:
            lines[-1] += glue + part
        else:
            lines.extend(wrap(part, width, " "))
    return lines


def write_lines(lines: list[str], file) -> None:
    """Write lines to a text file in chunks (a closed pipe stops the writing early)."""
    for i in range(0, len(lines), CHUNK):
        file.write("\n".join(lines[i:i + CHUNK]) + "\n")
    file.flush()


def write_table(a, file, width: int | None = None, styles: dict | None = None) -> None:
    """The table on a text file: everything in full, or fitted to `width` columns (see table_lines)."""
    write_lines(table_lines(a, width, styles), file)


STYLES = {"name": "cyan", "header": "bold", "title": "bold", "dim": "dim", "label": "bold"}
_SGR = {"cyan": "36", "bold": "1", "dim": "2"}


def posix_terminal(environ, stdout) -> tuple[int, dict | None] | None:
    """(width, styles) for a table on `stdout` when it is a terminal of a POSIX system that rich
    would detect from the environment alone; None to let rich decide (Windows, FORCE_COLOR,
    TTY_COMPATIBLE, not a terminal). Importing rich's Console costs a fifth of the whole command
    (docs/benchmarks.md), so this common case goes without it: the width is COLUMNS or the
    terminal's, as rich takes it, and the escape codes are those rich writes for the table's styles
    (tests/test_table.py compares them with rich's); no colour under NO_COLOR."""
    import os

    if os.name != "posix" or "FORCE_COLOR" in environ or "TTY_COMPATIBLE" in environ:
        return None
    if environ.get("TERM", "").strip().lower() in ("dumb", "unknown"):
        return None  # rich has its own rules for the width of a dumb terminal
    try:
        if not stdout.isatty():
            return None
        columns = environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else os.get_terminal_size(stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    no_color = environ.get("NO_COLOR", "") != ""
    styles = {}
    for key, style in STYLES.items():
        code = "" if no_color and style == "cyan" else _SGR[style]
        styles[key] = (f"\x1b[{code}m", "\x1b[0m") if code else ("", "")
    return width, styles


def ansi_styles(console) -> dict | None:
    """The escape codes rich would write for each style of the table on this console (its colour
    system, NO_COLOR, ...); None where it writes none (not a terminal, TERM=dumb)."""
    if not console.is_terminal or console.color_system is None:
        return None
    styles = {}
    for key, style in STYLES.items():
        with console.capture() as capture:
            console.print("X", style=style, end="", markup=False, highlight=False, emoji=False)
        pre, _, suf = capture.get().partition("X")
        styles[key] = (pre, suf)
    return styles


def render_table(a, console, wide: bool = False) -> None:
    """Print the table on a rich Console: fitted to its width (unless `wide`), coloured on a
    terminal. The lines are written to the console's file as they are, not laid out by rich."""
    write_lines(table_lines(a, None if wide else console.width, ansi_styles(console)), console.file)
