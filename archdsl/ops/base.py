"""What every op declares: its arguments, shape rule, parameter count, costs, receptive field.

Shapes are PyTorch order without the batch: (C, L), (C, H, W), (C, D, H, W), or (F,) for a flat
vector. `infer` returns the output shape and the *resolved* attributes (everything per spatial
dimension, channels filled in): the one dictionary that the costs, the report and a builder read.
"""

from math import prod
from typing import NamedTuple

from ..figures import NOTHING, Counts, Settings  # noqa: F401 (what an op's `counts` returns; the ops import them from here)
from .args import REQUIRED, Arg
from .lowering import Lowering


class New(NamedTuple):
    """A tensor a layer makes only for its backward pass (an index map, a mask, statistics):
    `elements` for one sample, or for the whole batch when not `per_sample`; `dtype` "act" (the
    activations' dtype: under autocast, the layer's), "stat" (statistics: float32 under autocast),
    "int64", or "mask" (a dropout mask: the activations' dtype on the CPU, one byte on CUDA)."""

    elements: int
    dtype: str = "act"  # or "stat": statistics, float32 under autocast; "low": autocast's lower precision
    per_sample: bool = True


_AUTOCAST = Settings(amp="bf16")  # a float32 model under autocast: "act" and "stat" 4 bytes, "low" 2


def autocast_bytes(tensors) -> int:
    """One sample's bytes of `New` tensors under autocast: how a layer's `amp_temporaries`
    weighs its moments against each other."""
    return sum(t.elements * _AUTOCAST.bytes(t.dtype) for t in tensors)


class Input(NamedTuple):
    """A layer keeps its input number `index` (the storage it lives in) for backward."""

    index: int = 0


INPUT, OUTPUT = Input(0), "output"  # a layer keeps its (first) input or its output for backward


