import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def reference():
    """torchvision's own figures (copied from shared/reference; see tests/data/README.md)."""
    return json.loads((DATA / "torchvision_models.json").read_text())
