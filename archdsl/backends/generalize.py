"""One class for many instances: the constructor parameters of a block's class in generated source.

`archdsl build -o model.py` writes one class per block definition. Its instances (the block's
calls) build layers whose arguments differ: a value that is the same in every instance is written
as a literal, one that differs becomes an expression of the class's parameters. The parameters
are the block's own where their values explain it (`c`, `4 * c`, `cin * t`, `stride != 1`), and
new ones named after what they hold otherwise (`in_channels`). Presence of an optional layer and
the length of a repeated run are expressed the same way (`if down`, `range(blocks - 1)`).

Only values are compared here: the emitter (pysource.py) says which values belong together.
Every search is over a class's parameters, so it costs time in proportion to the instances, the
values and the parameters, never more.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass

from ..ops.lowering import ALWAYS

MISSING = object()  # an instance that lacks the value (an optional layer it does not have)

# names the generated __init__ uses itself, which no parameter may take
RESERVED = {"self", "nn", "torch", "super", "_", "range", "None", "True", "False"}


@dataclass(frozen=True)
class Slot:
    """One constructor argument of a layer or class: its keyword, whether it is written without
    it, its default (`ALWAYS`: none), and its form: the Lowering's ("tuple", "floats" or None),
    or "exact" for a class's parameter (a tuple stays a tuple: the class may need one)."""

    name: str
    positional: bool = False
    default: object = ALWAYS
    form: str | None = None


@dataclass
class Param:
    """A constructor parameter of a generated class: its values in the instances."""

    name: str
    values: list
    default: object = ALWAYS
    arg: bool = False  # one of the block's own parameters (else made up for a value)
    form: str | None = "exact"  # how a call writes its values (Slot.form)


def py_name(name: str, taken) -> str:
    """`name` as a Python parameter that clashes with nothing in `taken`."""
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "arg"
    if base[0].isdigit():
        base = "n" + base
    text = base
    while keyword.iskeyword(text) or text in RESERVED or text in taken:
        text += "_"
    return text


