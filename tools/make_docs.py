"""Regenerate the layer tables of docs/language.md from the op registry: run after adding or
changing an op.

    python tools/make_docs.py

tests/test_op_registry.py fails when the file differs from what this writes.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archdsl.ops import OPS  # noqa: E402
from archdsl.ops.reference import render  # noqa: E402

LANGUAGE = ROOT / "docs" / "language.md"


def main() -> None:
    LANGUAGE.write_text(render(LANGUAGE.read_text(), OPS))
    print(f"wrote {LANGUAGE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
