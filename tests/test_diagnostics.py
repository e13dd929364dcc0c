"""Diagnostics (issue 12): a code on every error, "expanded from" notes through block calls, `for`
loops and `use` (innermost first, outermost last), and several errors in one run where the
parser, the expander or the shape pass can go on (docs/errors.md, "How a diagnostic reads")."""
import time

import archdsl
from archdsl.errors import ExpandError, LimitError, ShapeError, SyntaxErr
from archdsl.limits import MAX_ERRORS, MAX_ERRORS_FOUND

from .helpers import error_of, run_cli


def codes(err):
    return [(e.code, e.span.line) for e in err.errors]


# ---- codes and the format --------------------------------------------------------------------------

def test_error_line_carries_the_code(tmp_path):
    result, path = run_cli(tmp_path, "input 8\ncnov 3\n")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{path}:2:1: error[E0101]: unknown layer or block 'cnov'"


def test_command_line_error_carries_the_code(tmp_path):
    result, _ = run_cli(tmp_path, "input 8\nfc 3\n", "--depth", "0")
    assert result.exit_code == 2 and result.output.startswith("error[E0901]: --depth must be at least 1, not 0")


def test_warning_carries_the_code(tmp_path):
    result, path = run_cli(tmp_path, "input 7x7x3\nconv 8 3 /3\n")
    assert f"{path}:2:1: warning[W0001]: 0: stride 3 does not fit" in result.output


def test_error_as_data():
    err = error_of("def unit { cnov 3 }\ninput 8\nunit\n")
    data = err.to_dict()
    assert data["code"] == "E0101" and data["message"] == "unknown layer or block 'cnov'"
    assert data["location"] == {"file": "<spec>", "line": 1, "column": 12, "end_line": 1, "end_column": 16}
    assert data["expanded_from"] == [{"note": "this call of block 'unit'", "location": {
        "file": "<spec>", "line": 3, "column": 1, "end_line": 3, "end_column": 5}}]


# ---- expanded from ----------------------------------------------------------------------------------

def test_error_in_a_block_body_shows_the_call_that_passed_the_value():
    err = error_of("def stage(c) {\n  conv c 3 act=c\n}\ninput 8x8x3\nstage 16\n")
    assert err.code == "E0201" and err.span.line == 2
    assert [(f.note, f.span.line) for f in err.trace] == [("this call of block 'stage'", 5)]
    lines = err.format().splitlines()
    assert lines[-3:] == ["<spec>:5:1: note: expanded from this call of block 'stage'", "   5 | stage 16", "     | ^^^^^^^^"]


def test_nested_block_calls_innermost_first_outermost_last():
    text = "def inner(c) { conv c 3 pad=1 bias=c }\ndef outer(c) { inner c }\ninput 8x8x3\nouter 4\n"
    err = error_of(text)
    assert [(f.note, f.span.line) for f in err.trace] == [("this call of block 'inner'", 2), ("this call of block 'outer'", 4)]
    shown = err.format()
    assert shown.index("block 'inner'") < shown.index("block 'outer'")


def test_shape_error_in_a_block_shows_its_call_sites():
    text = "def down(c) { conv c 5 /2 }\ninput 8x8x3\ndown 8\ndown 8\ndown 8\n"  # 8 -> 2 -> fails
    err = error_of(text)
    assert isinstance(err, ShapeError) and err.code == "E0501" and err.span.line == 1
    assert [f.span.line for f in err.trace] == [4]  # the second call; the third depends on it


def test_error_in_a_for_loop_names_the_variable():
    err = error_of("input 16x16x3\nfor i in 1..3 {\n  conv 8 (4 - i) // (2 - i)\n}\n")
    assert err.code == "E0208"
    assert [f.note for f in err.trace] == ["this loop, with i = 2"]


