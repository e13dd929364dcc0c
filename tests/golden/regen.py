"""Regenerate the golden files after a deliberate format change: python -m tests.golden.regen
(tests/test_reports.py checks their numbers against hand calculations, so review the diff)."""
from pathlib import Path

from click.testing import CliRunner

from archdsl.cli import main

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent.parent / "specs" / "lenet5.arch"

if __name__ == "__main__":
    (HERE / "lenet5.json").write_text(CliRunner().invoke(main, ["analyze", str(SPEC), "--format", "json"]).output)
    (HERE / "lenet5.txt").write_text(CliRunner().invoke(main, ["analyze", str(SPEC)]).output)
