"""Receptive fields, exact: for every layer and every spatial dimension of the network input, the
largest extent of the input region that one output element depends on, and the stride (jump).

The definition is in docs/conventions.md ("Receptive field"): the theoretical receptive field of
Araujo, Norris and Sim (Distill 2019), on an input large enough that no border cuts a region off.
Their recurrence r += (k - 1) * j is exact only while every output sees a region of the same size;
after a transposed conv or upsampling, outputs of different phases see differently aligned and
differently sized regions, so this pass follows, per dimension, which input positions each output
reads instead:

A **periodic map** (P, D, lo, hi): output o = q*P + i depends on input positions
lo[i] + q*D ... hi[i] + q*D, absolute input coordinates (padding included: they may be negative
or reach past the input); lo[i] is None where an output depends on nothing (a transposed conv's
position between taps). The input is (1, 1, (0,), (0,)). Each op's `window` (ops/base.py) says,
per dimension, which positions of its input output o reads: (Q, E, reads, first, last), output
o = q*Q + j reading q*E + a + t*step (t < count), (a, step, count) = reads(j). Through it, output
o depends on the hull of what those positions depend on; the new period is the smallest that
repeats the pattern (P*Q/gcd(P, E), reduced when it repeats sooner: U-Net's four stride-2
up-convolutions give 16). A layer that mixes every position (Q = 0: fc, flatten, global pooling)
gives its output the hull over its whole input, and n times the input's jump. Merges (add,
concat) take per output the union of their branches' intervals, over the lcm of their periods.
The size is the widest interval, the stride D/P (the average input distance between neighbouring
outputs: 0.5 after a 2x upsampling). `interval(map, o)` reads one output's interval
(tests/test_receptive_field_oracle.py compares it with autograd).

Whole numbers stay ints; a P = 1 map through a window layer is closed form (the Distill
recurrence, with the window's offset), so plain CNNs cost what they did.

A **bound** (0, J, a, b) replaces a dimension's map when following it exactly would be too long: a
pattern longer than MAX_PERIOD outputs (a transposed conv of a larger stride, upsampling between
sizes of a ratio n/m with a larger denominator), more than WORK interval evaluations in one
analysis, or branches merged with different strides (their union repeats with no period). It says
that output o depends on no position outside a + o*J ... b + o*J: a size of at most
floor(b - a) + 1, never less than the exact one.
"""
from __future__ import annotations

from functools import lru_cache
from math import ceil, floor, gcd

from ..ir import Graph
from ..ops import OPS

MAX_PERIOD = 4096  # the longest pattern of outputs followed exactly, per dimension
WORK = 1 << 22  # interval evaluations one analysis may spend outside the closed forms

Map = tuple  # (P, D, lo, hi) exact, or (0, J, a, b) a bound; see the module docstring
Field = tuple  # one Map per spatial dimension of the network input
_INPUT = (1, 1, (0,), (0,))
_INF = float("inf")


def annotate_receptive_fields(graph: Graph) -> None:
    nodes = graph.nodes
    fields = receptive_fields(graph, [n.shape for n in nodes], [n.resolved for n in nodes])
    for node, rf in zip(nodes, fields):
        node.rf = rf


def receptive_fields(graph: Graph, shapes: list[tuple], resolved: list[dict]) -> list[Field | None]:
    """One Field per node; None for every node of a network with a flat input."""
    rank = len(shapes[0]) - 1
    if rank == 0:
        return [None] * len(graph.nodes)
    budget = [WORK]
    start = (_INPUT,) * rank
    fields: list[Field] = []
    for node in graph.nodes:
        inputs = node.inputs
        if not inputs:
            fields.append(start)
            continue
        if len(inputs) == 1:
            field = fields[inputs[0]]
        else:
            field = _merge([fields[i] for i in inputs], shapes[node.id], budget, [shapes[i] for i in inputs])
        rule = OPS[node.op].window(resolved[node.id], [shapes[i] for i in inputs], shapes[node.id])
        if rule == "all":  # global attention: every output reads every token, the whole input
            field = tuple((1, n, (0,), (n - 1,)) for n in shapes[0][1:])
        elif rule is not None:
            field = tuple(_through(m, dim, budget) for m, dim in zip(field, rule))
        fields.append(field)
    return fields


