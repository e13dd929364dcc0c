"""The command line: argument handling only."""
from __future__ import annotations

import os
import sys

import click

from . import __version__
from .figures import AMP, CONVENTIONS, DTYPE_BYTES, OPTIMIZERS
from .errors import ArchError, UsageError


def _parse_sets(values: tuple[str, ...]) -> dict:
    out = {}
    for item in values:
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise UsageError(f"--set {item}: write --set NAME=VALUE, e.g. --set classes=10", code="E0901")
        out[name.strip()] = value.strip()
    return out


INPUT_HELP = "Replace the spec's input size: channels last, no batch (160x160x3 HxWxC, 8000x1 LxC, 784)."
LIB_HELP = "A folder `use` may read, besides the spec's own folder and ARCHDSL_PATH's; may be repeated."
WIDE_HELP = "Every column in full, however wide the terminal (what a pipe or a file gets)."


def _load(spec: str, sets: tuple[str, ...], input_size: str | None, lib: tuple[str, ...]):
    """SPEC is a path or a library spec's name, never spec text; `-` reads the spec from standard input."""
    from .files import read_spec, read_stream
    from .network import load_text, resolve_path

    options = dict(set=_parse_sets(sets), input=input_size, lib=lib)
    if spec == "-":
        return load_text(read_stream(sys.stdin.buffer), "<stdin>", **options)
    path = resolve_path(spec)
    return load_text(read_spec(path), path, **options)


def _rich_decides() -> bool:
    """Standard output may be a terminal that only rich can size and colour (Windows, FORCE_COLOR,
    TTY_COMPATIBLE, a dumb terminal): where posix_terminal has no answer."""
    return sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR")) or os.environ.get("TTY_COMPATIBLE") == "1"


def _terminal_width() -> int | None:
    """The width of the terminal standard output is, as the analyze table takes it; None for a
    pipe or a file (every column in full)."""
    from .report.table import posix_terminal

    terminal = posix_terminal(os.environ, sys.stdout)
    if terminal:
        return terminal[0]
    if _rich_decides():
        from rich.console import Console

        return Console().width
    return None


def _fail(err: ArchError) -> None:
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


class _Commands(click.Group):
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


def _analysis_options(command):
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


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@_analysis_options
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a constant defined with `let`.")
@click.option("--depth", type=int, default=None, help="Collapse blocks below this depth into one row each.")
@click.option("--input", "input_size", default=None, metavar="SIZE", help=INPUT_HELP)
@click.option("--lib", multiple=True, metavar="DIR", help=LIB_HELP)
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def analyze(spec: str, fmt: str, batch: int, dtype: str, sets: tuple[str, ...], depth: int | None,
            input_size: str | None, wide: bool, lib: tuple[str, ...], optimizer: str, device: str,
            convention: str, amp: str | None) -> None:
    """Analyse SPEC: one row per layer, with totals."""
    import gc

    gc.disable()  # a short run whose objects all live to the end: collecting them only costs time
    try:
        net = _load(spec, sets, input_size, lib)
        result = net.analyze(batch=batch, dtype=dtype, depth=depth, optimizer=optimizer, device=device,
                             convention=convention, amp=amp)
    except ArchError as err:
        _fail(err)
    except OSError as err:
        _fail(UsageError(f"cannot read {spec}: {err.strerror}", code="E0002"))
    for warning in result.warnings:
        click.echo(warning.format(), err=True)
    if fmt == "table":
        from .report.table import posix_terminal, render_table, write_table

        terminal = posix_terminal(os.environ, sys.stdout)
        if terminal:  # fitted to the terminal, coloured
            write_table(result, sys.stdout, width=None if wide else terminal[0], styles=terminal[1])
        elif _rich_decides():
            from rich.console import Console

            render_table(result, Console(highlight=False), wide=wide)  # rich decides: Windows, FORCE_COLOR
        else:
            write_table(result, sys.stdout)  # a pipe or a file: every column in full, no colour
        return
    from .report import formats

    text = {"json": formats.to_json, "csv": formats.to_csv, "markdown": formats.to_markdown}[fmt](result)
    click.echo(text, nl=not text.endswith("\n"))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write: .svg, .png, .pdf or .dot (DOT source; needs no Graphviz).")
