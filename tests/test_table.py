"""The table at a terminal's width: 80 columns read well (columns narrow, then go, in the order
report/table.py states; descriptions wrap at word boundaries; no trailing spaces), `--wide`
prints everything, a pipe gets the full table, and a closed pipe ends the command quietly."""
import os
import pty
import re
import select
import subprocess
import sys

import pytest

import archdsl
from archdsl.figures import BY_NAME
from archdsl.report.table import cell, table_lines

from .conftest import ROOT, SPECS, per_spec

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SPEC_FILES = sorted(p.name for p in SPECS.glob("*.arch"))
ARCHDSL = [sys.executable, "-m", "archdsl"]


def child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "COLUMNS")}
    return dict(env, **extra)


def analysed(name, **kw):
    return archdsl.load(str(SPECS / name)).analyze(**kw)


def rows_shown(lines, a):
    """For each row of the analysis, its lines in the table (a row wraps onto several)."""
    body = lines[2:lines.index("")]  # after the title and the header, up to the footer
    starts = [i for i, line in enumerate(body) if line[:1] != " "]
    assert len(starts) == len(a.rows), "every row starts a line with its name"
    return [body[s:e] for s, e in zip(starts, starts[1:] + [len(body)])]


def check_fits(lines, width):
    for line in lines:
        assert len(line) <= width, f"{len(line)} columns: {line!r}"
        assert line == line.rstrip(), f"trailing space: {line!r}"


@pytest.mark.parametrize("name", per_spec(SPEC_FILES))
def test_every_spec_reads_well_at_80_columns(name):
    a = analysed(name)
    lines = table_lines(a, 80)
    check_fits(lines, 80)
    header = lines[1].split()
    assert header[:2] == ["name", "layer"] and "MACs" in header
    for row, shown in zip(a.rows, rows_shown(lines, a)):
        name_col = "".join(line.split("  ")[0].strip() for line in shown)  # a long name wraps after its dots
        assert name_col == row.name
        macs = cell(row, BY_NAME["macs"])
        assert not macs or f" {macs}" in shown[0], (row.name, macs)
        words = " ".join(shown).split()
        assert all(w in words for w in row.description.split()), row.description  # wrapped, never cut


def test_googlenet_depth_1_wraps_descriptions_at_word_boundaries():
    a = analysed("googlenet.arch", depth=1)
    lines = table_lines(a, 80)
    check_fits(lines, 80)
    header = lines[1]
    layer_at = header.index("layer")
    by_name = dict(zip((r.name for r in a.rows), rows_shown(lines, a)))
    shown = by_name["inception3a"]
    pieces = [line[layer_at:].split("  ")[0].strip() for line in shown]
    assert " ".join(pieces) == "inception 64 96 128 16 32 32"  # whole words on each line
    assert len(shown) > 1 and all(len(p) > 5 for p in pieces[:-1])
    assert "121.6M" in shown[0] and "155.9K" in shown[0]  # MACs and params, abbreviated, on its first line


def test_columns_go_in_the_stated_order():
    """RF first, then saved and activations, then params, then the output shape; name, layer and MACs stay."""
    a = analysed("vgg16.arch")
    full = table_lines(a)[1].split()
    assert full == ["name", "layer", "output", "(HxWxC)", "params", "MACs", "activations", "saved", "RF"]
    seen = []
    for width in range(140, 29, -1):
        lines = table_lines(a, width)
        check_fits(lines, max(width, 40))
        header = lines[1].split()
        assert {"name", "layer", "MACs"} <= set(header)
        for gone in ("RF", "saved", "activations", "params", "output"):
            if gone not in header and gone not in seen:
                seen.append(gone)
    assert seen == ["RF", "saved", "activations", "params", "output"]


def test_abbreviated_before_dropped():
    a = analysed("vgg16.arch")
    lines = table_lines(a, 100)
    assert "RF" in lines[1].split() and "output (HxWxC)" not in lines[1]
    assert lines[0] == "vgg16  (batch 1, float32; output HxWxC)"  # the axes move to the title
    assert any(line.startswith("classifier.6") and "4.1M" in line for line in lines)  # 4,097,000 parameters


def test_wide_and_pipes_print_everything():
    a = analysed("resnet152.arch")
    wide = table_lines(a)
    assert max(map(len, wide)) > 80 and wide[1].split()[-1] == "RF"
    assert wide == table_lines(a, 10_000)
    out = subprocess.run(ARCHDSL + ["analyze", str(SPECS / "resnet152.arch")], capture_output=True, text=True,
                         cwd=ROOT, env=child_env(COLUMNS="80"), check=True).stdout
    assert out.splitlines() == wide  # a pipe: every column, whatever COLUMNS says


