"""Reading a spec file as untrusted input: a regular file only, never more than the size limit
plus one byte, decoded as UTF-8 with an error that says where it is not."""
from __future__ import annotations

import os
import stat

from .errors import LimitError, Source, Span, SyntaxErr, UsageError
from .limits import MAX_FILE_BYTES


def read_spec(path: str, shown: str | None = None) -> str:
    """The text of the spec file at `path` (`shown`: its name in messages). A folder, a device, a
    FIFO or a socket is refused before anything is read (a FIFO is opened without blocking)."""
    shown = path if shown is None else shown
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, a pipe or a socket)"
            raise UsageError(f"{shown} is {what}, not a spec file", code="E0002")
        data = read_at_most(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    return decode(data, shown)


def read_stream(stream, shown: str = "<stdin>") -> str:
    """A spec from a binary stream (`archdsl analyze -` reads standard input), at most the limit + 1 bytes."""
    data = stream.read(MAX_FILE_BYTES + 1)
    return decode(data, shown)


def read_at_most(fd: int, limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def decode(data: bytes, shown: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); the size limit and bad bytes are errors
    with the position of the first bad byte."""
    if len(data) > MAX_FILE_BYTES:
        source = Source(shown, data[:200].decode("utf-8", "replace"))
        raise LimitError(f"the spec is larger than the limit of {MAX_FILE_BYTES:,} bytes",
                         Span(source, 1, 1, 1, 2), code="E0601")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        offset = err.start
        line = data.count(b"\n", 0, offset) + 1
        start = data.rfind(b"\n", 0, offset) + 1
        end = data.find(b"\n", offset)
        text = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace")
        column = len(data[start:offset].decode("utf-8", "replace")) + 1
        source = Source(shown, "\n" * (line - 1) + text)
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise SyntaxErr(f"the file is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset:,} is not valid UTF-8",
                        Span(source, line, column, line, column + 1),
                        "it looks like UTF-16: save it as UTF-8" if utf16 else "save the spec as UTF-8", code="E0003") from None
