"""archdsl: a declarative architecture compiler and analyzer for neural networks.

    >>> import archdsl
    >>> net = archdsl.load("specs/vgg16.arch")
    >>> net.analyze().totals["params"]
    138357544

    >>> model = archdsl.build("specs/resnet50.arch", device="cpu")   # a torch.nn.Module

Importing archdsl, loading and analysing do not import torch; building does.
"""
__version__ = "0.1.0"
__all__ = ["ArchError", "Network", "build", "load", "__version__"]


def __getattr__(name: str):
    """The API, imported on first use (PEP 562): the command line imports archdsl for its version
    and then only what a command runs, with the garbage collector off (cli/analyze.py)."""
    if name == "ArchError":
        from .errors import ArchError

        return ArchError
    if name in ("Network", "build", "load"):
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module 'archdsl' has no attribute {name!r}")
