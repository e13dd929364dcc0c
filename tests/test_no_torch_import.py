"""archdsl analyses without PyTorch: neither the command line nor the Python API imports torch.

Each check runs in a fresh interpreter (this test process may well have torch loaded already).
"""
import subprocess
import sys
import textwrap

SPEC = """\
network tiny
input 32x32x3
conv 8 3x3 pad=1 bn act=relu
maxpool 2
add {
  { conv 8 3 pad=1 ; relu }
  identity
}
concat {
  conv 4 1
  avgpool 3 /1 pad=1
}
convT 4 2 /2
gap
fc 10
"""


def imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from `python -X importtime` lines: `import time: self | cumulative | name`."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def is_torch(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


def test_cli_analyze_does_not_import_torch(tmp_path):
    spec = tmp_path / "tiny.arch"
    spec.write_text(SPEC)
    for fmt in ("table", "json"):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "archdsl", "analyze", str(spec), "--format", fmt],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "tiny" in proc.stdout
        modules = imported_modules(proc.stderr)
        assert "archdsl" in modules and "archdsl.cli" in modules, "the importtime output was not parsed"
        assert not {m for m in modules if is_torch(m)}, sorted(m for m in modules if is_torch(m))[:10]


def test_a_command_imports_no_other_command(tmp_path):
    """click's lazy subcommands: `archdsl analyze` defines (imports) no other command's module."""
    spec = tmp_path / "tiny.arch"
    spec.write_text(SPEC)
    code = textwrap.dedent(f"""
        import sys
        from archdsl.cli import main
        sys.argv = ["archdsl", "analyze", {str(spec)!r}]
        try:
            main()
        except SystemExit:
            pass
        print(sorted(m for m in sys.modules if m.startswith("archdsl.cli")), file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "tiny" in proc.stdout, proc.stderr[-2000:]
    assert proc.stderr.strip() == "['archdsl.cli', 'archdsl.cli.analyze']", proc.stderr[-2000:]


def test_api_does_not_import_torch():
    code = textwrap.dedent(f"""
        import sys
        import archdsl
        a = archdsl.load({SPEC!r}).analyze(batch=2)
        assert a.totals["params"] > 0 and a.outputs[0][1] == (10,)
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", proc.stdout


def test_cli_compare_and_diff_do_not_import_torch(tmp_path):
    spec = tmp_path / "tiny.arch"
    spec.write_text(SPEC)
    other = tmp_path / "wider.arch"
    other.write_text(SPEC.replace("fc 10", "fc 20"))
    for args in (["compare", str(spec), "lenet5", "--format", "json"], ["diff", str(spec), str(other)]):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "archdsl", *args],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "tiny" in proc.stdout
        modules = imported_modules(proc.stderr)
        assert "archdsl.cli" in modules and ("archdsl.compare" in modules or "archdsl.diff" in modules)
        assert not {m for m in modules if is_torch(m)}, sorted(m for m in modules if is_torch(m))[:10]
