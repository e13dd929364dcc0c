"""Every example in the docs runs as shown.

```arch blocks are specs: written to the file named by a first line `# file: NAME.arch`, or by the
`$ archdsl analyze NAME.arch` of the console block right after it; otherwise they must analyse
without error. ```console blocks hold `$ command` lines, each followed by its exact output (stdout
and stderr together), run with bash in a scratch directory holding a copy of specs/.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SPECS

DOCS = ["language.md", "tutorial-vgg16.md", "build.md", "compare.md"]
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(lines):
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            yield m.group(1), i, j
            i = j + 1
        else:
            i += 1


def run(cmd, cwd):
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    env = dict(os.environ, PATH=path, COLUMNS="160", TERM="dumb")
    p = subprocess.run(["bash", "-c", "exec 2>&1; " + cmd], cwd=cwd, env=env, capture_output=True, text=True)
    out = [line.rstrip() for line in p.stdout.splitlines()]
    while out and not out[-1]:
        out.pop()
    return out, p.returncode


@pytest.mark.parametrize("doc", DOCS)
def test_doc_examples(doc, tmp_path):
    lines = (ROOT / "docs" / doc).read_text().split("\n")
    shutil.copytree(SPECS, tmp_path / "specs")
    found = list(blocks(lines))
    problems = []
    for k, (lang, i, j) in enumerate(found):
        body = lines[i + 1:j]
        if lang == "arch":
            m = re.match(r"#\s*file:\s*(\S+)", body[0]) if body else None
            name = m.group(1) if m else None
            if name is None and k + 1 < len(found) and found[k + 1][0] == "console":
                m = re.search(r"archdsl analyze (\S+\.arch)", lines[found[k + 1][1] + 1])
                name = m.group(1) if m else None
            standalone = name is None
            name = name or f"snippet_{i + 1}.arch"
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("\n".join(body) + "\n")
            if standalone:
                out, rc = run(f"archdsl analyze {name}", tmp_path)
                if rc != 0:
                    problems.append(f"{doc}:{i + 1}: example fails:\n" + "\n".join(out[:6]))
        elif lang == "console":
            commands = [n for n in range(i + 1, j) if lines[n].startswith("$ ")]
            for c, n in enumerate(commands):
                end = commands[c + 1] if c + 1 < len(commands) else j
                shown = [line.rstrip() for line in lines[n + 1:end]]
                while shown and not shown[-1]:
                    shown.pop()
                out, _ = run(lines[n][2:], tmp_path)
                if shown != out:
                    problems.append(f"{doc}:{n + 1}: `{lines[n][2:]}` prints something else")
    assert not problems, "\n".join(problems)
