"""Regenerate the golden files after a deliberate format change: python -m tests.golden.regen
(tests/test_reports.py checks their numbers against hand calculations, so review the diff)."""
import os
from pathlib import Path

from click.testing import CliRunner

from archdsl.cli import main

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent.parent / "specs" / "lenet5.arch"

if __name__ == "__main__":
    os.chdir(SPEC.parent.parent)  # the JSON's "file" is the path as given: specs/lenet5.arch
    (HERE / "lenet5.json").write_text(CliRunner().invoke(main, ["analyze", "specs/lenet5.arch", "--format", "json"]).output)
    (HERE / "lenet5.txt").write_text(CliRunner().invoke(main, ["analyze", str(SPEC)]).output)
