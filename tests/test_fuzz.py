"""The fuzz harness (tools/fuzz.py, issue 12): grammar-generated and mutated specs either analyse,
draw and build, or fail with archdsl's own located error, each in bounded time and memory."""
import pytest

from tools import fuzz


def test_fuzz_harness_finds_a_planted_crash(monkeypatch):
    import archdsl.network

    def broken(text, path="<spec>", **options):
        raise KeyError("planted")

    monkeypatch.setattr(archdsl.network, "load_text", broken)
    finding = fuzz.check("input 8\n", build=False)
    assert finding is not None and finding.kind == "crash" and "KeyError" in finding.detail


def test_fuzz_harness_mutations_are_specs_of_the_library():
    import random

    rng = random.Random(0)
    seeds = fuzz.seeds()
    assert len(seeds) > 20
    texts = {fuzz.mutate(rng.choice(seeds), rng) for _ in range(50)}
    assert len(texts) > 40


def test_fuzz_a_hundred_inputs():
    pytest.importorskip("torch")
    done, findings = fuzz.fuzz(inputs=100, seed=12, batch=100)
    assert done == 100
    assert not findings, "\n".join(f"[{f.kind}] {f.detail}: {f.text[:300]!r}" for f in findings)


@pytest.mark.slow
def test_fuzz_ci_run():
    """The CI's bounded run: 2,000 inputs in under two minutes of processor time (about 75 s;
    processor time, because a shared machine stretches the wall clock)."""
    import time

    pytest.importorskip("torch")
    start = time.process_time()
    done, findings = fuzz.fuzz(inputs=2000, seed=1)
    assert done == 2000
    assert not findings, "\n".join(f"[{f.kind}] {f.detail}: {f.text[:300]!r}" for f in findings)
    assert time.process_time() - start < 120
