"""Error codes (archdsl/codes.py) and their catalogue (docs/errors.md): every raise in archdsl
passes a registered code, every code has a section, and every section's example prints its code
and its fix does not (the examples run here, tools/make_errors.py)."""
import ast
import re
import shutil
from pathlib import Path

import pytest

from archdsl.codes import CODES
from tools import make_errors

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = make_errors.parse(make_errors.DOC.read_text(encoding="utf-8").split("\n"))
# codes no spec or command can trigger on a machine with PyTorch and a working archdsl
NO_EXAMPLE = {"E0702", "E0706", "E0707", "E0708"}
# codes whose fix would train a network: the fix is said, not run
FIX_NOT_RUN = {"E0801", "E0802", "E0803", "E0804"}


def _error_classes(trees) -> set[str]:
    """ArchError and every class of archdsl derived from it, OpError and Warning_ (by name)."""
    names = {"ArchError", "OpError", "Warning_"}
    grown = True
    while grown:
        grown = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        isinstance(b, ast.Name) and b.id in names for b in node.bases):
                    names.add(node.name)
                    grown = True
    return names


def test_every_raise_in_archdsl_passes_a_registered_code():
    files = [p for p in (ROOT / "archdsl").rglob("*.py") if not p.name.startswith("_lark")]
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
    classes = _error_classes(trees.values()) - {"TorchMissing", "PlotMissing"}  # they pass their own codes to ArchError
    missing = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name not in classes or name == "super":
                continue
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if code is None:
                missing.append(f"{where}: {name}(...) without code=")
            elif isinstance(code, ast.Constant) and code.value not in CODES:
                missing.append(f"{where}: code {code.value!r} is not in archdsl/codes.py")
    assert not missing, "\n".join(missing) + (
        "\na new kind of error: one line in archdsl/codes.py, code=... where it is raised, and a section in "
        "docs/errors.md (python -m tools.make_errors writes what its example prints)")


def test_codes_are_well_formed():
    for code, title in CODES.items():
        assert re.fullmatch(r"[EW]\d{4}", code), code
        assert title and title == title.strip() and not title.endswith("."), code


def test_every_code_has_a_section_with_its_title():
    documented = {s.code: s.title for s in SECTIONS}
    assert [s.code for s in SECTIONS] == sorted(documented, key=list(CODES).index), "sections in the registry's order"
    assert set(documented) == set(CODES), (f"no section for {sorted(set(CODES) - set(documented))}; "
                                           f"no code for {sorted(set(documented) - set(CODES))}")
    assert {c: t for c, t in documented.items()} == CODES
    assert {s.code for s in SECTIONS if s.no_example} == NO_EXAMPLE


@pytest.mark.parametrize("section", [s for s in SECTIONS if not s.no_example], ids=lambda s: s.code)
def test_catalogue_example_prints_its_code_and_its_fix_does_not(section, tmp_path):
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    assert section.commands, f"{section.code} shows no command that prints its error"
    if section.code not in FIX_NOT_RUN:
        assert section.fix_files or section.fix_commands, f"{section.code} has no fix to run"
    outputs, problems = make_errors.check_section(section, tmp_path)
    assert not problems, "\n".join(problems)
    for command in section.commands:
        assert outputs[command.line] == command.shown, (
            f"docs/errors.md:{command.line + 1}: `{command.text}` prints something else now "
            "(python -m tools.make_errors rewrites the outputs)")
