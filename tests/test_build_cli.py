"""`archdsl build` as a user runs it: summary, --check, -o .py/.pt2, --weights, --optimize."""
import importlib.util

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

import archdsl  # noqa: E402
from archdsl.cli import main  # noqa: E402

from .conftest import SPECS  # noqa: E402

SMALL = SPECS / "lenet5.arch"


def run(*args):
    return CliRunner().invoke(main, ["build", *map(str, args)])


def test_summary_and_check():
    result = run(SPECS / "resnet18.arch", "--check")
    assert result.exit_code == 0, result.output
    assert "Resnet18: 11,689,512 parameters (11,689,512 trainable) on cpu, float32" in result.output
    assert "layer4" in result.output
    assert "check: a forward and a backward pass on cpu: 61 layer outputs have the analysis' shapes" in result.output


def test_meta_device_builds_without_weights():
    result = run(SPECS / "vgg16.arch", "--device", "meta")
    assert result.exit_code == 0 and "138,357,544 parameters" in result.output


def test_python_source_output_runs_without_archdsl(tmp_path):
    target = tmp_path / "model.py"
    assert run(SMALL, "-o", target).exit_code == 0
    spec = importlib.util.spec_from_file_location("model", target)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    emitted = mod.Lenet5().eval()
    built = archdsl.build(SMALL).eval()
    emitted.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(emitted(x), built(x), rtol=1e-5, atol=1e-6)


def test_export_program(tmp_path):
    target = tmp_path / "model.pt2"
    assert run(SMALL, "-o", target).exit_code == 0
    program = torch.export.load(target)
    x = torch.randn(1, 1, 28, 28)
    out = program.module()(x)
    assert out.shape == (1, 10)


def test_weights_load_strictly(tmp_path):
    good, bad = tmp_path / "good.pt", tmp_path / "bad.pt"
    state = archdsl.build(SMALL).state_dict()
    torch.save(state, good)
    assert run(SMALL, "--weights", good).exit_code == 0
    state.pop("fc3.bias")
    state["head.weight"] = torch.zeros(3)
    torch.save(state, bad)
    result = run(SMALL, "--weights", bad)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "1 key missing: fc3.bias; 1 key unexpected: head.weight" in result.output


def test_optimize_inference_folds_and_matches(tmp_path):
    """The exported program has no batch norm left and gives the logits of the module it was made from."""
    weights, target = tmp_path / "weights.pt", tmp_path / "fused.pt2"
    built = archdsl.build(SPECS / "resnet18.arch").eval()
    with torch.no_grad():
        for buf in built.buffers():  # running statistics that make the folding do something
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    torch.save(built.state_dict(), weights)
    result = run(SPECS / "resnet18.arch", "--weights", weights, "--optimize", "inference", "-o", target)
    assert result.exit_code == 0 and "batch norm folded" in result.output, result.output
    program = torch.export.load(target)
    assert not any("batch_norm" in str(n.target) for n in program.graph.nodes)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        want, got = built(x), program.module()(x)
    assert (want - got).abs().max() <= 1e-4 * want.abs().max()


def test_usage_errors():
    result = run(SMALL, "-o", "model.onnx")
    assert result.exit_code == 2 and "write a .py" in result.output
    result = run(SMALL, "--device", "meta", "--optimize", "inference")
    assert result.exit_code == 2 and "needs real weights" in result.output
    result = run(SMALL, "--weights", "/nonexistent.pt")
    assert result.exit_code == 1 and "cannot read weights" in result.output and "Traceback" not in result.output