def _through(m: Map, rule: tuple, budget: list) -> Map:
    """The map of a layer's output from its input's map and the layer's rule in one dimension."""
    P, D, lo, hi = m
    Q, E, reads, first, last = rule
    if P == 1 and Q <= 1:  # closed form: the window's first and last position, scaled by the jump
        lo0 = lo[0]
        if lo0 is None:
            return (1, D * E, lo, hi)
        return (1, D * E, (lo0 + D * first,), (hi[0] + D * last,))
    if P == 0:
        return _bound_through(m, rule)
    g = gcd(P, E)
    if Q == 0:  # the one output of a layer that mixes everything: the hull over its whole input
        return _global(m, E, g)
    period = Q * (P // g)
    if Q > MAX_PERIOD or period > MAX_PERIOD:
        return _bound_through(_bound(m), rule)
    if Q == 1:  # a window layer on a pattern of several phases: slices of one list of positions
        start, step, count = reads(0)
        span = min(count, P // gcd(P, step)) if step else 1
        x1 = (period - 1) * E + (count - 1) * step  # relative to start
        if count and step and x1 <= 4 * period * span + 64 and period * (2 * span + 2) + x1 < budget[0]:
            budget[0] -= period * (2 * span + 2) + x1
            ext_lo = [_INF if lo[x % P] is None else lo[x % P] + x // P * D for x in range(start, start + x1 + 1)]
            ext_hi = [-_INF if hi[x % P] is None else hi[x % P] + x // P * D for x in range(start, start + x1 + 1)]
            tail, bases = (count - span) * step, [o * E for o in range(period)]
            new_lo = [min(ext_lo[b:b + span * step:step]) for b in bases]
            new_hi = [max(ext_hi[b + tail:b + count * step:step]) for b in bases]
            if _INF in new_lo:
                new_hi = [None if v == _INF else w for v, w in zip(new_lo, new_hi)]
                new_lo = [None if v == _INF else v for v in new_lo]
            return _reduced(period, (E // g) * D, new_lo, new_hi)
    taps = [reads(j) for j in range(Q)]
    read = [tap for tap in taps if tap[2]]
    if not read:
        return _reduced(period, (E // g) * D, [None] * period, [None] * period)
    # lo(x + P) = lo(x) + D >= lo(x): along a progression of positions the pattern of residues
    # repeats every P/gcd(P, step) terms, so the least lo is among the first `span` ones and the
    # largest hi among the last `span`
    spans = [min(c, P // gcd(P, st)) if st else 1 for _, st, c in taps]
    x0 = min(a for a, _, _ in read)  # the input positions the period's outputs read: x0 ... x1
    x1 = (period // Q - 1) * E + max(a + (c - 1) * st for a, st, c in read)
    dense = x1 - x0 <= 4 * period * max(spans) + 64
    cost = period * (2 * max(spans) + 2) + (x1 - x0 + 1 if dense else 0)
    if cost > budget[0]:
        return _bound_through(_bound(m), rule)
    budget[0] -= cost
    new_lo: list = [None] * period
    new_hi: list = [None] * period
    if dense:  # what each of x0 ... x1 depends on, as two lists: min/max over slices are C loops
        ext_lo = [_INF if lo[x % P] is None else lo[x % P] + x // P * D for x in range(x0, x1 + 1)]
        ext_hi = [-_INF if hi[x % P] is None else hi[x % P] + x // P * D for x in range(x0, x1 + 1)]
        for o in range(period):
            q, j = divmod(o, Q)
            start, step, count = taps[j]
            if not count:
                continue
            base, span = q * E + start - x0, spans[j]
            if count == 1 or not step:
                v, w = ext_lo[base], ext_hi[base]
            else:
                v = min(ext_lo[base:base + span * step:step])
                w = max(ext_hi[base + (count - span) * step:base + count * step:step])
            if v != _INF:
                new_lo[o], new_hi[o] = v, w
        return _reduced(period, (E // g) * D, new_lo, new_hi)
    for o in range(period):  # sparse (a large stride): position by position
        q, j = divmod(o, Q)
        start, step, count = taps[j]
        if not count:
            continue
        base, span = q * E + start, spans[j]
        best = None
        for t in range(span):
            q2, i = divmod(base + t * step, P)
            v = lo[i]
            if v is not None:
                v += q2 * D
                if best is None or v < best:
                    best = v
        if best is None:
            continue
        top = None
        for t in range(count - span, count):
            q2, i = divmod(base + t * step, P)
            v = hi[i]
            if v is not None:
                v += q2 * D
                if top is None or v > top:
                    top = v
        new_lo[o], new_hi[o] = best, top
    return _reduced(period, (E // g) * D, new_lo, new_hi)


def _merge(fields: list[Field], shape: tuple, budget: list, ins: list[tuple] = ()) -> Field:
    """Per output position, the union of the branches' intervals (add, concat, mul)."""
    out = []
    for d, maps in enumerate(zip(*fields)):
        if len(shape) == 1 or len(shape) - 1 != len(fields[0]):  # flat, or a sequence of tokens of a map
            out.append(_flat_union(maps))
            continue
        n = shape[1 + d]
        # a branch of size 1 broadcast over n outputs (mul's gate): every output reads its one
        # position, the same interval for all: a map of jump 0
        maps = [_constant(m) if ins and ins[k][1 + d] == 1 < n else m for k, m in enumerate(maps)]
        constant = _covering(maps, n)
        if constant is not None:  # one branch's interval holds every other's, at every output
            out.append(constant)
            continue
        D0 = maps[0][1]
        if all(m[0] == 1 and m[1] == D0 for m in maps):  # one period, one jump (residual adds)
            los = [m[2][0] for m in maps if m[2][0] is not None]
            his = [m[3][0] for m in maps if m[3][0] is not None]
            out.append((1, D0, (min(los),) if los else (None,), (max(his),) if his else (None,)))
            continue
        if all(m[0] for m in maps):
            period = 1
            for m in maps:
                period = period * m[0] // gcd(period, m[0])
            shifts = {m[1] * (period // m[0]) for m in maps}
            cost = period * (len(maps) + 2)
            if len(shifts) == 1 and period <= MAX_PERIOD and cost <= budget[0]:
                budget[0] -= cost
                new_lo: list = [None] * period
                new_hi: list = [None] * period
                for P, D, lo, hi in maps:
                    for o in range(period):
                        q, i = divmod(o, P)
                        if lo[i] is None:
                            continue
                        a, b = lo[i] + q * D, hi[i] + q * D
                        if new_lo[o] is None:
                            new_lo[o], new_hi[o] = a, b
                        else:
                            new_lo[o], new_hi[o] = min(new_lo[o], a), max(new_hi[o], b)
                out.append(_reduced(period, shifts.pop(), new_lo, new_hi))
                continue
        out.append(_bound_union([_bound(m) for m in maps], shape[1 + d]))
    return tuple(out)


def _constant(m: Map) -> Map:
    """The map of one position read by every output: its interval, jump 0."""
    i = interval(m, 0)
    return (1, 0, (i[0],), (i[1],)) if i is not None else (1, 0, (None,), (None,))


def _covering(maps: list, n: int) -> Map | None:
    """A jump-0 map (every output reads one interval) whose interval holds what every other
    branch reads at outputs 0 ... n - 1, or None. Intervals move monotonically with o, so the
    first and last period (or, for a bound, the first and last output) tell: lo(o + P) = lo(o) + D."""
    for c in maps:
        if c[0] > 1 or c[1] != 0 or interval(c, 0) is None:
            continue
        lo_c, hi_c = interval(c, 0)
        ok = True
        for m in maps:
            if m is c:
                continue
            P = m[0] or 1
            outs = set(range(min(P, n))) | set(range(max(0, n - P), n))
            for o in outs:
                i = interval(m, o)
                if i is not None and (i[0] < lo_c or i[1] > hi_c):
                    ok = False
                    break
            if not ok:
                break
        if ok:
            return c
    return None


def _global(m: Map, n: int, g: int) -> Map:
    """fc, flatten, global pooling: output 0 depends on what all n positions of the input depend
    on (as lo(x + P) = lo(x) + D >= lo(x), the least lo is among the first P positions and the
    largest hi among the last P). The jump is n times the input's, as for a window of n positions
    and stride n; every output of a period repeats output 0, so that the size is output 0's."""
    P, D, lo, hi = m
    span = min(n, P)
    los = [lo[x % P] + x // P * D for x in range(span) if lo[x % P] is not None]
    his = [hi[x % P] + x // P * D for x in range(n - span, n) if hi[x % P] is not None]
    period = P // g
    if not los:
        return (period, n // g * D, (None,) * period, (None,) * period)
    return (period, n // g * D, (min(los),) * period, (max(his),) * period)


def _flat_union(maps) -> Map:
    """A flat tensor has one position: the union of what output 0 of each branch depends on, with
    the largest jump."""
    if not all(m[0] for m in maps):
        return _bound_union([_bound(m) for m in maps], 1)
    spans = [interval(m, 0) for m in maps]
    spans = [s for s in spans if s is not None]
    from fractions import Fraction  # here, not at start: most networks never need it

    P, D = max(((m[0], m[1]) for m in maps), key=lambda pd: Fraction(pd[1], pd[0]))
    if not spans:
        return (P, D, (None,) * P, (None,) * P)
    return (P, D, (min(s[0] for s in spans),) * P, (max(s[1] for s in spans),) * P)


def _reduced(P: int, D: int, lo: list, hi: list) -> Map:
    """The same map with its shortest period: the periods that repeat it are the multiples of the
    shortest one (dividing P, with a whole shift), so dividing out P's prime factors one at a time
    finds it."""
    T = P
    for f in _primes(P):
        while T % f == 0:
            half = T // f
            if (D * half) % P:
                break
            shift = D * half // P
            if not all(_same(lo[o], lo[o + half], shift) and _same(hi[o], hi[o + half], shift) for o in range(P - half)):
                break
            T = half
    if T == P:
        return (P, D, tuple(lo), tuple(hi))
    return (T, D * T // P, tuple(lo[:T]), tuple(hi[:T]))


def _same(a, b, shift) -> bool:
    return b is None if a is None else b is not None and b == a + shift


@lru_cache(maxsize=None)
def _primes(n: int) -> list[int]:
    out, f = [], 2
    while f * f <= n:
        if n % f == 0:
            out.append(f)
            while n % f == 0:
                n //= f
        f += 1
    if n > 1:
        out.append(n)
    return out


# ---- bounds: a + o*J <= what output o depends on <= b + o*J -------------------------------------

def _bound(m: Map) -> Map:
    P, D, lo, hi = m
    if P == 0:
        return m
    from fractions import Fraction

    J = Fraction(D, P)
    a = [lo[i] - i * J for i in range(P) if lo[i] is not None]
    b = [hi[i] - i * J for i in range(P) if hi[i] is not None]
    return (0, J, min(a), max(b)) if a else (0, J, Fraction(0), Fraction(-1))


def _bound_through(m: Map, rule: tuple) -> Map:
    """Output o reads positions o*E/Q + first ... o*E/Q + last (the rule's offsets), each of which
    depends on a + x*J ... b + x*J."""
    _, J, a, b = m
    Q, E, _, first, last = rule
    return (0, J * E / max(Q, 1), a + J * first, b + J * last)


def _bound_union(bounds: list, size: int) -> Map:
    """Branches of different jumps, over the outputs that exist: at o <= size - 1, a_i + o*J_i is at
    least a_i - (size - 1)*(J - J_i) + o*J for the largest J."""
    J = max(m[1] for m in bounds)
    return (0, J, min(m[2] - (size - 1) * (J - m[1]) for m in bounds), max(m[3] for m in bounds))


# ---- reading a field -----------------------------------------------------------------------

def is_exact(field: Field | None) -> bool:
    """False where some dimension is a bound (see the module docstring)."""
    return field is None or all(m[0] for m in field)


def interval(m: Map, o: int) -> tuple[int, int] | None:
    """The input positions output o depends on in this dimension, first and last (absolute input
    coordinates), or None where it depends on none. For a bound, the positions it may depend on."""
    P, D, lo, hi = m
    if P == 0:
        return (ceil(lo + o * D), floor(hi + o * D))
    q, i = divmod(o, P)
    return None if lo[i] is None else (lo[i] + q * D, hi[i] + q * D)


def _size(m: Map) -> int:
    P, D, lo, hi = m
    if P == 0:
        return max(0, floor(hi - lo) + 1)
    if P == 1:
        return hi[0] - lo[0] + 1 if lo[0] is not None else 0
    return max((h - l + 1 for l, h in zip(lo, hi) if l is not None), default=0)


def _stride(m: Map):
    P, D = m[0], m[1]
    if P == 0:
        return D.numerator if D.denominator == 1 else float(D)
    if D % P == 0:
        return D // P
    from fractions import Fraction

    return float(Fraction(D, P))


def rf_sizes(field: Field | None) -> list | None:
    """Per dimension, the widest input region one output depends on (a whole number)."""
    return None if field is None else [_size(m) for m in field]


def rf_strides(field: Field | None) -> list | None:
    """Per dimension, the jump: an int, or a float where it is fractional (0.5 after upsampling)."""
    return None if field is None else [_stride(m) for m in field]
