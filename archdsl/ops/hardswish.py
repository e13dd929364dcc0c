"""hardswish: x · relu6(x + 3) / 6 (MobileNetV3)."""
from .activation import _simple

Hardswish = _simple("hardswish", "nn.Hardswish", True, "x · relu6(x + 3) / 6 (MobileNetV3)", aliases=("hard_swish", "hswish"), ptflops=0)
Hardswish.__module__ = __name__  # the registry takes the ops defined in their own module
Hardswish.saves_output = False  # its gradient comes from the input
Hardswish.saved_in_place = "clone"  # in place it keeps a clone of its input (measured)
