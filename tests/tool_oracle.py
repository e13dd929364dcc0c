"""The other tools themselves, run on a built module: the independent oracle of `--convention`.

Each function returns what the tool reports for an eval-mode forward of `module` on an input of
`shape` (no batch) at `batch`: torchinfo's `summary(...).total_mult_adds`, fvcore's
`FlopCountAnalysis(...).total()`, ptflops' `get_model_complexity_info(..., backend=...)` MACs
(pytorch and aten backends; batch 1, as ptflops runs), thop's `profile` MACs and
FlopCounterMode's total FLOPs. Every tool gets a fresh copy of the module: thop leaves buffers
on the modules it has no rule for, ptflops methods and attributes.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings

import torch

TOOLS = ("fvcore", "torchinfo", "ptflops", "ptflops-aten", "thop", "flopcounter")


def _quiet():
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    stack.callback(logging.disable, previous)
    return stack


def fvcore(module, shape, batch=1):
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, torch.randn((batch, *shape)))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis.total()


def torchinfo(module, shape, batch=1):
    from torchinfo import summary

    return summary(module, input_size=(batch, *shape), verbose=0, mode="eval", device="cpu").total_mult_adds


def _ptflops(module, shape, backend):
    from ptflops import get_model_complexity_info

    macs, _ = get_model_complexity_info(module, tuple(shape), as_strings=False, print_per_layer_stat=False,
                                        backend=backend)
    if macs is None:
        raise RuntimeError(f"ptflops ({backend}) did not finish")
    return macs


def ptflops(module, shape, batch=1):
    assert batch == 1, "ptflops runs at batch 1"
    return _ptflops(module, shape, "pytorch")


def ptflops_aten(module, shape, batch=1):
    assert batch == 1, "ptflops runs at batch 1"
    return _ptflops(module, shape, "aten")


def thop(module, shape, batch=1):
    from thop import profile

    macs, _ = profile(module, inputs=(torch.randn((batch, *shape)),), verbose=False)
    return macs


def flopcounter(module, shape, batch=1):
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.randn((batch, *shape)))
    return counter.get_total_flops()


RUN = {"fvcore": fvcore, "torchinfo": torchinfo, "ptflops": ptflops, "ptflops-aten": ptflops_aten, "thop": thop,
       "flopcounter": flopcounter}


def measure(module, shape, tool: str, batch: int = 1):
    """What `tool` reports for `module` (an eval-mode copy) on random input of `shape`."""
    module = copy.deepcopy(module).eval()
    with _quiet(), torch.no_grad():
        return RUN[tool](module, tuple(shape), batch)
