"""What a `network` statement records (`network resnet50 top1=76.13`): parsed by the grammar,
checked by the expander, kept on the graph, and no obstacle to the library's one-line summary."""
import pytest

import archdsl
from archdsl import library

from .helpers import error_of


def records(text: str) -> dict:
    return archdsl.load(text + "\ninput 8\nfc 2\n").graph.records


def test_recorded():
    assert records("network n top1=76.13") == {"top1": 76.13}
    assert records("network n top1=70") == {"top1": 70.0}
    assert records("let acc = 71.5\nnetwork n top1=acc") == {"top1": 71.5}
    assert records("network n") == {} and archdsl.load("input 4\nfc 2\n").graph.records == {}
    net = archdsl.load("network n top1=50  # what it is\ninput 8\nfc 2\n")
    assert net.name == "n" and net.graph.records == {"top1": 50.0}
    assert net.analyze().totals["params"] == 8 * 2 + 2  # the record changes nothing else


@pytest.mark.parametrize("line, message, column", [
    ("network n acc=76", "a network records top1, not 'acc'", 11),
    ("network n top=76", "a network records top1, not 'top'", 11),
    ("network n top1=176", "top1 is a percentage from 0 to 100, such as top1=76.13", 11),
    ("network n top1=-1", "top1 is a percentage from 0 to 100, such as top1=76.13", 11),
    ("network n top1=best", "unknown name 'best'", 16),
    ("network n top1=yes", "top1 is a percentage from 0 to 100, such as top1=76.13", 11),
    ("network n top1=1 top1=2", "'top1' is recorded twice", 18),
])
def test_errors_are_located(line, message, column):
    err = error_of(line + "\ninput 8\nfc 2")
    assert err.message == message
    assert (err.span.line, err.span.column) == (1, column)


def test_a_misspelt_record_gets_a_hint():
    assert error_of("network n top=76\ninput 8\nfc 2").hint == "did you mean 'top1'?"


def test_not_a_syntax_of_other_statements():
    err = error_of("input 8 top1=5\nfc 2")
    assert isinstance(err, archdsl.ArchError) and err.span.line == 1


def test_the_library_summary_comes_after_the_records():
    assert library.summary("network n top1=76.13  # what it is\n") == "what it is"
    assert library.summary("network n  # what it is\n") == "what it is"
    assert library.summary("network n top1=76.13\n") == ""
