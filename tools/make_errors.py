"""docs/errors.md, the catalogue of error codes: run its examples and write what they print.

    python -m tools.make_errors           # rewrite the outputs in docs/errors.md
    python -m tools.make_errors --check   # exit 1 where the catalogue is stale or wrong

Each code of archdsl/codes.py has a section `## CODE: title` holding a bad example (```arch blocks,
each a file named by its first line `# file: NAME`, and a ```console block of `$ command` lines,
each followed by what it prints), then `**Fix.**` and the fix (files that replace the bad ones,
and commands). A fix without commands runs the bad part's last `archdsl` command again. The bad
example must print its own code; the fix must succeed without it. tests/test_error_codes.py
runs this on every section, so the catalogue cannot go stale.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
FENCE = re.compile(r"^```(\w*)\s*$")
HEADING = re.compile(r"^## ([EW]\d{4}): (.+)$")
NO_EXAMPLE = "**No example.**"  # a code that no spec or command can trigger here (the test lists them)


@dataclass
class Command:
    line: int  # index of the `$ ` line in the document
    text: str
    shown: list[str]  # the output the document shows
    end: int  # index after the shown output


@dataclass
class Section:
    code: str
    title: str
    start: int
    files: list = field(default_factory=list)  # (name, text) of the bad example
    commands: list = field(default_factory=list)  # Commands of the bad example
    fix_files: list = field(default_factory=list)
    fix_commands: list = field(default_factory=list)
    has_fix: bool = False
    no_example: bool = False


def parse(lines: list[str]) -> list[Section]:
    sections: list[Section] = []
    i = 0
    while i < len(lines):
        m = HEADING.match(lines[i])
        if m:
            sections.append(Section(m.group(1), m.group(2), i))
        elif sections and lines[i].startswith("**Fix.**"):
            sections[-1].has_fix = True
        elif sections and lines[i].startswith(NO_EXAMPLE):
            sections[-1].no_example = True
        elif sections and (f := FENCE.match(lines[i])):
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            s, body = sections[-1], lines[i + 1:j]
            if f.group(1) == "arch":
                name = re.match(r"#\s*file:\s*(\S+)", body[0]).group(1)
                (s.fix_files if s.has_fix else s.files).append((name, "\n".join(body) + "\n"))
            elif f.group(1) == "console":
                starts = [k for k in range(i + 1, j) if lines[k].startswith("$ ")]
                for c, k in enumerate(starts):
                    end = starts[c + 1] if c + 1 < len(starts) else j
                    shown = [line.rstrip() for line in lines[k + 1:end]]
                    while shown and not shown[-1]:
                        shown.pop()
                    (s.fix_commands if s.has_fix else s.commands).append(Command(k, lines[k][2:], shown, k + 1 + len(shown)))
            i = j
        i += 1
    return sections


_SHELL = set("|;&<>$`(){}*?\"'")


def run(command: str, cwd: Path) -> tuple[list[str], int]:
    """What `command` prints (standard output and error together) and its status: an `archdsl`
    command runs in this process (click's test runner), anything else in bash."""
    if command.startswith("archdsl ") and not _SHELL & set(command):
        from click.testing import CliRunner

        from archdsl.cli import main

        here = os.getcwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(main, shlex.split(command)[1:], env={"COLUMNS": "160", "TERM": "dumb"})
        finally:
            os.chdir(here)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        text, status = result.output, result.exit_code
    else:
        env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
                   PYTHONPATH=str(ROOT), COLUMNS="160", TERM="dumb")
        p = subprocess.run(["bash", "-c", "exec 2>&1; " + command], cwd=cwd, env=env, capture_output=True, text=True)
        text, status = p.stdout, p.returncode
    out = [line.rstrip() for line in text.splitlines()]
    while out and not out[-1]:
        out.pop()
    return out, status


def _write(cwd: Path, files) -> None:
    for name, text in files:
        (cwd / name).parent.mkdir(parents=True, exist_ok=True)
        (cwd / name).write_text(text, encoding="utf-8")


def check_section(s: Section, cwd: Path) -> tuple[dict[int, list[str]], list[str]]:
    """Run a section's example and fix in `cwd` (a folder holding a copy of specs/). Returns the
    output of each bad command (by its line) and the problems found."""
    problems, outputs = [], {}
    marker = f"[{s.code}]"
    _write(cwd, s.files)
    commands = [c.text for c in s.commands]
    printed = []
    for c in s.commands:
        out, _ = run(c.text, cwd)
        printed += out
        outputs[c.line] = out
    if not s.no_example and not any(marker in line for line in printed):
        problems.append(f"{s.code}: the example does not print {marker}: {printed[:3]}")
    if s.fix_files or s.fix_commands:
        _write(cwd, s.fix_files)
        again = [c.text for c in s.fix_commands] or [c for c in commands if c.startswith("archdsl ")][-1:]
        for text in again:
            out, status = run(text, cwd)
            if status != 0 or any(marker in line for line in out):
                problems.append(f"{s.code}: the fix `{text}` still fails (status {status}): {out[:3]}")
    return outputs, problems


def catalogue(check: bool = False) -> list[str]:
    """Run every section; rewrite the document's outputs (or, with `check`, report where they differ)."""
    import shutil

    lines = DOC.read_text(encoding="utf-8").split("\n")
    problems, replace = [], []
    for s in parse(lines):
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path(tmp)
            shutil.copytree(ROOT / "specs", cwd / "specs")
            outputs, found = check_section(s, cwd)
        problems += found
        for c in s.commands:
            if outputs[c.line] != c.shown:
                replace.append((c.line + 1, c.end, outputs[c.line]))
                if check:
                    problems.append(f"docs/errors.md:{c.line + 1}: `{c.text}` prints something else now: {outputs[c.line][:3]}")
    if not check and replace:
        for start, end, out in sorted(replace, reverse=True):
            lines[start:end] = out
        DOC.write_text("\n".join(lines), encoding="utf-8")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report a stale catalogue instead of rewriting it")
    args = parser.parse_args(argv)
    problems = catalogue(check=args.check)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
