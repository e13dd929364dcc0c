"""Installing archdsl: PyTorch is an extra (`archdsl[torch]`), building without it says how to
install it, the spec library ships as package data and goes by name (`archdsl analyze resnet50`,
`archdsl list`). The wheel itself is built and installed into a fresh environment under -m slow."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import archdsl
from archdsl import library
from archdsl.cli import main

from .conftest import ROOT, SPECS

# Runs archdsl's command line in a fresh interpreter where `import torch` fails, as it does where
# torch is not installed (this test process may well have torch loaded).
WITHOUT_TORCH = textwrap.dedent("""
    import sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoTorch())
    sys.argv = ["archdsl", *sys.argv[1:]]
    from archdsl.cli import main
    main()
""")

INSTALL_TORCH = "pip install 'archdsl[torch]'"


def without_torch(*args, cwd=None):
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_build_without_torch_says_how_to_install_it(tmp_path):
    for args in (["build", "lenet5"], ["build", str(SPECS / "lenet5.arch"), "-o", str(tmp_path / "m.py")]):
        proc = without_torch(*args)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("error[E0702]: ") and lines[0].endswith(INSTALL_TORCH) and lines[0].count(". ") == 0
    assert not (tmp_path / "m.py").exists()


def test_analyze_graph_and_list_without_torch(tmp_path):
    assert "138,357,544" in without_torch("analyze", str(SPECS / "vgg16.arch")).stdout
    proc = without_torch("graph", "resnet18", "-o", str(tmp_path / "r.dot"))
    assert proc.returncode == 0 and (tmp_path / "r.dot").read_text().startswith("digraph"), proc.stderr
    proc = without_torch("list")
    assert proc.returncode == 0 and "resnet50" in proc.stdout, proc.stderr


def test_api_build_without_torch_is_an_import_error():
    code = WITHOUT_TORCH.split("sys.argv")[0] + textwrap.dedent("""
        import archdsl
        try:
            archdsl.build("lenet5", device="meta")
        except ImportError as err:
            print(type(err).__name__, err.name, isinstance(err, archdsl.ArchError), err)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split(" ", 3)[:3] == ["TorchMissing", "torch", "True"], proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith(INSTALL_TORCH)


