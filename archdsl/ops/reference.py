"""The layer reference of docs/language.md, generated from the registry (tools/make_docs.py
writes it; tests/test_op_registry.py checks that the file is up to date)."""
from __future__ import annotations

from .base import REQUIRED, Op, value_text

# The sections of the reference, by op family. Every writable op is in exactly one.
SECTIONS = {
    "conv": ("conv",),
    "pool": ("pool",),
    "linear": ("linear",),
    "norm": ("norm",),
    "activation": ("activation",),
    "attention": ("attention",),
    "other": ("shape",),
}
_ATTACHED = ("bn", "act")


def _arg_text(op: Op, arg) -> str:
    text = f"`{arg.name}`"
    notes = []
    if arg.default is not REQUIRED and arg.default is not None:
        notes.append(value_text(arg.default))
    if arg.name == "stride" and op.takes_stride:
        notes.append("or `/s`")
    return text + (f" ({', '.join(notes)})" if notes else "")


def _pytorch(op: Op) -> str:
    layer = op.lowering.layer
    if "{dims}" in layer:
        return "`" + "/".join(layer[3:].replace("{dims}d", f"{d}d") for d in (1, 2, 3)).replace("/" + layer[3:layer.index("{")], "/") + "`"
    return f"`{layer[3:]}`" if layer.startswith("nn.") else f"`{layer}` (archdsl)"


def row(op: Op) -> str:
    plain = ", ".join(_arg_text(op, op.arg(name)) for name in op.positional)
    options = ", ".join(_arg_text(op, a) for a in op.args if a.name not in op.positional)
    return f"| `{op.name}` | {plain} | {options} | {'yes' if op.inplace else 'no'} | {_pytorch(op)} | {op.doc} |"


def alias_table(ops) -> str:
    lines = ["| alias | layer |", "|---|---|"]
    lines += [f"| {', '.join(f'`{a}`' for a in op.aliases)} | `{op.name}` |" for op in ops.values() if op.aliases]
    return "\n".join(lines)


def table(section: str, ops) -> str:
    if section == "aliases":
        return alias_table(ops)
    families = SECTIONS[section]
    lines = ["| kind | plain args | options (default) | in place | PyTorch | what it does |",
             "|---|---|---|---|---|---|"]
    lines += [row(op) for op in ops.values() if op.writable and op.family in families]
    return "\n".join(lines)


def begin_marker(section: str) -> str:
    return f"<!-- layer table: {section} (generated from archdsl/ops by tools/make_docs.py; do not edit) -->"


END_MARKER = "<!-- end of layer table -->"


def render(text: str, ops) -> str:
    """`text` with every generated table between its markers replaced by the registry's."""
    for section in (*SECTIONS, "aliases"):
        begin = begin_marker(section)
        if begin not in text:
            raise ValueError(f"docs/language.md has no marker for the {section} table")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(END_MARKER, 1)
        text = f"{head}{begin}\n{table(section, ops)}\n{END_MARKER}{tail}"
    return text
