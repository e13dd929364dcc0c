"""What a training run prints (rank 0 only): the plan, a rich progress bar per epoch with loss,
accuracy and images/s, one summary line per epoch; and curves.png where matplotlib is installed."""
from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class Reporter:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.console = Console(highlight=False, soft_wrap=True)
        self.progress = None

    def line(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, markup=False)

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        if not (self.enabled and self.console.is_terminal):  # a pipe or a file gets the summary lines only
            return
        self.progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  acc {task.fields[acc]}  {task.fields[speed]} img/s"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, loss="-", acc="-", speed="-")

    def step(self, done: int, loss: float, accuracy: float, images_per_s: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done, loss=f"{loss:.4f}", acc=f"{accuracy:.1%}",
                                 speed=f"{images_per_s:,.0f}")

    def end_epoch(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def summary(m: dict, epochs: int) -> str:
    return (f"epoch {m['epoch']}/{epochs}  train loss {m['train_loss']:.4f}  acc {m['train_accuracy']:.2%}  "
            f"val loss {m['val_loss']:.4f}  acc {m['val_accuracy']:.2%}  {m['images_per_s']:,.0f} img/s  "
            f"lr {m['lr']:.3g}  {m['seconds']:.1f} s")


def curves(metrics: list[dict], directory: str) -> str | None:
    """curves.png: train and validation loss, and validation accuracy, per epoch; None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        return None
    epochs = [m["epoch"] for m in metrics]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [m["train_loss"] for m in metrics], marker="o", label="train")
    left.plot(epochs, [m["val_loss"] for m in metrics], marker="o", label="held out")
    left.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    left.legend()
    right.plot(epochs, [m["train_accuracy"] for m in metrics], marker="o", label="train")
    right.plot(epochs, [m["val_accuracy"] for m in metrics], marker="o", label="held out")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    right.legend()
    fig.tight_layout()
    path = os.path.join(directory, "curves.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
