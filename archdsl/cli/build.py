"""`archdsl build`: a spec as a PyTorch module, checked, optimised or written out."""
from __future__ import annotations

import click

from ..errors import ArchError, UsageError
from . import INPUT_OPTION, LIB_OPTION, SET_OPTION, fail, load_spec


@click.command()
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
@SET_OPTION
@INPUT_OPTION
@LIB_OPTION
def build(spec, output, device, dtype, channels_last, check, weights, optimize, sets, input_size, lib) -> None:
    """Build SPEC as a PyTorch module and print a summary of it (needs PyTorch: archdsl[torch])."""
    from ..network import torch_backend

    try:
        net = load_spec(spec, sets, input_size, lib)
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
        fail(err)
    except BrokenPipeError:
        raise  # standard output was closed: not a file error (see _Commands)
    except OSError as err:
        fail(UsageError(f"cannot read or write a file: {err}", code="E0903"))


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
