"""The command line: argument handling only. Each command is a module of this package, imported
when it runs (click's lazy subcommands): `archdsl analyze` defines no other command's options."""
from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..figures import AMP, CONVENTIONS, DTYPE_BYTES, OPTIMIZERS
from ..errors import ArchError, UsageError


def parse_sets(values: tuple[str, ...]) -> dict:
    out = {}
    for item in values:
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise UsageError(f"--set {item}: write --set NAME=VALUE, e.g. --set classes=10", code="E0901")
        out[name.strip()] = value.strip()
    return out


# How a command reads its SPEC (load_spec's arguments) and lays out a table, declared once for every
# command that takes them (each decorator makes a new click option wherever it is applied)
SET_OPTION = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a constant defined with `let`.")
INPUT_OPTION = click.option("--input", "input_size", default=None, metavar="SIZE",
                            help="Replace the spec's input size: channels last, no batch (160x160x3 HxWxC, 8000x1 LxC, 784).")
LIB_OPTION = click.option("--lib", multiple=True, metavar="DIR",
                          help="A folder `use` may read, besides the spec's own folder and ARCHDSL_PATH's; may be repeated.")
WIDE_OPTION = click.option("--wide", is_flag=True, help="Every column in full, however wide the terminal (what a pipe or a file gets).")


def load_spec(spec: str, sets: tuple[str, ...], input_size: str | None, lib: tuple[str, ...]):
    """SPEC is a path or a library spec's name, never spec text; `-` reads the spec from standard input."""
    from ..files import read_spec, read_stream
    from ..network import load_text, resolve_path

    options = dict(set=parse_sets(sets), input=input_size, lib=lib)
    if spec == "-":
        return load_text(read_stream(sys.stdin.buffer), "<stdin>", **options)
    path = resolve_path(spec)
    return load_text(read_spec(path), path, **options)


def load_all(specs: tuple[str, ...], lib: tuple[str, ...]) -> list:
    """Each SPEC as `analyze` reads it: a path or a library spec's name."""
    nets = []
    for spec in specs:
        try:
            nets.append(load_spec(spec, (), None, lib))
        except OSError as err:
            raise UsageError(f"cannot read {spec}: {err.strerror}", code="E0903") from None
    return nets


def rich_decides() -> bool:
    """Standard output may be a terminal that only rich can size and colour (Windows, FORCE_COLOR,
    TTY_COMPATIBLE, a dumb terminal): where posix_terminal has no answer."""
    return sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR")) or os.environ.get("TTY_COMPATIBLE") == "1"


def terminal_width() -> int | None:
    """The width of the terminal standard output is, as the analyze table takes it; None for a
    pipe or a file (every column in full)."""
    from ..report.table import posix_terminal

    terminal = posix_terminal(os.environ, sys.stdout)
    if terminal:
        return terminal[0]
    if rich_decides():
        from rich.console import Console

        return Console().width
    return None


def fail(err: ArchError) -> None:
    click.echo(err.format(), err=True)
    sys.exit(2 if isinstance(err, UsageError) else 1)


def _closed_pipe() -> None:
    """The reader of standard output has gone (`archdsl analyze SPEC | head -3`): stop quietly
    with status 0, as Unix tools do; what is still buffered goes to /dev/null."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # standard output is not a file (a test's buffer)
        pass
    sys.exit(0)


# command -> where in this package it is defined: module.function
COMMANDS = {"analyze": "analyze.analyze", "build": "build.build", "compare": "compare.compare", "diff": "diff.diff",
            "fit": "fit.fit", "graph": "graph.graph", "list": "listing.list_", "train": "train.train"}


class _Commands(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        from importlib import import_module

        module, function = COMMANDS[name].split(".")
        return getattr(import_module(f"{__name__}.{module}"), function)

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # inside the try: the last write to a closed pipe fails here
            return result
        except BrokenPipeError:
            _closed_pipe()


# Every option that `Network.analyze` takes as a keyword, declared once: analyze, compare and diff
# hand them on as they are (archdsl/compare.py's `compare`, archdsl/diff.py's `diff`).
ANALYSIS_OPTIONS = (
    click.option("--batch", type=int, default=1, show_default=True, help="Batch size (MACs, FLOPs and activations scale with it)."),
    click.option("--dtype", type=click.Choice(list(DTYPE_BYTES)), default="float32", show_default=True, help="Bytes per element."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True,
                 help="The optimizer of the training step the memory figures describe (momentum: SGD with momentum)."),
    click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                 help="cuda: tensors rounded up to the caching allocator's 512-byte blocks, dropout masks of one byte."),
    click.option("--convention", type=click.Choice(CONVENTIONS), default="archdsl", show_default=True,
                 help="Count MACs and FLOPs as this tool does, to the unit (archdsl: torchvision's published figures)."),
    click.option("--amp", type=click.Choice(AMP), default=None,
                 help="The memory figures of a forward under torch.autocast in bfloat16 or float16 (the device's rules)."),
)


def analysis_options(command):
    for option in reversed(ANALYSIS_OPTIONS):
        command = option(command)
    return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archdsl")
def main() -> None:
    """archdsl: shapes, parameters, MACs, memory and receptive fields of a network, from a short spec."""


def run() -> None:
    """The `archdsl` command (pyproject.toml) and `python -m archdsl`: `main`; then, after a command
    that turned the collector off because its objects all live to the end (analyze), the process
    ends at once, its output flushed: freeing every object and module on the way out would be a
    twentieth of analysing ResNet-152, and nothing of it is needed."""
    import gc

    try:
        main()
    except SystemExit as stop:
        if not gc.isenabled():
            _end_now(stop.code)
        raise


def _end_now(code) -> None:
    """Exit with `code` as SystemExit would, without the interpreter's teardown; where the output
    cannot be flushed, return and let the interpreter end as usual (it reports what went wrong)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
