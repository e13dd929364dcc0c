"""Bad input: a clear error (file:line:col, the line, a caret, one sentence, a hint), never a
traceback, and every limit reported rather than hit."""
import subprocess
import sys

import pytest

from archdsl.errors import ExpandError, LimitError, ShapeError, SyntaxErr
from archdsl.limits import MAX_FILE_BYTES, MAX_INT, MAX_NESTING, MAX_NODES, MAX_REPEAT

from .helpers import analyze_text, error_of, run_cli


def test_cli_error_has_location_line_caret_and_no_traceback(tmp_path):
    result, path = run_cli(tmp_path, "input 224x224x3\nconv 64 3x3\ncnov 64 3x3\n")
    assert result.exit_code == 1
    out = result.output
    assert f"{path}:3:1: error[E0101]: unknown layer or block 'cnov'" in out
    assert "   3 | cnov 64 3x3" in out
    assert "     | ^^^^" in out
    assert "hint: did you mean 'conv'?" in out
    assert "Traceback" not in out


def test_real_process_prints_no_traceback(tmp_path):
    spec = tmp_path / "bad.arch"
    spec.write_text("input 32x32x3\nconv 8 3x3 /\n")
    proc = subprocess.run([sys.executable, "-m", "archdsl", "analyze", str(spec)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{spec}:2:13: error[E0010]: unexpected end of the line" in proc.stderr


def test_syntax_error_points_at_the_token():
    err = error_of("input 32x32x3\nconv 8 3x3 = 4\n")
    assert isinstance(err, SyntaxErr)
    assert (err.span.line, err.span.column) == (2, 12)
    assert err.message == "unexpected '='"


def test_unclosed_brace():
    err = error_of("input 32x32x3\nfeatures: {\n  conv 8 3x3\n")
    assert isinstance(err, SyntaxErr)
    assert err.hint == "a '{' is not closed"


def test_unknown_block_suggests_defined_blocks():
    err = error_of("def bottleneck(c) { conv c 1x1 }\ninput 32x32x3\nbottlenek 64\n")
    assert "did you mean 'bottleneck'?" in err.hint


def test_unknown_option_suggests_the_right_one():
    err = error_of("input 32x32x3\nconv 8 3x3 padding=1\n")
    assert err.message == "conv has no option 'padding'"
    assert "'pad'" in err.hint


def test_swapped_input_shape():
    err = error_of("input 3x224x224\nconv 8 3x3\n")
    assert "looks swapped" in err.message
    assert "input 224x224x3" in err.hint


def test_batch_first_input_as_torchinfo_writes_it():
    err = error_of("input 1x3x32x32\nconv 16 3x3 pad=1\n")
    assert isinstance(err, ExpandError) and err.span.line == 1
    assert err.message == ("the input 1x3x32x32 reads as 1 deep and 3 high with 32 channels: "
                           "it looks like PyTorch's (batch, channels, height, width)")
    assert "no batch dimension" in err.hint and err.hint.endswith("write `input 32x32x3`")
    assert "write `input 28x28x1`" in error_of("input 1x1x28x28\nconv 8 3\n").hint
    # not batch first: a real 3D input, and a 2D one that happens to start with 1
    analyze_text("input 1x32x32x3\nconv 8 1x3x3")
    analyze_text("input 1x64x3\nconv 8 1x3")


def test_size_reaching_zero_of_a_batch_first_input_says_so():
    err = error_of("input 1x1x8000\nconv 16 80 /4\n")  # PyTorch's (1, 1, 8000): read as 1x1 with 8000 channels
    assert isinstance(err, ShapeError) and "reaches zero" in err.message and err.span.line == 2
    assert err.hint == ("archdsl's input has no batch dimension (--batch sets the batch size) and is written channels "
                        "last, as the slides do: for PyTorch's (1, 1, 8000) write `input 8000x1`")
    err = error_of("input 1x64x56x56\nconv 16 3x3\n")  # 64 channels: not caught at the input, caught here
    assert isinstance(err, ShapeError) and "write `input 56x56x64`" in err.hint
    # not batch first: the op's hint
    for spec in ("input 2x2x3\nconv 8 3x3", "input 1x64x3\nconv 8 3x3", "input 1x112x112x3\nconv 8 3x3x3"):
        assert "too small for this kernel" in error_of(spec).hint, spec


def test_batch_first_input_on_the_command_line(tmp_path):
    result, _ = run_cli(tmp_path, "input 32x32x3\nconv 8 3x3\n", "--input", "1x3x64x64")
    assert result.exit_code == 1
    assert result.output.startswith("error[E0305]: --input 1x3x64x64: the input 1x3x64x64 reads as 1 deep")
    assert "write `--input 64x64x3`" in result.output and "Traceback" not in result.output


def test_output_size_reaching_zero():
    err = error_of("input 5x5x3\nconv 8 7x7\n")
    assert isinstance(err, ShapeError)
    assert "reaches zero" in err.message
    assert err.span.line == 2


def test_merge_of_mismatched_shapes_names_both():
    err = error_of("input 32x32x3\nadd {\n  conv 8 3x3 pad=1\n  conv 16 3x3 pad=1\n}\n")
    assert isinstance(err, ShapeError)
    assert "[32x32x8]" in err.message and "[32x32x16]" in err.message


def test_concat_of_mismatched_sizes_names_both():
    err = error_of("input 32x32x3\nconcat {\n  conv 8 3x3 pad=1\n  conv 8 3x3 /2 pad=1\n}\n")
    assert "[32x32x8]" in err.message and "[16x16x8]" in err.message


def test_failed_shape_assertion_says_expected_and_inferred():
    err = error_of("input 227x227x3\n[56x56x96] conv1: conv 96 11x11 /4\n")
    assert isinstance(err, ShapeError)
    assert err.message == "conv1 gives [55x55x96], but the spec expects [56x56x96]"
    assert err.span.line == 2 and err.span.column == 1


def test_stride_that_does_not_fit_warns_like_the_slide():
    from .helpers import analyze_text

    a = analyze_text("input 7x7x1\nconv 1 3x3 /3\n")
    (warning,) = a.warnings
    assert "(7 + 2*0 - 3)/3 + 1 = 2.33" in warning.message
    assert "the last 1 row and column of its input are never read" in warning.message


def test_no_input():
    err = error_of("conv 8 3x3\n")
    assert "no input" in err.message and "input 224x224x3" in err.hint


def test_name_reused_for_a_layer_with_weights():
    err = error_of("input 8x8x3\nc: conv 8 3x3 pad=1\nc: conv 8 3x3 pad=1\n")
    assert "already used" in err.message


def test_unknown_reference():
    err = error_of("input 8x8x3\nenc1: conv 8 3x3\nconcat {\n  @enc2\n  identity\n}\n")
    assert "no tensor named 'enc2'" in err.message
    assert "'enc1'" in err.hint


def test_block_argument_errors():
    err = error_of("def b(c, k=3) { conv c k }\ninput 8x8x3\nb\n")
    assert err.message == "block 'b' needs c"
    err = error_of("def b(c, k=3) { conv c k }\ninput 8x8x3\nb 4 kk=2\n")
    assert "no parameter 'kk'" in err.message and "'k'" in err.hint


def test_set_of_unknown_constant():
    import archdsl

    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load("let classes = 10\ninput 4\nfc classes\n", set={"clases": "5"})
    assert "no constant named 'clases'" in info.value.message
    assert "'classes'" in info.value.hint


# ---- limits: reported before anything big is built ----------------------------------------------

def test_file_size_limit():
    err = error_of("input 4\n" + "#" * MAX_FILE_BYTES + "\n")
    assert isinstance(err, LimitError) and "bytes" in err.message


def test_nesting_limit():
    depth = MAX_NESTING + 1
    err = error_of("input 4\n" + "{ " * depth + "relu" + " }" * depth + "\n")
    assert isinstance(err, LimitError) and "nested more than" in err.message


def test_huge_literal():
    err = error_of(f"input 4\nfc {MAX_INT + 1}\n")
    assert isinstance(err, LimitError) and "larger than the limit" in err.message
    err = error_of("input 4\nfc " + "9" * 5000 + "\n")
    assert isinstance(err, LimitError)


def test_huge_computed_value():
    err = error_of("let a = 100000\nlet b = a * a\ninput 4\nfc b\n")
    assert isinstance(err, LimitError)


def test_repetition_limit():
    err = error_of(f"input 4\nfc 4 x{MAX_REPEAT + 1}\n")
    assert isinstance(err, LimitError)
    err = error_of(f"input 4\nrepeat {MAX_REPEAT + 1} {{ fc 4 }}\n")
    assert isinstance(err, LimitError)


def test_expansion_limit_from_a_tiny_file():
    # x10 nested five deep would be 100k layers; the limit stops it with a location
    text = "input 4\n" + "def l0 { fc 4 }\n" + "".join(f"def l{i} {{ l{i - 1} x10 }}\n" for i in range(1, 7)) + "l6\n"
    err = error_of(text)
    assert isinstance(err, LimitError)
    assert f"more than {MAX_NODES:,} layers" in err.message


def test_recursive_blocks():
    err = error_of("def a { b }\ndef b { a }\ninput 4\na\n")
    assert isinstance(err, ExpandError)
    assert "block 'a' calls itself (a -> b -> a)" == err.message


def test_import_cycle(tmp_path):
    (tmp_path / "a.arch").write_text('use "b.arch"\n')
    (tmp_path / "b.arch").write_text('use "a.arch"\n')
    (tmp_path / "net.arch").write_text('use "a.arch"\ninput 4\nfc 2\n')
    import archdsl

    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(tmp_path / "net.arch")
    assert "import cycle: a.arch -> b.arch -> a.arch" in info.value.message


def test_library_files_hold_only_definitions(tmp_path):
    (tmp_path / "lib.arch").write_text("def b { relu }\nconv 8 3x3\n")
    (tmp_path / "net.arch").write_text('use "lib.arch"\ninput 4\nfc 2\n')
    import archdsl

    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(tmp_path / "net.arch")
    assert "only def, let and use" in info.value.message
    assert info.value.span.source.path.endswith("lib.arch")


def test_usage_errors_exit_2(tmp_path):
    result, _ = run_cli(tmp_path, "let n = 3\ninput 4\nfc n\n", "--set", "n")
    assert result.exit_code == 2
    assert "--set NAME=VALUE" in result.output
    result, _ = run_cli(tmp_path, "input 4\nfc 2\n", "--depth", "0")
    assert result.exit_code == 2


def test_missing_file(tmp_path):
    from click.testing import CliRunner

    from archdsl.cli import main

    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "nope.arch")])
    assert result.exit_code == 2 and "no such file" in result.output and "Traceback" not in result.output