def test_torch_is_an_extra():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda reqs: {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0] for r in reqs}  # noqa: E731
    assert not {"torch", "numpy"} & names(project["dependencies"])
    assert {"torch", "numpy"} <= names(project["optional-dependencies"]["torch"])
    assert "archdsl[torch]" in project["optional-dependencies"]["test"]


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages (packages.find cannot map archdsl.specs onto specs/)."""
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "archdsl").rglob("__init__.py")}
    assert found | {"archdsl.specs", "archdsl.specs.lib"} == set(setuptools["packages"])
    assert setuptools["package-dir"] == {"archdsl.specs": "specs"}
    assert sorted(p.name for p in (SPECS / "lib").iterdir()) == [  # package-data: lib/*.arch
        "convnext.arch", "densenet.arch", "efficientnet.arch", "mnasnet.arch", "mobilenet_v3.arch", "regnet.arch",
        "resnet.arch", "se.arch", "shufflenet_v2.arch", "swin.arch", "vit.arch"]


# The spec library by name.

def test_library_is_the_specs_folder():
    assert Path(library.directory()) == SPECS
    assert library.names() == sorted(p.stem for p in SPECS.glob("*.arch"))
    assert "resnet50" in library.names() and "resnet" not in library.names()  # lib/ holds blocks


def analyze_json(*args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["analyze", *args, "--format", "json"])
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_bare_name_is_a_library_spec(tmp_path):
    by_path = analyze_json(str(SPECS / "resnet50.arch"), cwd=tmp_path)
    for name in ("resnet50", "resnet50.arch"):
        by_name = analyze_json(name, cwd=tmp_path)
        assert by_name["totals"] == by_path["totals"] and by_name["layers"] == by_path["layers"]
    net = archdsl.load("resnet50")  # `use "lib/resnet.arch"` resolves next to the library spec
    assert net.analyze().totals["params"] == 25_557_032 and net.path == str(SPECS / "resnet50.arch")
    assert archdsl.load("vgg16", set={"classes": 10}).analyze().layers[-1].output_shape == (10,)


def test_a_file_comes_before_the_library(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vgg16").write_text("network mine\ninput 8\nfc 2\n")
    (tmp_path / "resnet50.arch").write_text("network other\ninput 8\nfc 3\n")
    assert archdsl.load("vgg16").name == "mine"
    assert archdsl.load("resnet50.arch").name == "other"
    assert archdsl.load("resnet18").name == "resnet18"
    assert archdsl.load("input 8 ; fc 2").analyze().totals["params"] == 18  # one line of spec text


@pytest.mark.parametrize("spec, message, hint", [
    ("resnet5", "error[E0001]: no spec 'resnet5': it is neither a file nor a spec of the library",
     "hint: did you mean 'resnet50'? (a library spec: `archdsl list` shows them all)"),
    ("vgg16_nb.arch", "error[E0001]: no spec 'vgg16_nb.arch': it is neither a file nor a spec of the library",
     "hint: did you mean 'vgg16_bn'? (a library spec: `archdsl list` shows them all)"),
    ("xyzzy", "error[E0001]: no spec 'xyzzy': it is neither a file nor a spec of the library",
     "hint: `archdsl list` shows the spec library"),
    ("models/resnet05.arch", "error[E0001]: no such file: models/resnet05.arch",
     "hint: did you mean 'resnet50'? (a library spec: `archdsl list` shows them all)"),
])
def test_unknown_name_says_what_it_may_mean(tmp_path, monkeypatch, spec, message, hint):
    monkeypatch.chdir(tmp_path)
    for command in (["analyze", spec], ["graph", spec, "-o", "x.dot"], ["build", spec]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert result.output.splitlines() == [message, hint]
    with pytest.raises(archdsl.ArchError, match="no s"):
        archdsl.load(spec)


def test_list():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "what", "input", "params"]
    rows = lines[1:1 + len(library.names())]
    assert [row.split()[0] for row in rows] == library.names()
    for row in rows:
        name = row.split()[0]
        text = (SPECS / f"{name}.arch").read_text()
        summary = library.summary(text)
        assert summary and f"  {summary}  " in row, name  # each spec says what it is on its network line
        analysis = archdsl.load(SPECS / f"{name}.arch").analyze()
        shape = "x".join(map(str, analysis.input_shape[1:] + analysis.input_shape[:1]))
        assert row.split()[-2:] == [shape, f"{analysis.totals['params']:,}"], row
    assert lines[-1].startswith(f"{len(rows)} specs in {SPECS}")
    vgg16 = next(row for row in rows if row.startswith("vgg16 "))
    assert vgg16.split()[-2:] == ["224x224x3", "138,357,544"]


# The wheel: a real, non-editable build installed into a fresh environment without torch.

@pytest.mark.slow
def test_wheel_ships_the_library_and_runs_without_torch(tmp_path):
    source = tmp_path / "source"  # a copy: setuptools writes build/ and *.egg-info/ next to the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                ".pytest_cache", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "-w", str(tmp_path / "w"), "--no-deps", "-q"],
                   check=True, cwd=tmp_path, timeout=600)
    (wheel,) = (tmp_path / "w").glob("archdsl-*.whl")
    files = set(zipfile.ZipFile(wheel).namelist())
    specs = {f"archdsl/specs/{p.relative_to(SPECS)}" for p in SPECS.rglob("*.arch")}
    assert specs <= files and "archdsl/specs/lib/resnet.arch" in files and "archdsl/grammar.lark" in files

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    bin_ = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run([str(bin_ / "pip"), "install", "-q", str(wheel)], check=True, timeout=600, env=env)
    run = lambda *args: subprocess.run([str(bin_ / "archdsl"), *args], capture_output=True, text=True,  # noqa: E731
                                       cwd=tmp_path, env=env, timeout=120)
    has_torch = subprocess.run([str(bin_ / "python"), "-c", "import importlib.util as u; print(u.find_spec('torch'))"],
                               capture_output=True, text=True, env=env, cwd=tmp_path)
    assert has_torch.stdout.strip() == "None"

    analysed = run("analyze", "resnet50")  # the library spec uses lib/resnet.arch, also in the wheel
    assert analysed.returncode == 0 and "parameters    25,557,032 " in analysed.stdout, analysed.stderr
    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == len(library.names()) + 3
    assert str(venv) in listed.stdout.splitlines()[-1]  # the wheel's copy, not this clone's
    built = run("build", "resnet50")
    assert built.returncode == 1 and built.stderr.strip().endswith(INSTALL_TORCH), built.stderr
