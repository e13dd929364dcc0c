"""archdsl: a declarative architecture compiler and analyzer for neural networks.

    >>> import archdsl
    >>> net = archdsl.load("specs/vgg16.arch")
    >>> net.analyze().totals["params"]
    138357544

    >>> model = archdsl.build("specs/resnet50.arch", device="cpu")   # a torch.nn.Module

Importing archdsl, loading and analysing do not import torch; building does.
"""
from .errors import ArchError
from .network import Network, build, load

__version__ = "0.1.0"
__all__ = ["ArchError", "Network", "build", "load", "__version__"]
