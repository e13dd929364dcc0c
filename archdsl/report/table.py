"""The table a person reads (rich): one row per layer, a totals footer."""
from __future__ import annotations

from ..analysis import Analysis
from ..figures import COLUMNS
from ..ops.base import slide_order


def human(n: int | float) -> str:
    """3211264 -> 3.2M, as the CS231n table writes memory."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def shape_text(shape: tuple) -> str:
    return "x".join(map(str, slide_order(shape)))


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


def cell(row, figure) -> str:
    """One figure of a row as the table writes it; empty for zero."""
    value = row.figures[figure.name]
    if figure.style == "params":
        if not value:
            return ""
        trainable = row.figures["trainable_params"]
        return f"{value:,}" if value == trainable else f"{value:,} (frozen)" if not trainable else f"{value:,} ({trainable:,} trainable)"
    if figure.style == "activations" and not value:
        return "in place" if row.inplace else ""
    if figure.style == "count":
        return f"{value:,}" if value else ""
    return human(value) if value else ""


def render_table(a: Analysis, console) -> None:
    from rich.table import Table

    axes = {1: "features", 2: "LxC", 3: "HxWxC", 4: "DxHxWxC"}[len(a.input_shape)]
    title = f"{a.network}  [dim](batch {a.batch}, {a.dtype}{', depth ' + str(a.depth) if a.depth else ''})[/dim]"
    table = Table(title=title, title_justify="left", header_style="bold", pad_edge=False, box=None)
    table.add_column("name", style="cyan", no_wrap=True)
    table.add_column("layer", overflow="fold")
    table.add_column(f"output ({axes})", justify="right", no_wrap=True)
    for figure in COLUMNS:
        table.add_column(figure.column, justify="right", no_wrap=True)
    table.add_column("RF", justify="right", no_wrap=True)
    for r in a.rows:
        table.add_row(r.name, r.description, shape_text(r.output_shape), *(cell(r, f) for f in COLUMNS),
                      rf_text(r.receptive_field))
    console.print(table)
    t = a.totals
    frozen = t["frozen_params"]
    console.print()
    console.print(f"[bold]layers[/bold]        {t['layers']:,}")
    console.print(f"[bold]parameters[/bold]    {count_text(t['params'])}"
                  + (f", {t['trainable_params']:,} trainable, {frozen:,} frozen" if frozen else "")
                  + f"   {bytes_text(t['param_bytes'])} as {a.dtype}")
    console.print(f"[bold]MACs[/bold]          {count_text(t['macs'])}   FLOPs {count_text(t['flops'])}")
    console.print(f"[bold]other ops[/bold]     {count_text(t['other_ops'])}   bias, norms, activations, pooling, adds")
    console.print(f"[bold]activations[/bold]   {count_text(t['activations'])}   "
                  f"{bytes_text(t['activation_bytes'])} forward, batch {a.batch}, input included")
    outs = ", ".join(f"{n} [{shape_text(s)}]" for n, s in a.outputs)
    console.print(f"[bold]output[/bold]        {outs}")
