"""The README's quick start stays true: two commands that each make (or reuse) a virtual
environment, CI runs both literally, and the output it shows is what `archdsl analyze
specs/vgg16.arch` prints."""
import re

from click.testing import CliRunner

from archdsl.cli import main

from .conftest import ROOT


def quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, re.S)
    return [b.strip() for b in blocks if b.strip().startswith("python3 -m venv ")]


def test_two_commands():
    install_and_run, test = quick_start_commands()
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert install_and_run.startswith(venv) and test.startswith(venv)  # each works in a fresh shell
    assert install_and_run.endswith("pip install . && archdsl analyze specs/vgg16.arch")  # no torch, not editable
    assert "[test]" in test and "pytest" in test


def test_ci_runs_the_readme_test_command():
    _, test = quick_start_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_ci_runs_the_readme_quick_start():
    """CI runs the first command literally, in a fresh environment, and checks what it prints."""
    install_and_run, _ = quick_start_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_run in ci.splitlines()
    assert "138,357,544" in ci and "find_spec('torch')" in ci


def test_readme_output_is_current():
    text = (ROOT / "README.md").read_text()
    shown = text.split("prints VGG-16 layer by layer:", 1)[1].split("```", 2)[1]
    out = CliRunner().invoke(main, ["analyze", str(ROOT / "specs" / "vgg16.arch")]).output
    actual = {" ".join(line.split()) for line in out.splitlines()}
    for line in shown.strip().splitlines():
        if line.strip() != "...":
            assert " ".join(line.split()) in actual, line
