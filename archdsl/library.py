"""The spec library: the specs archdsl ships, by name (`archdsl analyze resnet50`, `archdsl list`).

They live in the repository's `specs/` folder; a wheel installs the same files as
`archdsl/specs/` (pyproject.toml maps the package `archdsl.specs` onto `specs/`). A library spec
says what it is in the comment of its `network` line (`network vgg16  # VGG-16, ...`).
"""

import os
import re
from typing import NamedTuple

# paths as strings, not pathlib: every spec that `use`s a file asks for the library's folder, and
# importing pathlib costs a whole-process `archdsl analyze` about 2% of its instructions
_HERE = os.path.dirname(os.path.realpath(__file__))
_NETWORK_LINE = re.compile(r"^network\s+[^#\n]*#\s*(.+?)\s*$", re.M)  # after the name and what it records
# A name the library could hold: no path separator, no spaces, nothing a spec's text would need.
_BARE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def directory() -> str:
    """The folder of the library specs: archdsl/specs/ in an installed wheel, specs/ in a clone."""
    installed = os.path.join(_HERE, "specs")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(_HERE), "specs")


def names() -> list[str]:
    """Every library spec's name (its file name without `.arch`; `lib/` holds blocks, not specs)."""
    folder = directory()
    if not os.path.isdir(folder):
        return []
    return sorted(f[: -len(".arch")] for f in os.listdir(folder) if f.endswith(".arch") and os.path.isfile(os.path.join(folder, f)))


def is_bare_name(spec: str) -> bool:
    """True for `resnet50` or `resnet50.arch`: a word that could name a library spec."""
    return bool(_BARE.match(spec))


def find(name: str) -> str | None:
    """The file of the library spec `name` (`resnet50` or `resnet50.arch`), or None."""
    if not is_bare_name(name):
        return None
    stem = name[: -len(".arch")] if name.endswith(".arch") else name
    path = os.path.join(directory(), f"{stem}.arch")
    return path if stem in names() else None


def summary(text: str) -> str:
    """What a spec is, from the comment on its `network` line ('' when it has none)."""
    m = _NETWORK_LINE.search(text)
    return m.group(1) if m else ""


class Entry(NamedTuple):
    name: str
    summary: str
    input: str  # in the spec's own notation, HxWxC
    params: int


def entries() -> list[Entry]:
    """One entry per library spec, input and parameters computed by analysing it."""
    from .network import load
    from .ops.base import fmt_size, slide_order

    out = []
    for name in names():
        path = os.path.join(directory(), f"{name}.arch")
        net = load(path)
        analysis = net.analyze()
        with open(path, encoding="utf-8") as f:
            text = f.read()
        out.append(Entry(name, summary(text), fmt_size(slide_order(analysis.input_shape)),
                         analysis.totals["params"]))
    return out