def run_in_terminal(args, columns):
    """Run archdsl on a pseudo-terminal of `columns` columns; its output without colour codes."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(ROOT)
        os.execve(sys.executable, ARCHDSL + args, child_env(COLUMNS=str(columns), TERM="xterm-256color"))
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    raw = b"".join(chunks).decode()
    return raw, ANSI.sub("", raw).replace("\r\n", "\n").splitlines()


def test_terminal_of_80_columns():
    raw, lines = run_in_terminal(["analyze", str(SPECS / "googlenet.arch"), "--depth", "1"], 80)
    assert "\x1b[" in raw  # coloured
    check_fits(lines, 80)
    assert lines == table_lines(analysed("googlenet.arch", depth=1), 80)


def test_wide_on_a_terminal():
    _, lines = run_in_terminal(["analyze", str(SPECS / "resnet152.arch"), "--wide"], 80)
    assert lines == table_lines(analysed("resnet152.arch"))
    assert max(map(len, lines)) > 80


def closed_pipe(args):
    """Run archdsl with its standard output a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        p = subprocess.run(ARCHDSL + args, stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=child_env())
    finally:
        os.close(write)
    return p.returncode, p.stderr


@pytest.mark.parametrize("args", [
    ["analyze", "specs/resnet152.arch"],
    ["analyze", "specs/resnet152.arch", "--format", "json"],
    ["analyze", "specs/lenet5.arch", "--format", "csv"],
])
def test_closed_pipe_analyze(args):
    assert closed_pipe(args) == (0, "")


def test_closed_pipe_build():
    pytest.importorskip("torch")
    assert closed_pipe(["build", "specs/lenet5.arch", "--device", "meta"]) == (0, "")


def test_head_reads_the_first_lines():
    cmd = f"set -o pipefail; {sys.executable} -m archdsl analyze specs/resnet152.arch | head -3"
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT, env=child_env())
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.splitlines() == table_lines(analysed("resnet152.arch"))[:3]


def test_narrow_footer_wraps_at_its_parts():
    lines = table_lines(analysed("vgg16.arch"), 80)
    footer = lines[lines.index("") + 1:]
    assert footer[4] == "activations   15,262,696 (15.3M)"
    assert footer[5] == " " * 14 + "61.1 MB (58.2 MiB) forward, batch 1, input included"


def test_frozen_parameters_abbreviated(tmp_path):
    spec = tmp_path / "frozen.arch"
    spec.write_text("input 32x32x3\nfeatures: { conv 64 3x3 pad=1 }\nfc 10\nfreeze features\n")
    a = archdsl.load(str(spec)).analyze()
    lines = table_lines(a, 70)
    check_fits(lines, 70)
    assert any(line.startswith("features.0") and "1.8K (frozen)" in line for line in lines)


@pytest.mark.parametrize("environ", [
    {"TERM": "xterm-256color"},
    {"TERM": "xterm", "COLORTERM": "truecolor"},
    {"TERM": "linux"},
    {"TERM": "xterm-256color", "NO_COLOR": "1"},
    {"TERM": "dumb"},
    {"TERM": "unknown", "COLUMNS": "100"},
])
def test_posix_terminal_writes_what_rich_would(environ):
    """On a POSIX terminal the table goes without importing rich's Console: same width, same codes."""
    from rich.console import Console

    from archdsl.report.table import ansi_styles, posix_terminal

    class Tty:
        def isatty(self):
            return True

        def fileno(self):
            raise OSError("no terminal here")

    environ = dict(environ, COLUMNS=environ.get("COLUMNS", "80"))
    if environ["TERM"] in ("dumb", "unknown"):
        assert posix_terminal(environ, Tty()) is None  # rich decides
        return
    width, styles = posix_terminal(environ, Tty())
    console = Console(force_terminal=True, _environ=environ, highlight=False)
    assert width == console.width
    assert styles == ansi_styles(console)
    assert "".join(styles["name"]) == ("" if "NO_COLOR" in environ else "\x1b[36m\x1b[0m")


def test_pipes_and_posix_terminals_do_without_rich(tmp_path):
    """Importing rich's Console costs more than the analysis (docs/benchmarks.md)."""
    flag = tmp_path / "modules"
    code = ("import atexit, sys\n"
            f"atexit.register(lambda: open({str(flag)!r}, 'w').write(' '.join(sorted(sys.modules))))\n"
            "from archdsl.cli import main\n"
            "main(['analyze', 'specs/lenet5.arch'])\n")
    for on_terminal in (False, True):
        if on_terminal:
            pid, fd = pty.fork()
            if pid == 0:  # pragma: no cover - the child
                os.chdir(ROOT)
                os.execve(sys.executable, [sys.executable, "-c", code], child_env(COLUMNS="80", TERM="xterm"))
            while True:
                try:
                    if not os.read(fd, 65536):
                        break
                except OSError:
                    break
            os.waitpid(pid, 0)
        else:
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=child_env(), capture_output=True, check=True)
        modules = flag.read_text().split()
        assert "archdsl.report.table" in modules and "rich.console" not in modules, on_terminal