@click.option("--depth", type=int, default=None, help="Collapse blocks below this depth into one node each.")
@click.option("--stats", is_flag=True, help="Add parameters and MACs to every node and block.")
@click.option("--rankdir", type=click.Choice(["TB", "LR"]), default="TB", show_default=True, help="Top to bottom or left to right.")
@click.option("--compact", is_flag=True, help="Fold batch norms and activations into the layer before them; wrap a tall diagram into columns.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a constant defined with `let`.")
@click.option("--input", "input_size", default=None, metavar="SIZE", help=INPUT_HELP)
@click.option("--lib", multiple=True, metavar="DIR", help=LIB_HELP)
def graph(spec: str, output: str, depth: int | None, stats: bool, rankdir: str, compact: bool, sets: tuple[str, ...],
          input_size: str | None, lib: tuple[str, ...]) -> None:
    """Draw SPEC as a diagram (Graphviz): layers, blocks as boxes, shapes on every node."""
    try:
        from .backends import dot

        fmt = dot.output_format(output)
        net = _load(spec, sets, input_size, lib)
        result = net.analyze()
        diagram = dot.build(result, depth=depth, stats=stats, rankdir=rankdir, compact=compact)
        for warning in result.warnings:
            click.echo(warning.format(), err=True)
        dot.write(diagram, output)
    except ArchError as err:
        _fail(err)
    except OSError as err:
        _fail(UsageError(f"cannot read {spec}: {err.strerror}", code="E0002"))
    click.echo(f"wrote {output} ({fmt}, {len(net.graph.nodes) - 1} layers)", err=True)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Also write the module: .py (standalone PyTorch source), .pt2 (a torch.export program) "
                   "or .onnx (ONNX, for Netron or onnxruntime; needs archdsl[onnx]).")
@click.option("--device", type=click.Choice(["cpu", "cuda", "meta"]), default="cpu", show_default=True,
              help="meta builds instantly and allocates nothing.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64"]), default="float32", show_default=True)
@click.option("--channels-last", is_flag=True, help="Store 4D weights channels_last.")
@click.option("--check", is_flag=True, help="Run a forward and a backward pass on random input and compare every shape with the analysis.")
@click.option("--weights", default=None, metavar="FILE", help="Load a saved state_dict (strict).")
@click.option("--optimize", type=click.Choice(["inference"]), default=None,
              help="Fold batch norm into the layer before it and drop dropout (eval only).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a constant defined with `let`.")
@click.option("--input", "input_size", default=None, metavar="SIZE", help=INPUT_HELP)
@click.option("--lib", multiple=True, metavar="DIR", help=LIB_HELP)
def build(spec, output, device, dtype, channels_last, check, weights, optimize, sets, input_size, lib) -> None:
    """Build SPEC as a PyTorch module and print a summary of it (needs PyTorch: archdsl[torch])."""
    from .network import torch_backend

    try:
        net = _load(spec, sets, input_size, lib)
        analysis = net.analyze()
        if output is not None and not output.endswith((".py", ".pt2", ".onnx")):
            raise UsageError(f"-o {output}: write a .py (PyTorch source), a .pt2 (torch.export) or an .onnx file", code="E0901")
        if optimize and device == "meta":
            raise UsageError("--optimize inference needs real weights: use --device cpu or cuda", code="E0902")
        if optimize and output is not None and output.endswith(".py"):
            raise UsageError(f"-o {output} --optimize inference: the source has no weights to fold batch norm into",
                             hint="write the folded module as a .pt2 or .onnx file, or the source without --optimize", code="E0902")
        if device == "meta" and output is not None and output.endswith((".pt2", ".onnx")):
            raise UsageError(f"-o {output} on --device meta: the file would have no weights",
                             hint="build on --device cpu (or cuda) to write it", code="E0902")
        backend = torch_backend()
        module = net.build(device=device, dtype=dtype, memory_format="channels_last" if channels_last else None)
        notes = []
        if weights:
            count = backend.load_weights(module, weights)
            notes.append(f"weights: {count:,} tensors from {weights}, every state_dict entry of the spec")
        if check:
            calls = backend.check(module, net.analysed(), device=device)
            notes.append(f"check: a forward and a backward pass on {device}: {calls} layer outputs have the analysis' shapes")
        module.eval()
        if optimize:
            module = backend.optimize_for_inference(module, portable=bool(output and output.endswith((".pt2", ".onnx"))))
            notes.append("optimized for inference: batch norm folded, dropout removed")
        _print_module(module, device, dtype, backend.parameter_count, optimize)
        for note in notes:
            click.echo(note)
        if output is not None:
            if output.endswith(".py"):
                source = net.source(None if spec == "-" else spec)
                with open(output, "w", encoding="utf-8") as f:
                    f.write(source)
            elif output.endswith(".onnx"):
                click.echo("onnx: " + backend.export_onnx(module, analysis.input_shape, output, device=device))
            else:
                backend.export_program(module, analysis.input_shape, output, device=device)
            shape = ", ".join(["batch", *map(str, analysis.input_shape)])
            click.echo(f"wrote {output}" + ("" if output.endswith(".py") else f" (input ({shape}), any batch size)"))
    except ArchError as err:
        _fail(err)
    except BrokenPipeError:
        raise  # standard output was closed: not a file error (see _Commands)
    except OSError as err:
        _fail(UsageError(f"cannot read or write a file: {err}", code="E0903"))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--memory", "budget", required=True, metavar="AMOUNT", help="The device's memory: 24GiB, 16GB, 800MB.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64"]), default="float32", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda: tensors rounded to the caching allocator's 512-byte blocks.")
