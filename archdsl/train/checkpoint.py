"""Checkpoints of `archdsl train --out DIR`: DIR/checkpoint.pt, rewritten (atomically) after every
epoch and on Ctrl-C; `--resume DIR` reads it back.

`model` is the network's plain state_dict (the keys of `archdsl.build(spec).state_dict()` and of
the `-o model.py` module): `torch.load(path)["model"]` loads into either. The rest makes the run
go on where it stopped: optimizer, scheduler, grad scaler, the epoch and how far into it, every
random generator's state, the spec text, its --set values and --input, and the run's options.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from ..errors import UsageError

FORMAT = "archdsl-train/1"
NAME = "checkpoint.pt"


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(directory: str, state: dict) -> str:
    """Write DIR/checkpoint.pt by way of a temporary file, so that an interruption while writing
    leaves the previous checkpoint whole."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, NAME)
    tmp = path + ".tmp"
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)
    return path


def load(directory: str) -> dict:
    path = os.path.join(directory, NAME) if os.path.isdir(directory) else directory
    if not os.path.isfile(path):
        raise UsageError(f"--resume {directory}: no checkpoint there (looked for {path})",
                         hint="--resume takes the --out folder of an earlier `archdsl train`", code="E0802")
    try:
        # not weights_only: the checkpoint holds Python's and NumPy's generator states, written by us
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or foreign file: unpickling raises many kinds
        raise UsageError(f"--resume {directory}: cannot read {path} ({err})", code="E0802") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UsageError(f"--resume {directory}: {path} is not a checkpoint of archdsl train", code="E0802")
    return state


def load_matching(module: torch.nn.Module, path: str) -> tuple[int, list[str]]:
    """--weights FILE for transfer learning: a state_dict (or a checkpoint of archdsl train, or a
    file holding one under "state_dict"); every tensor whose name and shape the spec has is loaded,
    the others stay as initialised. Returns how many were loaded and notes on the rest."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        try:  # a checkpoint of archdsl train holds generator states: not weights_only
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            raise UsageError(f"--weights {path}: cannot read it ({err})", code="E0704") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise UsageError(f"--weights {path}: the file holds no state_dict", code="E0704")
    own = module.state_dict()
    fits = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not fits:
        raise UsageError(f"--weights {path}: none of its {len(state)} tensors has a name and shape of the spec",
                         hint="the spec's layer names are the state_dict keys (see `archdsl analyze`)", code="E0704")
    module.load_state_dict(fits, strict=False)
    notes = []
    other = [f"{k} {'x'.join(map(str, state[k].shape))} (the spec's is {'x'.join(map(str, own[k].shape))})"
             for k in own if k in state and k not in fits]
    missing = [k for k in own if k not in state]
    if other:
        notes.append(f"{len(other)} of another shape, left as initialised: " + ", ".join(other[:4]) + (" ..." if len(other) > 4 else ""))
    if missing:
        notes.append(f"{len(missing)} not in the file, left as initialised: " + ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else ""))
    unused = len([k for k in state if k not in own])
    if unused:
        notes.append(f"{unused} of the file's tensors are not the spec's and were not used")
    return len(fits), notes
