"""`archdsl fit`: the largest batch whose peak memory fits a budget."""
from __future__ import annotations

import click

from ..figures import AMP, OPTIMIZERS
from ..errors import ArchError, UsageError
from . import INPUT_OPTION, LIB_OPTION, SET_OPTION, fail, load_spec


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--memory", "budget", required=True, metavar="AMOUNT", help="The device's memory: 24GiB, 16GB, 800MB.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64"]), default="float32", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda: tensors rounded to the caching allocator's 512-byte blocks.")
@click.option("--amp", type=click.Choice(AMP), default=None, help="A forward under torch.autocast in bfloat16 or float16.")
@click.option("--train/--inference", "train", default=True, help="A training step (default) or an eval, no-grad forward.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@SET_OPTION
@INPUT_OPTION
@LIB_OPTION
def fit(spec, budget, optimizer, dtype, device, amp, train, fmt, sets, input_size, lib) -> None:
    """The largest batch of SPEC whose peak memory fits in --memory (a search over the exact model)."""
    import json

    from ..fit import fit as search, parse_bytes
    from ..report.table import bytes_text

    try:
        amount = parse_bytes(budget)
        net = load_spec(spec, sets, input_size, lib)
        result = search(net.analysed(), amount, "train" if train else "inference", optimizer, dtype, device, amp)
    except ArchError as err:
        fail(err)
    except OSError as err:
        fail(UsageError(f"cannot read {spec}: {err.strerror}", code="E0002"))
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