@click.option("--amp", type=click.Choice(AMP), default=None, help="A forward under torch.autocast in bfloat16 or float16.")
@click.option("--train/--inference", "train", default=True, help="A training step (default) or an eval, no-grad forward.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a constant defined with `let`.")
@click.option("--input", "input_size", default=None, metavar="SIZE", help=INPUT_HELP)
@click.option("--lib", multiple=True, metavar="DIR", help=LIB_HELP)
def fit(spec, budget, optimizer, dtype, device, amp, train, fmt, sets, input_size, lib) -> None:
    """The largest batch of SPEC whose peak memory fits in --memory (a search over the exact model)."""
    import json

    from .fit import fit as search, parse_bytes
    from .report.table import bytes_text

    try:
        amount = parse_bytes(budget)
        net = _load(spec, sets, input_size, lib)
        result = search(net.analysed(), amount, "train" if train else "inference", optimizer, dtype, device, amp)
    except ArchError as err:
        _fail(err)
    except OSError as err:
        _fail(UsageError(f"cannot read {spec}: {err.strerror}", code="E0002"))
    what = f"a training step with {optimizer}" if train else "an inference (eval, no grad)"
    if fmt == "json":
        click.echo(json.dumps({"network": net.name, "memory": amount, "mode": result.mode, "optimizer": optimizer,
                               "dtype": dtype, "device": device, "amp": amp, "batch": result.batch,
                               "peak": result.peak, "parts": dict(result.parts), "dominant": result.dominant,
                               "table": [{"batch": b, "peak": p, "fits": p <= amount} for b, p in result.table]}))
        return
    if result.batch == 0:
        click.echo(f"{net.name}: not even a batch of 1 fits in {bytes_text(amount)} for {what}: "
                   f"it needs {bytes_text(result.table[0][1])}")
    else:
        click.echo(f"{net.name}: batch {result.batch:,} fits in {bytes_text(amount)} for {what} "
                   f"({dtype}{', autocast ' + amp if amp else ''}, {device}); "
                   f"batch {result.batch + 1:,} does not")
    click.echo(f"at batch {max(result.batch, 1):,} the peak is {bytes_text(result.peak)}, mostly {result.dominant}:")
    for name, value in result.parts:
        click.echo(f"  {name:<28} {bytes_text(value):>28}  {100 * value / max(result.peak, 1):5.1f}%")
    click.echo(f"\n  {'batch':>9}  {'peak':>28}")
    for b, p in result.table:
        click.echo(f"  {b:>9,}  {bytes_text(p):>28}  {'fits' if p <= amount else 'does not fit'}")
    if device == "cuda":
        click.echo("cuda: tensors rounded to 512-byte blocks; cuDNN workspaces and the CUDA context are not counted")


