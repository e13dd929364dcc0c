"""Small helpers shared by the tests."""
from __future__ import annotations

from click.testing import CliRunner

import archdsl
from archdsl.cli import main


def analyze_text(text: str, **options):
    return archdsl.load(text if text.endswith("\n") else text + "\n").analyze(**options)


def run_cli(tmp_path, text: str, *args: str, name: str = "spec.arch"):
    """Write `text` to a spec file and run `archdsl analyze` on it in-process."""
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(main, ["analyze", str(path), *args])
    return result, path


def error_of(text: str, path: str = "<spec>") -> archdsl.ArchError:
    try:
        archdsl.load(text if text.endswith("\n") else text + "\n").analyze()
    except archdsl.ArchError as err:
        return err
    raise AssertionError("no error raised")
