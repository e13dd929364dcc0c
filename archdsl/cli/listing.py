"""`archdsl list`: the spec library, one line each."""
from __future__ import annotations

import click

from ..errors import ArchError
from . import fail


@click.command("list")
def list_() -> None:
    """The spec library: what each spec is, its input and parameters (`archdsl analyze NAME`)."""
    import gc

    from .. import library

    gc.disable()
    try:
        entries = library.entries()
    except ArchError as err:
        fail(err)
    width = max(len(e.name) for e in entries)
    what = max(len(e.summary) for e in entries)
    shape = max(len(e.input) for e in entries)
    click.echo(f"{'name':<{width}}  {'what':<{what}}  {'input':>{shape}}  {'params':>11}")
    for e in entries:
        click.echo(f"{e.name:<{width}}  {e.summary:<{what}}  {e.input:>{shape}}  {e.params:>11,}")
    click.echo(f"\n{len(entries)} specs in {library.directory()}: archdsl analyze NAME (or build, graph)")
