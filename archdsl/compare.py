"""Networks side by side (`archdsl compare`): one summary per network, every figure read from the
`Analysis` that `archdsl analyze` prints (report/compare.py formats them, report/plot.py draws them)."""
from __future__ import annotations

from dataclasses import dataclass

from .analysis import Analysis
from .ops import OPS

# The families of the layers a paper counts in a network's depth: the ones with weights that
# multiply (conv, convT, fc), not norms, activations or pools (ResNet-50's 50, VGG-16's 16).
WEIGHT_FAMILIES = ("conv", "linear")


@dataclass(frozen=True)
class Summary:
    network: str
    path: str
    input_shape: tuple  # PyTorch order without the batch
    totals: dict  # the analysis' totals, as `analyze --format json` writes them
    depth: int
    receptive_field: tuple | None  # (sizes, strides) at the (first) output
    top1: float | None  # the accuracy the spec records (`network NAME top1=...`), percent

    @property
    def gmacs(self) -> float:
        return self.totals["macs"] / 1e9


def depth(graph) -> int:
    """The most conv, convT and fc layers on any path from the input to an output
    (docs/conventions.md, "Depth")."""
    deepest = []
    for node in graph.nodes:  # topological order: inputs first
        below = max((deepest[i] for i in node.inputs), default=0)
        deepest.append(below + (OPS[node.op].family in WEIGHT_FAMILIES))
    return max(deepest[o] for o in graph.outputs)


def summary(analysis: Analysis, path: str) -> Summary:
    graph = analysis.graph
    rf = analysis.rows[graph.outputs[0]].receptive_field  # a row per node, in order (not collapsed)
    return Summary(analysis.network, path, analysis.input_shape, dict(analysis.totals), depth(graph), rf,
                   graph.records.get("top1"))


def compare(networks, **analysis_options) -> list[Summary]:
    """One summary per `Network`, each analysed with the keyword arguments of `Network.analyze`
    (batch, dtype, optimizer, device, ...): the one place compare passes them on."""
    return [summary(net.analyze(**analysis_options), net.path) for net in networks]
