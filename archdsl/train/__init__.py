"""`archdsl train`: train a spec on real data, from one CPU to many GPUs (torchrun).

data.py (the embedded digits, .npz, image folders, torchvision), loop.py (options, optimizer,
schedule, the loop), distributed.py (DDP under torchrun, the sampler), checkpoint.py
(checkpoints, --resume, --weights), progress.py (progress bar, summaries, curves.png).
Imports torch: only `archdsl train` imports this package.
"""
from .loop import Config, Result, run

__all__ = ["Config", "Result", "run"]
