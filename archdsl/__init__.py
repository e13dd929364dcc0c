"""archdsl: a declarative architecture compiler and analyzer for neural networks.

    >>> import archdsl
    >>> net = archdsl.load("specs/vgg16.arch")
    >>> net.analyze().totals["params"]
    138357544

Importing archdsl does not import torch.
"""
from .errors import ArchError
from .network import Network, load

__version__ = "0.1.0"
__all__ = ["ArchError", "Network", "load", "__version__"]
