"""The analysed graph: the passes run once, in their declared order, each leaving a graph that
passes `Graph.lint()`; every report and backend reads that graph and runs no pass itself."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

import archdsl
from archdsl import passes
from archdsl.ir import GraphInvariantError

from .conftest import ROOT

SPECS = sorted((ROOT / "specs").glob("*.arch"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_lints_after_every_pass(spec):
    graph = archdsl.load(spec).graph
    passes.run(graph, lint=True)
    assert graph.analysed and graph.passes_run == list(passes.PASS_NAMES)


def test_lint_raises_a_real_error():
    graph = archdsl.load("input 8x8x3\nconv 4 3\nrelu\n").graph
    passes.run(graph)
    graph.nodes[1].shape = (4, 0, 6)
    with pytest.raises(GraphInvariantError, match="shape"):
        graph.lint()
    graph.nodes[1].shape, graph.nodes[2].inputs = (4, 6, 6), (2,)
    with pytest.raises(GraphInvariantError, match="later node"):
        graph.lint()


@pytest.fixture
def pass_counts(monkeypatch):
    counts = {p.name: 0 for p in passes.PASSES}

    def counted(p):
        def run(graph):
            counts[p.name] += 1
            p.run(graph)
        return p._replace(run=run)

    monkeypatch.setattr(passes, "PASSES", tuple(counted(p) for p in passes.PASSES))
    return counts


def test_build_check_and_source_run_each_pass_once(pass_counts, tmp_path):
    pytest.importorskip("torch")
    from archdsl.cli import main

    out = tmp_path / "m.py"
    result = CliRunner().invoke(main, ["build", str(ROOT / "specs" / "lenet5.arch"), "--check", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "check:" in result.output
    assert pass_counts == {name: 1 for name in passes.PASS_NAMES}


def test_network_analyses_once_for_every_view(pass_counts):
    net = archdsl.load(ROOT / "specs" / "resnet18.arch")
    for batch in (1, 8):
        net.analyze(batch=batch)
    net.analyze(depth=1)
    net.analyze(dtype="bfloat16")
    assert pass_counts == {name: 1 for name in passes.PASS_NAMES}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against the archdsl package."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "archdsl" / "backends").glob("*.py")) + sorted((ROOT / "archdsl" / "report").glob("*.py")),
                         ids=lambda p: p.name)
def test_no_backend_or_report_imports_a_pass(path):
    assert not {m for m in _imports(path) if m.startswith("archdsl.passes")}


def test_rows_and_totals_are_generic_over_the_figure_registry():
    from archdsl.figures import FIGURES

    net = archdsl.load(ROOT / "specs" / "resnet18.arch")
    a, b = net.analyze(batch=3), net.analyze(batch=3, depth=1)
    for figure in FIGURES:
        column = [getattr(r, figure.name) for r in a.rows]
        assert a.totals[figure.name] == sum(column)
        # collapsing keeps every figure's total, whatever the figure
        assert sum(r.figures[figure.name] for r in b.rows) == a.totals[figure.name]
