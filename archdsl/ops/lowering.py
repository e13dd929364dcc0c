"""What PyTorch layer an op becomes, as plain data (no torch import).

Each op declares one `Lowering`: the layer class, its constructor arguments read from the op's
resolved attributes, and how the layer is called. `backends/torch.py` instantiates it and
`backends/pysource.py` prints it, so a built module and its generated source cannot disagree.
"""

from typing import NamedTuple

ALWAYS = object()  # an argument without a default: the source emitter always writes it
_UNSET = object()


class Param(NamedTuple):
    """One constructor argument. `name` is PyTorch's keyword; the value is the resolved attribute
    `key` (default: the same name) or the constant `value`. `default` is PyTorch's own default:
    generated source leaves out an argument equal to it. `positional` arguments are written
    without their keyword. `form`: "tuple" keeps a tuple as a tuple in source (a LayerNorm shape),
    "floats" turns numbers into floats (an upsampling scale)."""

    name: str
    key: str | None = None
    default: object = ALWAYS
    positional: bool = False
    value: object = _UNSET
    form: str | None = None

    def read(self, resolved: dict):
        value = self.value if self.value is not _UNSET else resolved[self.key or self.name]
        if self.form == "floats" and value is not None:
            return tuple(float(v) for v in value)
        if self.form == "tuple" and value is not None:
            return tuple(value)
        return value


CALLS = ("module", "cat", "add", "mul", "parameter")
# how a `parameter` call combines its learned tensor with the input: `param * x` (a layer scale),
# `x + param` (a position embedding), or the tensor expanded over the batch in front of the
# sequence (a class token: torch.cat([param.expand(N, -1, -1), x], 1))
COMBINES = ("mul", "add", "prepend")


class Lowering(NamedTuple):
    """`layer`: a torch.nn class (`nn.Conv{dims}d`: `{dims}` from the resolved attributes) or a
    class of backends/layers.py (`Maxout`); None for a merge, which is a function call.
    `call`: module (the layer on one input), cat (torch.cat of the inputs along channels), add
    (the inputs summed; into the first one when the analysis runs it in place) or mul (the
    inputs multiplied, broadcasting, into a new tensor) or parameter (the input times a learned
    tensor of `shape`, filled with `init`, registered on the enclosing module at the layer's
    name; `layer` is the function of backends/layers.py that makes it; `combine`, one of
    COMBINES, says how it meets the input).
    `inplace`: the layer takes `inplace=True` when the analysis runs it in place.
    `flatten`: a resolved flag; when set, the input is flattened to (N, features) first."""

    layer: str | None
    params: tuple[Param, ...] = ()
    call: str = "module"
    inplace: bool = False
    flatten: str | None = None
    combine: str = "mul"

    def check(self) -> None:
        """Raises ValueError for a lowering no backend can build (the op registry checks every op's)."""
        if self.call not in CALLS:
            raise ValueError(f"call must be one of {CALLS}, not {self.call!r}")
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, not {self.combine!r}")
        if (self.layer is None) != (self.call not in ("module", "parameter")):
            raise ValueError("a module call needs a layer class (a parameter, the function that makes it); a merge has none")

    def layer_name(self, resolved: dict) -> str:
        return self.layer.format(**resolved) if "{" in self.layer else self.layer

    def arguments(self, resolved: dict) -> list[tuple[Param, object]]:
        return [(p, p.read(resolved)) for p in self.params]

    def flattens(self, resolved: dict) -> bool:
        return bool(self.flatten and resolved[self.flatten])


def module(layer: str, *params: Param, **options) -> Lowering:
    return Lowering(layer, tuple(params), **options)
