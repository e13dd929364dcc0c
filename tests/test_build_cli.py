"""`archdsl build` as a user runs it: summary, --check, -o .py/.pt2/.onnx, --weights, --optimize."""
import importlib.util
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

import archdsl  # noqa: E402
from archdsl.cli import main  # noqa: E402

from .conftest import SPECS  # noqa: E402

SMALL = SPECS / "lenet5.arch"


def run(*args):
    return CliRunner().invoke(main, ["build", *map(str, args)])


def run_recording_warnings(*args):
    """The command's result and every warning it raised (none filtered)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(*args)
    return result, [f"{w.category.__name__}: {w.message}" for w in caught]


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


def test_python_source_names_the_spec_by_a_relative_path(tmp_path):
    target = tmp_path / "model.py"
    result = run(SMALL.resolve(), "-o", target)
    assert result.exit_code == 0, result.output
    head = target.read_text().splitlines()[0]
    assert str(SMALL.resolve()) not in target.read_text()
    assert head.endswith("lenet5.arch.") and not head.split("from ")[1].startswith("/")


def test_export_program_has_a_dynamic_batch(tmp_path):
    target = tmp_path / "model.pt2"
    result = run(SMALL, "-o", target)
    assert result.exit_code == 0, result.output
    assert f"wrote {target} (input (batch, 1, 28, 28), any batch size)" in result.output
    program = torch.export.load(target).module()
    for batch in (1, 2, 5):
        assert program(torch.randn(batch, 1, 28, 28)).shape == (batch, 10)


def test_no_program_or_model_without_weights(tmp_path):
    for name in ("model.pt2", "model.onnx"):
        result = run(SMALL, "--device", "meta", "-o", tmp_path / name)
        assert result.exit_code == 2 and "the file would have no weights" in result.output, result.output
        assert not (tmp_path / name).exists()


def _saved_weights(tmp_path, spec=SMALL):
    built = archdsl.build(spec).eval()
    with torch.no_grad():
        for buf in built.buffers():  # running statistics that make batch norm do something
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    path = tmp_path / "weights.pt"
    torch.save(built.state_dict(), path)
    return built, path


def test_onnx_export_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    built, weights = _saved_weights(tmp_path)
    target = tmp_path / "model.onnx"
    result = run(SMALL, "--weights", weights, "-o", target)
    assert result.exit_code == 0, result.output
    assert "onnx: checked with onnxruntime on a batch of 3: outputs within" in result.output
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"] and [o.name for o in session.get_outputs()] == ["output"]
    assert session.get_inputs()[0].shape[1:] == [1, 28, 28] and isinstance(session.get_inputs()[0].shape[0], str)
    x = torch.randn(4, 1, 28, 28)
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        want = built(x)
    assert (torch.from_numpy(got) - want).abs().max() <= 1e-4 * want.abs().max()


@pytest.mark.parametrize("missing", ["onnx", "onnxscript"])
def test_onnx_export_without_onnx_says_how_to_install_it(tmp_path, monkeypatch, missing):
    if missing == "onnxscript":
        pytest.importorskip("onnx")  # onnx is looked for first
    monkeypatch.setitem(sys.modules, missing, None)  # importing it raises ImportError
    result = run(SMALL, "-o", tmp_path / "model.onnx")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"writing ONNX needs the {missing} package" in result.output and "archdsl[onnx]" in result.output


def test_weights_load_strictly(tmp_path):
    good, bad = tmp_path / "good.pt", tmp_path / "bad.pt"
    state = archdsl.build(SMALL).state_dict()
    torch.save(state, good)
    result = run(SMALL, "--weights", good)
    assert result.exit_code == 0
    assert f"weights: {len(state)} tensors from {good}, every state_dict entry of the spec" in result.output
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
    result, caught = run_recording_warnings(SPECS / "resnet18.arch", "--weights", weights, "--optimize", "inference", "-o", target)
    assert result.exit_code == 0 and "batch norm folded" in result.output, result.output
    assert not [w for w in caught if "No complete tensor found" in w], caught
    program = torch.export.load(target)
    assert not any("batch_norm" in str(n.target) for n in program.graph.nodes)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        want, got = built(x), program.module()(x)
    assert (want - got).abs().max() <= 1e-4 * want.abs().max()


def test_optimize_inference_summary_counts_the_onednn_weights():
    """On the CPU, optimize_for_inference moves convolutions to oneDNN, whose weights are buffers:
    the summary still counts them (ResNet-18 folded: 11,689,512 - 9,600 batch norm + 4,800 conv
    biases), keeps the network's class name and shows torch's deprecation of script_method to nobody."""
    result, caught = run_recording_warnings(SPECS / "resnet18.arch", "--optimize", "inference")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Resnet18: 11,684,712 parameters (for inference only) on cpu, float32\n")
    assert "  conv1                    MkldnnConv2d                  9,472" in result.output
    assert not [w for w in caught if "script_method" in w], caught


def test_optimize_inference_does_not_write_unfolded_source(tmp_path):
    result = run(SMALL, "--optimize", "inference", "-o", tmp_path / "opt.py")
    assert result.exit_code == 2 and "the source has no weights to fold batch norm into" in result.output
    assert not (tmp_path / "opt.py").exists()


def test_usage_errors():
    result = run(SMALL, "-o", "model.txt")
    assert result.exit_code == 2 and "write a .py" in result.output and ".onnx" in result.output
    result = run(SMALL, "--device", "meta", "--optimize", "inference")
    assert result.exit_code == 2 and "needs real weights" in result.output
    result = run(SMALL, "--weights", "/nonexistent.pt")
    assert result.exit_code == 1 and "cannot read weights" in result.output and "Traceback" not in result.output