@main.command(context_settings={"show_default": True})
@click.argument("spec", required=False, type=click.Path(dir_okay=False))
@click.option("--data", default=None, metavar="SOURCE", help="An .npz (arrays x, y), an image folder (one sub-folder per class) "
              "or torchvision:NAME (MNIST, CIFAR10, ...); default: the embedded digits.")
@click.option("--epochs", type=click.IntRange(1), default=20)
@click.option("--batch", type=click.IntRange(1), default=64, help="Per process (torchrun: N x batch per step).")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=3e-3)
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam", "adamw"]), default="adam")
@click.option("--weight-decay", type=click.FloatRange(0), default=0.0)
@click.option("--schedule", type=click.Choice(["cosine", "step", "none"]), default="cosine",
              help="cosine to zero, or x0.1 at 1/2 and 3/4 of the run.")
@click.option("--warmup", type=click.FloatRange(0), default=0.0, metavar="EPOCHS", help="Linear warm-up first.")
@click.option("--amp", type=click.Choice(["bf16", "fp16"]), default=None, help="Autocast; fp16 on CUDA only.")
@click.option("--channels-last", is_flag=True)
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model.")
@click.option("--seed", type=int, default=0)
@click.option("--weights", default=None, metavar="FILE", help="Start from these weights (tensors of the spec's names and shapes).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: cuda where there is one.")
@click.option("--workers", type=click.IntRange(0), default=None, help="Data loader processes (default: 0 for data in memory).")
@click.option("--out", default=None, metavar="DIR", help="metrics.jsonl, checkpoint.pt each epoch, curves.png.")
@click.option("--resume", default=None, metavar="DIR", help="Go on from DIR's checkpoint (its spec and options).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a constant defined with `let`.")
@click.option("--input", "input_size", default=None, metavar="SIZE", help=INPUT_HELP)
@click.pass_context
def train(ctx, spec, sets, input_size, compile_, resume, **options) -> None:
    """Train SPEC on real data (needs PyTorch); data-parallel under torchrun -m archdsl train."""
    from .network import torch_backend

    try:
        if (spec is None) == (resume is None):
            raise UsageError("train: give a SPEC, or --resume DIR to go on with an earlier run", code="E0902")
        if spec is not None:
            from .network import resolve_path

            spec = resolve_path(spec)  # a path or a library spec's name, as for the other commands
        torch_backend()
        from .train import Config, run

        config = Config(spec=spec or "", sets=_parse_sets(sets), input=input_size, compile=compile_, resume=resume, **options)
        given = {k: v for k, v in options.items() if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
        result = run(config, overrides={k: given[k] for k in ("epochs", "device", "workers", "out", "batch") if k in given})
    except ArchError as err:
        _fail(err)
    except OSError as err:
        _fail(UsageError(f"cannot read or write a file: {err}", code="E0903"))
    if result.interrupted:
        where = f"checkpoint in {result.checkpoint}: archdsl train --resume {os.path.dirname(result.checkpoint)}" if result.checkpoint else "no --out, nothing saved"
        click.echo(f"interrupted; {where}", err=True)
        sys.exit(130)


@main.command("list")
def list_() -> None:
    """The spec library: what each spec is, its input and parameters (`archdsl analyze NAME`)."""
    import gc

    from . import library

    gc.disable()
    try:
        entries = library.entries()
    except ArchError as err:
        _fail(err)
    width = max(len(e.name) for e in entries)
    what = max(len(e.summary) for e in entries)
    shape = max(len(e.input) for e in entries)
    click.echo(f"{'name':<{width}}  {'what':<{what}}  {'input':>{shape}}  {'params':>11}")
    for e in entries:
        click.echo(f"{e.name:<{width}}  {e.summary:<{what}}  {e.input:>{shape}}  {e.params:>11,}")
    click.echo(f"\n{len(entries)} specs in {library.directory()}: archdsl analyze NAME (or build, graph)")


def _print_module(module, device: str, dtype: str, parameter_count, optimized=None) -> None:
    """One line for the module, one per top-level part with its parameters (parameter_count:
    backends/torch.py's, which counts the oneDNN layers' weights of an optimised module)."""
    params, trainable = parameter_count(module)
    what = "for inference only" if optimized else f"{trainable:,} trainable"
    click.echo(f"{type(module).__name__}: {params:,} parameters ({what}) on {device}, {dtype}")
    for name, child in module.named_children():
        count = parameter_count(child)[0]
        kind = type(child).__name__
        click.echo(f"  {name:<24} {kind:<20} {count:>14,}")


# ---- compare and diff: several specs, each analysed as `analyze` analyses one (ANALYSIS_OPTIONS) ----


def _load_all(specs: tuple[str, ...], lib: tuple[str, ...]) -> list:
    """Each SPEC as `analyze` reads it: a path or a library spec's name."""
    nets = []
    for spec in specs:
        try:
            nets.append(_load(spec, (), None, lib))
        except OSError as err:
            raise UsageError(f"cannot read {spec}: {err.strerror}", code="E0903") from None
    return nets


@main.command()
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False), metavar="SPEC...")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@_analysis_options
@click.option("--plot", default=None, metavar="FILE", help="Also draw compute against accuracy (or parameters): .png or .svg (needs archdsl[plot]).")
@click.option("--plot-x", type=click.Choice(["macs", "flops"]), default="macs", show_default=True, help="The chart's compute axis.")
@click.option("--plot-y", type=click.Choice(["auto", "top1", "params"]), default="auto", show_default=True,
              help="auto: the top-1 accuracy where every spec records one, else parameters.")
