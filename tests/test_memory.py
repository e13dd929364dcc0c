"""Memory figures against PyTorch itself (tests/memory_oracle.py measures).

saved_bytes: what autograd keeps for backward in a training-mode forward, for every spec at
batch 1 and 8, with freeze, and for random networks drawn as the cost oracle draws them.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import archdsl  # noqa: E402

from .helpers import analyze_text  # noqa: E402
from .memory_oracle import saved_bytes  # noqa: E402
from .test_cost_oracle import SETTINGS, Built, draw_program, note, render  # noqa: E402
from .conftest import SPECS  # noqa: E402

SPEC_FILES = sorted(SPECS.glob("*.arch"))

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _measured_saved(net, batch: int, device: str = "meta") -> int:
    module = net.build(device=device)
    x = torch.randn((batch, *net.analyze().input_shape), device=device)
    return saved_bytes(module, x)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("batch", [1, 8])
def test_saved_bytes_of_every_spec(path, batch):
    net = archdsl.load(path)
    estimated = net.analyze(batch=batch).totals["saved_bytes"]
    measured = _measured_saved(net, batch)
    assert abs(estimated - measured) <= 0.01 * measured, f"{path.stem} batch {batch}: {estimated:,} vs autograd {measured:,}"


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "squeezenet1_0"])
def test_meta_saves_what_the_cpu_saves(name):
    """The oracle's meta shortcut: the same storages as a real forward on the CPU."""
    net = archdsl.load(name)
    assert _measured_saved(net, 2, "meta") == _measured_saved(net, 2, "cpu")


FROZEN = """
input 32x32x3
stem: conv 16 3x3 pad=1 bn act=relu
body: conv 32 3x3 /2 pad=1 bn act=relu
pool: maxpool 2
head: fc 10
"""


@pytest.mark.parametrize("frozen", ["stem", "body", "head", "stem, body", "stem, body, head"])
def test_frozen_parts_save_less(frozen):
    net = archdsl.load(FROZEN + f"freeze {frozen}\n")
    for batch in (1, 3):
        assert net.analyze(batch=batch).totals["saved_bytes"] == _measured_saved(net, batch, "cpu")


def test_saved_rules_by_hand():
    """conv 4 3x3 on 8x8x3: the input (192 floats); bn: its input (4x6x6 = 144) and mean and
    inverse std (2 x 4); relu: its output (144, the bn's); maxpool: its input (the relu's output,
    counted once) and 4x3x3 int64 indices."""
    a = analyze_text("input 8x8x3\nconv 4 3x3\nbn\nrelu\nmaxpool 2", batch=2)
    rows = {r.name: r for r in a.layers}
    assert rows["0"].saved_bytes == 2 * 192 * 4
    assert rows["1"].saved_bytes == 2 * 144 * 4 + 8 * 4
    assert rows["2"].saved_bytes == 2 * 144 * 4
    assert rows["3"].saved_bytes == 2 * 36 * 8
    assert a.totals["saved_bytes"] == sum(r.saved_bytes for r in a.layers)


def _torch_saved(built: Built, shape: tuple, batch: int) -> int:
    own = {t.untyped_storage()._cdata for m in built.modules.values() for t in (*m.parameters(), *m.buffers())}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s._cdata not in own:
            seen[s._cdata] = s.nbytes()
        return t

    for m in built.modules.values():
        m.train()
    x = torch.randn((batch, *shape))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        built.forward(x)
    return sum(seen.values())


@SETTINGS
@given(data=st.data())
def test_saved_bytes_of_random_networks(data):
    """Random chains with branches (the cost oracle's programs), some layers frozen."""
    rank = data.draw(st.integers(1, 3))
    shape, program = draw_program(data, rank, data.draw(st.integers(1, 6)))
    if not program:
        return
    names = [name for name, d in program if d["kind"] not in ("concat", "add")]
    frozen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=2)) if names else []
    spec = render(shape, program, frozen)
    note(spec)
    built = Built(shape, program)
    for name in frozen:
        built.modules[name].requires_grad_(False)
    net = archdsl.load(spec)
    for batch in (2, 3):  # PyTorch refuses batch norm's training statistics of one value
        a = net.analyze(batch=batch)
        try:
            measured = _torch_saved(built, shape, batch)
        except (ValueError, RuntimeError) as err:
            note(f"PyTorch refuses it: {err}")
            return
        assert a.totals["saved_bytes"] == measured, f"batch {batch}: {a.totals['saved_bytes']:,} vs autograd {measured:,}\n{spec}"