def test_error_in_a_used_file_shows_the_use(tmp_path):
    (tmp_path / "lib.arch").write_text("let width = 16 // 0\n")
    (tmp_path / "net.arch").write_text('use "lib.arch"\ninput 8\nfc width\n')
    try:
        archdsl.load(tmp_path / "net.arch")
    except archdsl.ArchError as err:
        assert err.code == "E0208" and err.span.source.path.endswith("lib.arch")
        assert [(f.note, f.span.line) for f in err.trace] == [("this use of 'lib.arch'", 1)]
    else:
        raise AssertionError("no error")


def test_syntax_error_in_a_used_file_shows_the_use(tmp_path):
    (tmp_path / "lib.arch").write_text("def unit { relu ] }\n")
    (tmp_path / "net.arch").write_text('use "lib.arch"\ninput 8\nunit\n')
    result = run_cli(tmp_path, (tmp_path / "net.arch").read_text(), name="net.arch")[0]
    assert "lib.arch:1:17: error[E0010]: unexpected ']'" in result.output
    assert "net.arch:1:1: note: expanded from this use of 'lib.arch'" in result.output


def test_limit_blamed_on_the_outer_loop_has_no_notes():
    err = error_of("def unit { relu x10 }\ninput 8\nrepeat 10000 { unit }\n")
    assert isinstance(err, LimitError) and err.code == "E0607" and err.span.line == 3 and err.trace == ()


def test_many_notes_are_cut_in_the_middle():
    text = "".join(f"def b{i}() {{ b{i + 1} }}\n" for i in range(10)) + "def b10() { cnov }\ninput 8\nb0\n"
    err = error_of(text)
    assert len(err.trace) == 11
    shown = err.format()
    assert shown.count("note: expanded from") == 4 and "note: ... expanded through 7 more" in shown
    assert shown.rstrip().endswith("| ^^")  # the outermost call, `b0`, last


# ---- several errors in one run ------------------------------------------------------------------

def test_several_syntax_errors_in_one_run():
    err = error_of("input 8x8x3\nconv 8 3 ]\nrelu\nconv 8 = 3\nmaxpool 2 $\n")
    assert isinstance(err, SyntaxErr)
    assert codes(err) == [("E0010", 2), ("E0010", 4), ("E0011", 5)]


def test_syntax_errors_one_per_line():
    err = error_of("input 8\nfc 3 ] ] ] = =\n")
    assert codes(err) == [("E0010", 2)]


def test_syntax_error_then_unclosed_brace():
    err = error_of("input 8\nfc 3 ]\nfeatures: {\n  fc 2\n")
    assert codes(err) == [("E0010", 2), ("E0012", 4)] and err.more[0].hint == "a '{' is not closed"


def test_several_expansion_errors_in_one_run():
    text = "input 8x8x3\ncnov 8 3\nconv 8 3 padd=1\nrelu zz=1\nconv 8 widht\nfc 10\n"
    err = error_of(text)
    assert isinstance(err, ExpandError)
    assert codes(err) == [("E0101", 2), ("E0102", 3), ("E0102", 4), ("E0103", 5)]


def test_errors_in_independent_merge_branches():
    err = error_of("input 8x8x3\nconcat {\n  cnov 8 3\n  conv 8 3 padd=1\n  identity\n}\n")
    assert codes(err) == [("E0101", 3), ("E0102", 4)]


def test_shape_errors_in_independent_branches():
    text = "input 8x8x3\nconcat {\n  conv 8 9\n  identity\n  conv 8 11\n}\nfc 10\n"
    err = error_of(text)
    assert isinstance(err, ShapeError)
    assert codes(err) == [("E0501", 3), ("E0501", 5)]  # and nothing for the concat after them


def test_shape_error_after_a_failed_layer_is_not_said():
    err = error_of("input 8x8x3\nconv 8 9\nconv 8 20\nfc 10\n")
    assert codes(err) == [("E0501", 2)]


def test_failed_assertion_then_independent_branch():
    text = "input 8x8x3\nadd {\n  [9x9x3] identity\n  conv 3 20\n}\n"
    err = error_of(text)
    assert codes(err) == [("E0506", 3), ("E0501", 4)]