@click.option("--lib", multiple=True, metavar="DIR", help=LIB_HELP)
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def compare(specs: tuple[str, ...], fmt: str, plot: str | None, plot_x: str, plot_y: str, lib: tuple[str, ...],
            wide: bool, **analysis) -> None:
    """Networks side by side: parameters, MACs, memory, depth and receptive field of each SPEC."""
    from .compare import compare as summarise
    from .report import compare as report

    try:
        if not specs:
            raise UsageError("compare needs at least one SPEC", hint="archdsl compare resnet18 resnet50 vgg16", code="E0901")
        if plot is not None:
            from .report import plot as chart

            chart.check(plot)
        nets = _load_all(specs, lib)
        summaries = summarise(nets, **analysis)
        if plot is not None:
            chart.draw(summaries, plot, analysis, x=plot_x, y=plot_y)
    except ArchError as err:
        _fail(err)
    except OSError as err:
        _fail(UsageError(f"cannot write {plot}: {err.strerror}", code="E0903"))
    for warning in (w for net in nets for w in net.graph.warnings):
        click.echo(warning.format(), err=True)
    if fmt == "table":
        click.echo("\n".join(report.table_lines(summaries, analysis, None if wide else _terminal_width())))
    else:
        text = report.FORMATS[fmt](summaries, analysis)
        click.echo(text, nl=not text.endswith("\n"))
    if plot is not None:
        click.echo(f"wrote {plot}", err=True)


@main.command()
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False), metavar="A B")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@click.option("--depth", type=int, default=None, help="Compare blocks: collapse both below this depth first.")
@click.option("--all", "everything", is_flag=True, help="List the layers that did not change too.")
@_analysis_options
@click.option("--lib", multiple=True, metavar="DIR", help=LIB_HELP)
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def diff(specs: tuple[str, ...], fmt: str, depth: int | None, everything: bool, lib: tuple[str, ...], wide: bool,
         **analysis) -> None:
    """What changed from spec A to spec B, layer by layer (aligned by name), with the change of the totals."""
    from .diff import diff_networks
    from .report import diff as report

    try:
        if len(specs) != 2:
            raise UsageError(f"diff compares two specs, A and B, not {len(specs)}",
                             hint="archdsl diff resnet50 my_resnet50.arch; archdsl compare takes any number", code="E0901")
        a, b = _load_all(specs, lib)
        result = diff_networks(a, b, depth=depth, **analysis)
    except ArchError as err:
        _fail(err)
    for warning in (*a.graph.warnings, *b.graph.warnings):
        click.echo(warning.format(), err=True)
    if fmt == "table":
        click.echo("\n".join(report.table_lines(result, analysis, everything, None if wide else _terminal_width())))
    else:
        text = report.FORMATS[fmt](result, analysis, everything)
        click.echo(text, nl=not text.endswith("\n"))
