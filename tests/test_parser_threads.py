"""parse() may run in several threads at once: every span points to the text it was parsed from."""
import threading

from archdsl.errors import LimitError, Span
from archdsl.parser import parse

THREADS, PARSES = 4, 300


def _spans(node):
    if isinstance(node, Span):
        yield node
    elif isinstance(node, tuple):
        for item in node:
            yield from _spans(item)


def _spec(t: int, i: int) -> str:
    if i % 10 == 9:  # the transformer itself raises: a number over the limit
        return f"input {8 + t}x{8 + t}x3\nconv 99999999999999999999{i} 3x3\n"
    return f"input {8 + t}x{8 + t}x3\nblock{t}: conv {i + 1} 3x3 pad=1 act=relu\nrepeat {t + 1} {{\n  maxpool 2x2\n}}\nfc {i + 10}\n"


def _worker(t: int, start: threading.Barrier, wrong: list) -> None:
    start.wait()
    for i in range(PARSES):
        text, path = _spec(t, i), f"thread{t}/spec{i}.arch"
        try:
            program = parse(text, path)
        except LimitError as err:
            spans = [err.span]
        else:
            spans = list(_spans(program.body))
            if program.source.path != path:
                wrong.append((path, program.source.path))
        for span in spans:
            if span.source.path != path or span.source.text != text:
                wrong.append((path, span.source.path))


def test_parallel_parses_keep_their_own_source():
    start, wrong = threading.Barrier(THREADS), []
    threads = [threading.Thread(target=_worker, args=(t, start, wrong)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong, f"{len(wrong)} spans point to another parse's source, e.g. {wrong[0]}"
