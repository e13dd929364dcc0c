import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def reference():
    """torchvision's own figures (copied from shared/reference; see tests/data/README.md)."""
    return json.loads((DATA / "torchvision_classification.json").read_text())


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny tensors: intra-op threads only cost time (several times slower on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