def same(a, b) -> bool:
    """Equal values of the same type (True is not 1, 2.0 is not 2)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def scalar(value):
    """A tuple of equal numbers as the one number it repeats ((3, 3) -> 3); anything else as is."""
    if isinstance(value, tuple) and value and all(same(v, value[0]) for v in value):
        return value[0]
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(value, param_value, form) -> bool:
    """Whether a parameter's value can stand for a slot's value: the same, or for a layer's size
    the number a tuple of equal numbers repeats (PyTorch reads kernel_size=3 as (3, 3))."""
    if same(value, param_value):
        return True
    return form is None and not isinstance(param_value, tuple) and same(scalar(value), param_value)


def literal(value, form=None) -> str:
    """A Python literal; a tuple of equal numbers is written once (3, not (3, 3))."""
    if form in ("tuple", "exact"):
        return repr(value)
    if isinstance(value, tuple):
        if value and len(set(value)) == 1:
            return literal(value[0])
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


class Params:
    """The parameters of one class with `n` instances: the block's own (`args`, in the
    definition's order, with their values per instance and their default), and the ones made up
    for values that nothing else explains."""

    def __init__(self, n: int, args: list[Param], taken=(), hints: dict | None = None):
        self.n = n
        self.args = args
        self.made: list[Param] = []
        self.used: set[str] = set()
        self.taken = set(taken) | {p.name for p in args}
        self.hints = hints or {}  # name -> values: what a made-up parameter is called when it holds them

    # ---- the search
    def _candidates(self):
        yield from self.args
        yield from self.made

    def _use(self, param: Param) -> str:
        if param.arg:
            self.used.add(param.name)
        return param.name

    def _varies(self, param: Param) -> bool:
        values = [v for v in param.values if v is not MISSING]
        return any(not same(v, values[0]) for v in values)

    def value(self, values: list, slot: Slot, hint: str | None = None):
        """("lit", value) where every instance that has it agrees, else ("expr", text)."""
        present = [i for i, v in enumerate(values) if v is not MISSING]
        first = values[present[0]]
        if all(same(values[i], first) for i in present):
            # the same wherever it is present: a literal, unless it is a size that follows a
            # parameter that varies (an optional layer's `stride=stride`, present where stride is 2)
            if len(present) < self.n and _is_int(scalar(first)) and scalar(first) >= 2:
                for param in self._candidates():
                    if self._varies(param) and all(_fits(values[i], param.values[i], slot.form) for i in present):
                        return ("expr", self._use(param))
            return ("lit", first)
        # the block's unused parameters first: two that are equal here (squeezenet's e1 and e3)
        # are still each used where the spec uses them, in their order
        order = [p for p in self.args if p.name not in self.used] + [p for p in self.args if p.name in self.used] + self.made
        for param in order:
            if all(param.values[i] is not MISSING and _fits(values[i], param.values[i], slot.form) for i in present):
                return ("expr", self._use(param))
        for name, known in self.hints.items():  # the block's input channels: `in_channels`
            if all(_fits(values[i], known[i], slot.form) for i in present):
                return ("expr", self._make(values, name, slot.form))
        if all(isinstance(values[i], bool) for i in present):
            text = self._condition([values[i] for i in present], present)
            if text is not None:
                return ("expr", text)
        if slot.form in (None, "exact"):
            numbers = [scalar(values[i]) for i in present]
            if all(_is_int(v) for v in numbers):
                text = self._arithmetic(numbers, present)
                if text is not None:
                    return ("expr", text)
        return ("expr", self._make(values, hint or slot.name, slot.form))

    def _make(self, values: list, hint: str, form: str | None = None) -> str:
        name = py_name(hint, self.taken)
        self.taken.add(name)
        default = None if any(v is MISSING for v in values) else ALWAYS
        self.made.append(Param(name, [None if v is MISSING else v for v in values], default, form=form))
        return name

    def _ints(self, present):
        """(name, values at `present`) of the integer parameters."""
        for param in self._candidates():
            vals = [scalar(param.values[i]) if param.values[i] is not MISSING else MISSING for i in present]
            if all(_is_int(v) for v in vals):
                yield param, vals

    def _arithmetic(self, numbers: list, present: list) -> str | None:
        """`k * p`, `p // k`, `p + k`, `p - k`, `(p - 1) // 2` or `p * q` where one of them gives
        every instance's number."""
        ints = list(self._ints(present))
        for param, vals in ints:
            nonzero = next((j for j, v in enumerate(vals) if v), None)
            if nonzero is not None and numbers[nonzero] % vals[nonzero] == 0:
                k = numbers[nonzero] // vals[nonzero]
                if 2 <= k <= 64 and all(v * k == x for v, x in zip(vals, numbers)):
                    # `cin * t` where t is k wherever the value is present (an optional layer's)
                    other = next((q for q, qv in ints if q is not param and self._varies(q) and all(v == k for v in qv)), None)
                    return f"{self._use(param)} * {self._use(other)}" if other is not None else f"{k} * {self._use(param)}"
            for k in range(2, 9):
                if all(v % k == 0 and v // k == x for v, x in zip(vals, numbers)):
                    return f"{self._use(param)} // {k}"
            for k in range(1, 9):
                if all(v + k == x for v, x in zip(vals, numbers)):
                    return f"{self._use(param)} + {k}"
                if all(v - k == x for v, x in zip(vals, numbers)):
                    return f"{self._use(param)} - {k}"
            if all((v - 1) // 2 == x for v, x in zip(vals, numbers)) and len(set(vals)) > 1:
                return f"({self._use(param)} - 1) // 2"
        for a, (p, pv) in enumerate(ints):
            for q, qv in ints[a + 1:]:
                if all(x * y == z for x, y, z in zip(pv, qv, numbers)):
                    return f"{self._use(p)} * {self._use(q)}"
        return None

    def _condition(self, mask: list, present: list) -> str | None:
        """A test of the parameters that is true exactly where `mask` is: `p`, `not p`, `p != v`,
        `p == v`, `p == q`, `p != q`."""
        params = [p for p in self._candidates()
                  if all(p.values[i] is not MISSING for i in present) and self._varies(p)]
        for p in params:
            vals = [p.values[i] for i in present]
            if all(isinstance(v, bool) for v in vals):
                if vals == mask:
                    return self._use(p)
                if [not v for v in vals] == mask:
                    return f"not {self._use(p)}"
        scalars = []
        for p in params:
            vals = [scalar(p.values[i]) for i in present]
            if not any(isinstance(v, (bool, float, tuple)) for v in vals):
                scalars.append((p, vals))
        for p, vals in scalars:  # first against a parameter's default: `stride != 1`
            if p.default is not ALWAYS and any(same(v, p.default) for v in vals):
                v = p.default
                if [not same(x, v) for x in vals] == mask:
                    return f"{self._use(p)} != {literal(v)}"
                if [same(x, v) for x in vals] == mask:
                    return f"{self._use(p)} == {literal(v)}"
        for p, vals in scalars:
            for v in dict.fromkeys(vals):
                if [not same(x, v) for x in vals] == mask:
                    return f"{self._use(p)} != {literal(v)}"
                if [same(x, v) for x in vals] == mask:
                    return f"{self._use(p)} == {literal(v)}"
        for a, p in enumerate(params):
            pv = [scalar(p.values[i]) for i in present]
            for q in params[a + 1:]:
                qv = [scalar(q.values[i]) for i in present]
                eq = [same(x, y) for x, y in zip(pv, qv)]
                if eq == mask:
                    return f"{self._use(p)} == {self._use(q)}"
                if [not e for e in eq] == mask:
                    return f"{self._use(p)} != {self._use(q)}"
        return None

    def condition(self, mask: list, hint: str) -> str:
        """The test for a part that the instances where `mask` is true have; a new parameter
        (`hint`, True or False per instance) where no test of the others says it."""
        text = self._condition(mask, list(range(self.n)))
        return text if text is not None else self._make(mask, hint)

    def count(self, counts: list, hint: str):
        """A repetition count: a literal where every instance agrees, else an expression."""
        return self.value(counts, Slot(hint), hint)

    # ---- the result
    def signature(self) -> list[Param]:
        """The parameters, in the order the class takes them: the made-up ones that every
        instance has first, then the block's own used ones (those without a default first), then
        the made-up ones some instances lack (default None)."""
        made = [p for p in self.made if p.default is ALWAYS]
        own = [p for p in self.args if p.name in self.used]
        return made + [p for p in own if p.default is ALWAYS] + [p for p in own if p.default is not ALWAYS] + \
            [p for p in self.made if p.default is not ALWAYS]


def call_arguments(params: list[Param], i: int) -> list:
    """Instance `i`'s value of every parameter (None where a made-up optional one is absent)."""
    return [p.values[i] for p in params]


def progression(values: list[list], slots: list[Slot]) -> tuple[list, list] | None:
    """The values of a run of layers as first values and steps (`in_channels + 32 * i`), each
    argument either the same in every element or a whole number that grows by a fixed step; None
    when the run is not one."""
    first, steps = list(values[0]), []
    for k, v0 in enumerate(first):
        column = [v[k] for v in values]
        if all(same(v, v0) for v in column):
            steps.append(0)
            continue
        numbers = [scalar(v) for v in column]
        if slots[k].form not in (None, "exact") or not all(_is_int(v) for v in numbers):
            return None
        step = numbers[1] - numbers[0]
        if any(b - a != step for a, b in zip(numbers, numbers[1:])):
            return None
        first[k] = numbers[0]
        steps.append(step)
    return first, steps