def test_use_of_a_failed_let_is_not_said_again():
    err = error_of("let c = widht * 2\ninput 8x8x3\nconv c 3\nstage{c}: relu\nfc c\ncnov 3\n")
    assert codes(err) == [("E0103", 1), ("E0101", 6)]


def test_label_of_a_failed_layer_still_names_it():
    err = error_of("input 8x8x3\nstem: conv 8 3 padd=1\nadd {\n  @stem\n  identity\n}\n")
    assert codes(err) == [("E0102", 2)]


def test_error_in_a_loop_is_said_once_and_the_loop_stops():
    start = time.process_time()
    err = error_of("input 8\nrepeat 10000 { repeat 100 { cnov 3 } }\n")
    assert codes(err) == [("E0101", 2)]
    assert time.process_time() - start < 1


def test_error_of_a_block_called_twice_is_said_once():
    err = error_of("def unit { cnov 3 }\ninput 8\nunit\nunit\n")
    assert codes(err) == [("E0101", 1)]


def test_limit_stops_after_the_errors_before_it():
    err = error_of("input 8\ncnov 3\nrelu x20000\ncnov 4\n")
    assert codes(err) == [("E0101", 2), ("E0606", 3)]


def test_at_most_ten_errors_are_shown_and_the_rest_counted():
    text = "input 8\n" + "".join(f"cnov{i} 3\n" for i in range(15))
    err = error_of(text)
    assert len(err.errors) == 15
    shown = err.format()
    assert shown.count("error[E0101]") == MAX_ERRORS == 10
    assert shown.rstrip().endswith("5 more errors not shown")


def test_search_stops_after_a_hundred_errors():
    text = "input 8\n" + "".join(f"cnov{i} 3\n" for i in range(300))
    err = error_of(text)
    assert len(err.errors) == MAX_ERRORS_FOUND and err.stopped
    assert err.format().rstrip().endswith(f"90+ more errors not shown (archdsl stopped looking after {MAX_ERRORS_FOUND})")


def test_syntax_error_search_stops_too():
    err = error_of("input 8\n" + "fc 3 ]\n" * 5000)
    assert len(err.errors) == MAX_ERRORS_FOUND and err.stopped


def test_several_errors_exit_once_with_status_one(tmp_path):
    result, path = run_cli(tmp_path, "input 8\ncnov 3\nfc 3 bad=1\n")
    assert result.exit_code == 1
    assert result.output.count(f"{path}:") == 2 and "\n\n" in result.output


def test_error_in_a_parameter_default_shows_the_call():
    err = error_of("def unit(c = k * 2) { fc c }\ninput 8\nunit\n")
    assert err.code == "E0103" and err.span.line == 1
    assert [(f.note, f.span.line) for f in err.trace] == [("this call of block 'unit'", 3)]


def test_error_in_a_call_argument_has_no_note_of_that_call():
    err = error_of("def unit(c) { fc c }\ninput 8\nunit widht\n")
    assert err.code == "E0103" and err.span.line == 3 and err.trace == ()


def test_freeze_of_a_failed_layer_is_not_said_again():
    err = error_of("input 8x8x3\nstem: conv 8 3 padd=1\nfc 10\nfreeze stem\n")
    assert codes(err) == [("E0102", 2)]


def test_every_syntax_error_of_a_used_file_shows_the_use(tmp_path):
    (tmp_path / "lib.arch").write_text("def unit { relu ] }\ndef other { fc 3 = }\n")
    (tmp_path / "net.arch").write_text('use "lib.arch"\ninput 8\nunit\n')
    try:
        archdsl.load(tmp_path / "net.arch")
    except archdsl.ArchError as err:
        assert [(e.code, e.span.line) for e in err.errors] == [("E0010", 1), ("E0010", 2)]
        assert all([f.note for f in e.trace] == ["this use of 'lib.arch'"] for e in err.errors)
    else:
        raise AssertionError("no error")
