"""`archdsl compare`: networks side by side."""
from __future__ import annotations

import click

from ..errors import ArchError, UsageError
from . import LIB_OPTION, WIDE_OPTION, analysis_options, fail, load_all, terminal_width


@click.command()
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False), metavar="SPEC...")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@analysis_options
@click.option("--plot", default=None, metavar="FILE", help="Also draw compute against accuracy (or parameters): .png or .svg (needs archdsl[plot]).")
@click.option("--plot-x", type=click.Choice(["macs", "flops"]), default="macs", show_default=True, help="The chart's compute axis.")
@click.option("--plot-y", type=click.Choice(["auto", "top1", "params"]), default="auto", show_default=True,
              help="auto: the top-1 accuracy where every spec records one, else parameters.")
@LIB_OPTION
@WIDE_OPTION
def compare(specs: tuple[str, ...], fmt: str, plot: str | None, plot_x: str, plot_y: str, lib: tuple[str, ...],
            wide: bool, **analysis) -> None:
    """Networks side by side: parameters, MACs, memory, depth and receptive field of each SPEC."""
    from ..compare import compare as summarise
    from ..report import compare as report

    try:
        if not specs:
            raise UsageError("compare needs at least one SPEC", hint="archdsl compare resnet18 resnet50 vgg16", code="E0901")
        if plot is not None:
            from ..report import plot as chart

            chart.check(plot)
        nets = load_all(specs, lib)
        summaries = summarise(nets, **analysis)
        if plot is not None:
            chart.draw(summaries, plot, analysis, x=plot_x, y=plot_y)
    except ArchError as err:
        fail(err)
    except OSError as err:
        fail(UsageError(f"cannot write {plot}: {err.strerror}", code="E0903"))
    for warning in (w for net in nets for w in net.graph.warnings):
        click.echo(warning.format(), err=True)
    if fmt == "table":
        click.echo("\n".join(report.table_lines(summaries, analysis, None if wide else terminal_width())))
    else:
        text = report.FORMATS[fmt](summaries, analysis)
        click.echo(text, nl=not text.endswith("\n"))
    if plot is not None:
        click.echo(f"wrote {plot}", err=True)