class OpError(Exception):
    """Raised by a shape rule; the shapes pass adds the layer's span."""

    def __init__(self, message: str, hint: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


class Op:
    """An op's whole knowledge: arguments, shape rule, costs, receptive field, lowering, docs row.

    `doc` is its row in the layer table of docs/language.md (generated: tools/make_docs.py)."""

    name: str = ""
    aliases: tuple[str, ...] = ()  # other spellings people use on slides
    example: str = ""  # a call with its required arguments, for the error that misses one
    example_input = "112x112x64"  # an input the example works on (tests/test_op_registry.py)
    family: str = "other"  # conv | pool | linear | norm | activation | shape | merge | input
    args: tuple[Arg, ...] = ()
    positional: tuple[str, ...] = ()
    takes_stride = False  # accepts `/s`
    attaches = False  # accepts `bn` and `act=` (expanded into layers of their own)
    act_option = False  # may be attached with `act=` (activations)
    writable = True  # a spec writes it by name (not the input, not the merges)
    inplace = False  # runs in place when its input has no other reader
    saves_output = False  # autograd keeps the output for backward: nothing may overwrite it
    creates_output = True  # False for views and no-ops (flatten, identity, eval dropout)
    # what it does with a strided input (a crop's slice): "view" reshapes it (a copy unless the
    # strides allow a view: flatten, fc), "rows" reshapes all but its last dimension into rows
    # (fc ... last), "contiguous" copies it (groupnorm); `strided_input(resolved)` may refine it
    copies_strided_input = ""
    slices = False  # its output is a slice of its input (crop)
    # autograd refuses an in-place write into its output (one of the views torch.chunk returns)
    no_inplace_after = False
    # layout(resolved, input strides, output shape) -> the output's strides (batch left out), for an
    # op whose output is laid out otherwise than contiguously (permute, layernorm2d); None: no such op
    layout = None
    quiet = ("bias", "eps", "momentum", "affine")  # options a brief description leaves out
    min_inputs = max_inputs = 1
    lowering: Lowering | None = None  # the PyTorch layer it becomes (ops/lowering.py)
    doc = ""

    def strided_input(self, r) -> str:
        """What this layer does with a strided input (see `copies_strided_input`)."""
        return self.copies_strided_input

    def arg(self, name: str) -> Arg | None:
        try:
            return self._args_by_name.get(name)
        except AttributeError:  # the first lookup: index the op's arguments by name
            self._args_by_name = {a.name: a for a in reversed(self.args)}  # the first of a name wins, as before
            return self._args_by_name.get(name)

    # --- rules; inputs are shapes without batch -------------------------------------------
    def infer(self, a: dict, ins: list[tuple]) -> tuple[tuple, dict]:
        """Output shape and resolved attributes; elementwise by default."""
        return ins[0], dict(a)

    def params(self, r: dict, ins: list[tuple], out: tuple) -> int:
        return 0

    def macs(self, r: dict, ins: list[tuple], out: tuple) -> int:
        """Multiply-adds of conv, transposed conv, linear and matmul, bias excluded (one sample)."""
        return 0

    def macs_once(self, r: dict) -> int:
        """The part of `macs` a forward does once, whatever the batch (Swin V2's position-bias MLP
        reads only the layer's own buffer): counted in one sample's MACs, not multiplied by the batch."""
        return 0

    def other_ops(self, r: dict, ins: list[tuple], out: tuple) -> int:
        """All other arithmetic, one sample (docs/conventions.md, "Other work")."""
        return prod(out)

    def counts(self, r: dict, ins: list[tuple], out: tuple, strided: tuple | None = None) -> Counts:
        """What each other tool counts for this layer as its built module runs it, one sample at
        batch 1, in MACs (`Counts`: fvcore, torchinfo, ptflops, ptflops_aten, thop, flopcounter;
        docs/conventions.md, "Other tools' conventions", has the table and says how each tool
        counts). `strided`: the strides of a strided (first) input, else None. Every op declares
        it, read from each tool's source and checked against the tool (tests/test_conventions.py);
        `counts = Op.nothing` for a layer that no tool counts."""
        raise NotImplementedError(f"the op {self.name} declares no counts for the other tools' conventions")

    def counts_once(self, r: dict) -> Counts:
        """The part of `counts` a forward does once, whatever the batch (as `macs_once`; Swin V2's
        position-bias MLP), per tool: not multiplied by the batch."""
        return NOTHING

    def nothing(self, r: dict, ins: list[tuple], out: tuple, strided: tuple | None = None) -> Counts:
        """`counts` of a layer no tool counts: a view, a merge (a function call, no module), an
        activation no tool has a rule for."""
        return NOTHING

    def saves(self, r: dict, ins: list[tuple], out: tuple, inplace: bool, trainable: bool, grads: tuple) -> tuple:
        """What autograd keeps for this layer's backward pass in a training-mode forward, parameters
        and buffers aside: INPUT (or `Input(k)`, a merge's k-th), OUTPUT (the storages they live
        in: a view keeps its base) and `New` tensors. Asked only when the layer's output requires
        grad; `trainable`: the layer has parameters that do; `grads`: whether each input does. Measured op by op with torch.autograd.graph.saved_tensors_hooks
        (docs/conventions.md, "Saved for backward")."""
        return ()

    def amp(self, r: dict, ins: list[tuple], device: str) -> str | None:
        """What autocast does with the layer on `device` (cpu | cuda; docs/conventions.md, "Mixed
        precision"), measured with saved_tensors_hooks: "lower" (in autocast's lower-precision
        list: a float32 input and the weights are cast to the lower precision, which it returns),
        "float32" (in its float32 list: a lower-precision input is cast up), "widens" (reads its
        input as it is, but what it makes is float32), or None: it runs in its input's dtype (a
        merge in the widest of its inputs', an in-place one in its first input's)."""
        return None

    def amp_saves(self, r: dict, ins: list[tuple], out: tuple, trainable: bool, grads: tuple, device: str,
                  low_input: bool) -> tuple | None:
        """Under autocast, what a layer that runs parts in float32 and parts in the lower
        precision keeps for backward (attention, window attention, patch merging), as `saves`
        but with each `New` in its own dtype: "low", "stat" (float32 under autocast) or "act"
        (the model's float32); `low_input`: its input is in the lower precision. None: `saves`,
        its "act" tensors in the layer's output dtype. The weights' casts: `amp_kept_weights`."""
        return None

    def amp_kept_weights(self, r: dict, grads: tuple) -> int:
        """A "lower" layer: elements of the lower-precision copies of its weights that its backward
        keeps (a conv its weight; a bias copy only lives through the forward)."""
        return 0

    def cpu_storage(self, r: dict, ins: list[tuple], out: tuple) -> int:
        """Elements per sample of the storage the layer's output lives in on the CPU, when a CPU
        kernel returns it in a larger storage than its shape (docs/conventions.md, "Saved for
        backward"); 0: as large as the output."""
        return 0

    def param_tensors(self, r: dict) -> int:
        """How many parameter tensors the layer has (an optimizer keeps a `step` per tensor)."""
        return 0

    def buffers(self, r: dict) -> tuple[int, int]:
        """Elements of the layer's buffers: (in the model's dtype, int64)."""
        return 0, 0

    def grad_is_view(self, r: dict) -> bool:
        """Whether its backward hands its inputs the gradient itself or views of it (a residual
        add, concat, flatten, identity) instead of new tensors."""
        return False

    def backward_temporaries(self, r: dict, trainable: bool, amp: bool) -> tuple:
        """`New` tensors that live at the worst moment of the layer's backward besides what the
        training walk holds once it is done (its gradients made, what it saved freed), when part
        of it runs last (Swin V2's position-bias MLP); a negative one: a gradient the walk holds
        then that is made only after that moment. "act" is the model's dtype; `amp`: under autocast."""
        return ()

    def creates_in_training(self, r: dict) -> bool:
        """Whether a training-mode forward writes a new output tensor (dropout does, eval does not)."""
        return self.creates_output

    def indices(self, r: dict, ins: list[tuple], out: tuple) -> int:
        """int64 elements an eval forward creates besides the output (max pooling's indices), one sample."""
        return 0

    def temporaries(self, r: dict, ins: list[tuple], out: tuple) -> int | tuple:
        """Elements (the activations' dtype) that live at most at once while an eval, no-grad
        forward runs the layer, besides its input and output (LRN's steps, attention's scores),
        one sample: the inference peak counts them during the layer (memory.py). Or, where some
        are made once per forward or in another dtype (Swin's position bias), a tuple of `New`."""
        return 0

    def amp_temporaries(self, r: dict, ins: list[tuple], out: tuple, device: str, low_input: bool) -> tuple | None:
        """Under autocast, what `temporaries` counts for a layer whose steps mix float32 and the
        lower precision (attention), as `New` tensors in their dtypes at its worst moment; a
        negative one: a weight cast, counted through the layer, that is made only after that
        moment. `low_input` as in `amp_saves`. None: `temporaries`, in the layer's output dtype."""
        return None

    def window(self, r: dict, ins: list[tuple], out: tuple):
        """Receptive-field rule: which positions of its input each output position reads.

        None: output position o reads input position o (elementwise layers, merges). Otherwise one
        rule (Q, E, reads, first, last) per spatial dimension of the input: output o = q*Q + j
        reads input positions q*E + a + t*step for t < count, where (a, step, count) = reads(j)
        for 0 <= j < Q (step >= 0; count 0: it reads nothing). Padding makes positions negative.
        `first` and `last` bound what any output o reads: first <= (a position it reads) - o*E/Q
        <= last; where Q = 1 they are exactly its first and last position (ints). Q = 0: the
        layer mixes all E positions of its input (fc, flatten, global pooling), reads None.
        "all": every output reads the whole network input (global attention over a sequence,
        whose tokens no longer have the map's positions). passes/receptive_field.py composes these rules."""
        return None

    def describe(self, r: dict, brief: bool = False) -> str:
        """The op as a spec would write it: positional values, then options that differ from
        their defaults (flags bare); `brief` leaves out the `quiet` options (a diagram's label).
        Ops whose resolved attributes differ from their arguments override this."""
        words = [self.name]
        for arg in self.args:
            if arg.name not in r or (brief and arg.name in self.quiet):
                continue
            value = r[arg.name]
            if arg.name in self.positional and arg.default is REQUIRED:
                words.append(value_text(value))
            elif value != arg.default:
                if arg.flag and value is True:
                    words.append(arg.name)
                elif arg.name in self.positional and arg is self.args[0]:
                    words.append(value_text(value))
                else:
                    words.append(f"{arg.name}={value_text(value)}")
        return " ".join(words)


def value_text(value) -> str:
    """A value as a spec writes it: yes/no, 3x3, 0.001."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---- helpers shared by the shape rules ------------------------------------------------------


def spatial_rank(shape: tuple) -> int:
    return len(shape) - 1


def need_spatial(op: str, shape: tuple) -> int:
    rank = spatial_rank(shape)
    if rank < 1:
        raise OpError(
            f"{op} needs an input with spatial dimensions, but its input is the flat vector [{shape[0]}]",
            hint="a layer before it (fc or flatten) has already flattened the tensor",
            code="E0503",
        )
    if rank > 3:
        raise OpError(f"{op} supports 1, 2 or 3 spatial dimensions, not {rank}", code="E0504")
    return rank


def per_dim(value, rank: int, what: str) -> tuple[int, ...]:
    """An int applies to every spatial dimension; a size such as 3x3 must have one entry per dimension."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise OpError(
            f"{what} {'x'.join(map(str, value))} has {len(value)} dimensions but the input has {rank} spatial dimension{'s' if rank != 1 else ''}",
            code="E0504",
        )
    return tuple(value)


def slide_order(shape: tuple, input_rank: int = 0) -> tuple:
    """(C, H, W) -> (H, W, C), the order the slides and `input` use; flat vectors unchanged. In a
    network whose input (of `input_rank` dimensions) has two or more spatial dimensions, a tensor
    of two is a sequence `[tokens, features]` (a ViT's), already in that order."""
    if len(shape) == 1 or (len(shape) == 2 and input_rank >= 3):
        return shape
    return shape[1:] + shape[:1]


def fmt_size(values: tuple) -> str:
    return "x".join(str(v) for v in values)


def fmt_compact(values: tuple) -> str:
    """3x3 stays 3x3; (2, 2) as a stride or padding is written 2."""
    return str(values[0]) if len(set(values)) == 1 else fmt_size(values)


def check_positive(op: str, out: tuple, ins: tuple, what: str = "output") -> None:
    if any(v <= 0 for v in out):
        raise OpError(
            f"the {what} of {op} would be {fmt_size(out)}: a size reaches zero (input {fmt_size(ins)})",
            hint="the input is too small for this kernel and stride; use padding or a smaller kernel",
            code="E0501",
        )
