"""`archdsl analyze`: one spec's table, JSON, CSV or Markdown."""
from __future__ import annotations

import os
import sys

import click

from ..errors import ArchError, UsageError
from . import INPUT_OPTION, LIB_OPTION, SET_OPTION, WIDE_OPTION, analysis_options, fail, load_spec, rich_decides


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@analysis_options
@SET_OPTION
@click.option("--depth", type=int, default=None, help="Collapse blocks below this depth into one row each.")
@INPUT_OPTION
@LIB_OPTION
@WIDE_OPTION
def analyze(spec: str, fmt: str, batch: int, dtype: str, sets: tuple[str, ...], depth: int | None,
            input_size: str | None, wide: bool, lib: tuple[str, ...], optimizer: str, device: str,
            convention: str, amp: str | None) -> None:
    """Analyse SPEC: one row per layer, with totals."""
    import gc

    gc.disable()  # a short run whose objects all live to the end: collecting them only costs time
    try:
        net = load_spec(spec, sets, input_size, lib)
        result = net.analyze(batch=batch, dtype=dtype, depth=depth, optimizer=optimizer, device=device,
                             convention=convention, amp=amp)
    except ArchError as err:
        fail(err)
    except OSError as err:
        fail(UsageError(f"cannot read {spec}: {err.strerror}", code="E0002"))
    for warning in result.warnings:
        click.echo(warning.format(), err=True)
    if fmt == "table":
        from ..report.table import posix_terminal, render_table, write_table

        terminal = posix_terminal(os.environ, sys.stdout)
        if terminal:  # fitted to the terminal, coloured
            write_table(result, sys.stdout, width=None if wide else terminal[0], styles=terminal[1])
        elif rich_decides():
            from rich.console import Console

            render_table(result, Console(highlight=False), wide=wide)  # rich decides: Windows, FORCE_COLOR
        else:
            write_table(result, sys.stdout)  # a pipe or a file: every column in full, no colour
        return
    from ..report import formats

    text = {"json": formats.to_json, "csv": formats.to_csv, "markdown": formats.to_markdown}[fmt](result)
    click.echo(text, nl=not text.endswith("\n"))
