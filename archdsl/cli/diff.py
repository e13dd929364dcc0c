"""`archdsl diff`: what changed from one spec to another, layer by layer."""
from __future__ import annotations

import click

from ..errors import ArchError, UsageError
from . import LIB_OPTION, WIDE_OPTION, analysis_options, fail, load_all, terminal_width


@click.command()
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False), metavar="A B")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@click.option("--depth", type=int, default=None, help="Compare blocks: collapse both below this depth first.")
@click.option("--all", "everything", is_flag=True, help="List the layers that did not change too.")
@analysis_options
@LIB_OPTION
@WIDE_OPTION
def diff(specs: tuple[str, ...], fmt: str, depth: int | None, everything: bool, lib: tuple[str, ...], wide: bool,
         **analysis) -> None:
    """What changed from spec A to spec B, layer by layer (aligned by name), with the change of the totals."""
    from ..diff import diff_networks
    from ..report import diff as report

    try:
        if len(specs) != 2:
            raise UsageError(f"diff compares two specs, A and B, not {len(specs)}",
                             hint="archdsl diff resnet50 my_resnet50.arch; archdsl compare takes any number", code="E0901")
        a, b = load_all(specs, lib)
        result = diff_networks(a, b, depth=depth, **analysis)
    except ArchError as err:
        fail(err)
    for warning in (*a.graph.warnings, *b.graph.warnings):
        click.echo(warning.format(), err=True)
    if fmt == "table":
        click.echo("\n".join(report.table_lines(result, analysis, everything, None if wide else terminal_width())))
    else:
        text = report.FORMATS[fmt](result, analysis, everything)
        click.echo(text, nl=not text.endswith("\n"))
