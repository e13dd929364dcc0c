"""`archdsl compare --plot`: the chart of the lecture slides (Canziani et al. 2016): compute on one
axis, accuracy (or parameters) on the other, one marker per network, its area proportional to
its activation memory (at least 12 points²). Needs matplotlib (`archdsl[plot]`); nothing here imports it until a chart is drawn."""
from __future__ import annotations

import os

from ..errors import ArchError, UsageError

FORMATS = (".png", ".svg")
X = {"macs": ("macs", "GMACs (multiply-adds)", 1e9), "flops": ("flops", "GFLOPs", 1e9)}
Y = {"top1": "top-1 accuracy (%)", "params": "parameters (millions)"}


class PlotMissing(ArchError, ModuleNotFoundError):
    """--plot where matplotlib is not installed: one sentence saying how to install it."""

    phase = "dependency"

    def __init__(self):
        super().__init__("--plot needs matplotlib, which is not installed: pip install 'archdsl[plot]'", code="E0708")
        self.name = "matplotlib"


def check(path: str) -> None:
    """Before any spec is analysed: a file name the chart can be written as, and matplotlib."""
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise UsageError(f"--plot {path}: write a .png or an .svg file", code="E0901")
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name is None or err.name.split(".")[0] != "matplotlib":
            raise
        raise PlotMissing() from None


def y_axis(summaries, y: str) -> str:
    """`auto`: the accuracy where every spec records one, else parameters."""
    missing = [s.network for s in summaries if s.top1 is None]
    if y == "auto":
        return "params" if missing else "top1"
    if y == "top1" and missing:
        raise UsageError(f"--plot-y top1: {', '.join(missing)} record{'s' if len(missing) == 1 else ''} no accuracy",
                         hint="a spec records it on its network line: `network resnet50 top1=76.13`; or use --plot-y params", code="E0902")
    return y


def draw(summaries, path: str, settings: dict, x: str = "macs", y: str = "auto") -> None:
    from matplotlib import rc_context, ticker
    from matplotlib.figure import Figure

    y = y_axis(summaries, y)
    key, xlabel, scale = X[x]
    xs = [s.totals[key] / scale for s in summaries]
    ys = [s.top1 if y == "top1" else s.totals["params"] / 1e6 for s in summaries]
    memory = [s.totals["activation_bytes"] for s in summaries]
    largest = max(max(memory), 1)

    def marker(m):  # points², proportional to the memory; the smallest network stays visible
        return max(1500 * m / largest, 12)

    area = [marker(m) for m in memory]

    fig = Figure(figsize=(9, 6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=area, alpha=0.45, color="tab:blue", edgecolors="tab:blue", linewidths=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"{xlabel} per image, log scale" if settings.get("batch", 1) == 1 else
                  f"{xlabel} per batch of {settings['batch']}, log scale")
    ax.set_ylabel(Y[y])
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.15, y=0.1)
    where = ", ".join(f"{k} {v}" for k, v in settings.items() if k in ("batch", "dtype"))
    ax.set_title(f"{Y[y].split(' (')[0]} against compute; marker area: activation memory ({where})", fontsize=11)
    _label(fig, ax, [s.network for s in summaries], xs, ys, area)
    for m in _legend_sizes(largest):  # what a marker's area means
        ax.scatter([], [], s=marker(m), alpha=0.45, color="tab:blue", label=f"{m / 1e6:g} MB" if m >= 1e6 else f"{m / 1e3:g} kB")
    ax.legend(title="activation memory", loc="best", labelspacing=1.6, borderpad=1.0, frameon=True)
    with rc_context({"svg.fonttype": "none"}):  # an SVG's labels stay text: searchable, selectable
        fig.savefig(path)


def _label(fig, ax, names, xs, ys, area) -> None:
    """One label per marker, beside it on the first side (right, left, above, below, the diagonals)
    where it overlaps no other label or marker, and stays inside the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # the final limits and layout, so that display coordinates hold
    px = fig.dpi / 72
    centres = ax.transData.transform(list(zip(xs, ys)))
    radii = [0.5 * a ** 0.5 * px for a in area]
    markers = [Bbox.from_extents(cx - r, cy - r, cx + r, cy + r) for (cx, cy), r in zip(centres, radii)]
    frame = ax.get_window_extent(renderer)
    taken: list = []
    order = sorted(range(len(names)), key=lambda i: -area[i])
    for i in order:
        r = radii[i] / px + 2  # points from the centre to the label
        sides = [((r, 0), "left", "center"), ((-r, 0), "right", "center"), ((0, r), "center", "bottom"),
                 ((0, -r), "center", "top"), ((0.7 * r, 0.7 * r), "left", "bottom"),
                 ((0.7 * r, -0.7 * r), "left", "top"), ((-0.7 * r, 0.7 * r), "right", "bottom"),
                 ((-0.7 * r, -0.7 * r), "right", "top")]
        label = None
        for offset, ha, va in sides:
            if label is not None:
                label.remove()
            label = ax.annotate(names[i], (xs[i], ys[i]), xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=9)
            box = label.get_window_extent(renderer).expanded(1.05, 1.1)
            clear = all(not box.overlaps(b) for b in taken) and \
                all(j == i or not box.overlaps(m) for j, m in enumerate(markers))
            if clear and frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1):
                break
        else:  # nowhere clear: the first side
            label.remove()
            offset, ha, va = sides[0]
            label = ax.annotate(names[i], (xs[i], ys[i]), xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=9)
            box = label.get_window_extent(renderer)
        taken.append(box)


def _legend_sizes(largest: int) -> list[int]:
    """Three round sizes (1, 2 or 5 times a power of ten bytes) up to the largest activation memory."""
    series = [m * 10 ** e for e in range(3, 13) for m in (1, 2, 5) if m * 10 ** e <= largest]
    if not series:
        return [largest]
    top = series[-1]
    picks = [top] + [max((v for v in series if v <= top / f), default=None) for f in (4, 20)]
    return sorted({v for v in picks if v})
