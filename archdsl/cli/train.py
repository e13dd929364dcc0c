"""`archdsl train`: a spec trained on real data."""
from __future__ import annotations

import os
import sys

import click

from ..errors import ArchError, UsageError
from . import INPUT_OPTION, SET_OPTION, fail, parse_sets


@click.command(context_settings={"show_default": True})
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
@SET_OPTION
@INPUT_OPTION
@click.pass_context
def train(ctx, spec, sets, input_size, compile_, resume, **options) -> None:
    """Train SPEC on real data (needs PyTorch); data-parallel under torchrun -m archdsl train."""
    from ..network import torch_backend

    try:
        if (spec is None) == (resume is None):
            raise UsageError("train: give a SPEC, or --resume DIR to go on with an earlier run", code="E0902")
        if spec is not None:
            from ..network import resolve_path

            spec = resolve_path(spec)  # a path or a library spec's name, as for the other commands
        torch_backend()
        from ..train import Config, run

        config = Config(spec=spec or "", sets=parse_sets(sets), input=input_size, compile=compile_, resume=resume, **options)
        given = {k: v for k, v in options.items() if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
        result = run(config, overrides={k: given[k] for k in ("epochs", "device", "workers", "out", "batch") if k in given})
    except ArchError as err:
        fail(err)
    except OSError as err:
        fail(UsageError(f"cannot read or write a file: {err}", code="E0903"))
    if result.interrupted:
        where = f"checkpoint in {result.checkpoint}: archdsl train --resume {os.path.dirname(result.checkpoint)}" if result.checkpoint else "no --out, nothing saved"
        click.echo(f"interrupted; {where}", err=True)
        sys.exit(130)
