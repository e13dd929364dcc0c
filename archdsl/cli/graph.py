"""`archdsl graph`: a spec as a diagram (Graphviz)."""
from __future__ import annotations

import click

from ..errors import ArchError, UsageError
from . import INPUT_OPTION, LIB_OPTION, SET_OPTION, fail, load_spec


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write: .svg, .png, .pdf or .dot (DOT source; needs no Graphviz).")
@click.option("--depth", type=int, default=None, help="Collapse blocks below this depth into one node each.")
@click.option("--stats", is_flag=True, help="Add parameters and MACs to every node and block.")
@click.option("--rankdir", type=click.Choice(["TB", "LR"]), default="TB", show_default=True, help="Top to bottom or left to right.")
@click.option("--compact", is_flag=True, help="Fold batch norms and activations into the layer before them; wrap a tall diagram into columns.")
@SET_OPTION
@INPUT_OPTION
@LIB_OPTION
def graph(spec: str, output: str, depth: int | None, stats: bool, rankdir: str, compact: bool, sets: tuple[str, ...],
          input_size: str | None, lib: tuple[str, ...]) -> None:
    """Draw SPEC as a diagram (Graphviz): layers, blocks as boxes, shapes on every node."""
    try:
        from ..backends import dot

        fmt = dot.output_format(output)
        net = load_spec(spec, sets, input_size, lib)
        result = net.analyze()
        diagram = dot.build(result, depth=depth, stats=stats, rankdir=rankdir, compact=compact)
        for warning in result.warnings:
            click.echo(warning.format(), err=True)
        dot.write(diagram, output)
    except ArchError as err:
        fail(err)
    except OSError as err:
        fail(UsageError(f"cannot read {spec}: {err.strerror}", code="E0002"))
    click.echo(f"wrote {output} ({fmt}, {len(net.graph.nodes) - 1} layers)", err=True)
