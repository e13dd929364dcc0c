"""hardsigmoid: relu6(x + 3) / 6 (MobileNetV3's squeeze-and-excitation gate)."""
from .activation import _simple

Hardsigmoid = _simple("hardsigmoid", "nn.Hardsigmoid", True, "relu6(x + 3) / 6 (MobileNetV3's gate)", aliases=("hard_sigmoid", "hsigmoid"), ptflops=0)
Hardsigmoid.__module__ = __name__  # the registry takes the ops defined in their own module
Hardsigmoid.saves_output = False  # its gradient comes from the input
Hardsigmoid.saved_in_place = "clone"  # in place it keeps a clone of its input (measured)
