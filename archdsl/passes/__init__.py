"""The analysis passes, a declared sequence; each annotates the IR's nodes in place.

Expansion (passes/expand, AST -> IR) comes before them. `run` is the only place that runs a
pass: `Network` runs it once per spec, and every report and backend reads the annotated graph.
"""

from typing import Callable, NamedTuple

from ..ir import Graph
from .figures import count_figures
from .inplace import storage
from .memory import mark_saved
from .receptive_field import annotate_receptive_fields
from .shapes import infer_shapes


class Pass(NamedTuple):
    name: str
    run: Callable[[Graph], None]


PASSES: tuple[Pass, ...] = (
    Pass("shapes", infer_shapes),  # node.shape, node.resolved, graph.warnings
    Pass("storage", storage),  # node.inplace, node.strided
    Pass("figures", count_figures),  # node.figures
    Pass("memory", mark_saved),  # node.grad, node.saved
    Pass("receptive_field", annotate_receptive_fields),  # node.rf
)
PASS_NAMES = tuple(p.name for p in PASSES)


def run(graph: Graph, lint: bool = False) -> Graph:
    """Annotate `graph` with every pass (once: an analysed graph is returned as it is).
    `lint`: check the IR's invariants after each pass (the tests do)."""
    if graph.analysed:
        return graph
    graph.passes_run = []
    if lint:
        graph.lint()
    for p in PASSES:
        p.run(graph)
        graph.passes_run.append(p.name)
        if lint:
            graph.lint()
    return graph
