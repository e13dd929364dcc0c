"""IR -> torch.nn.Module: the only place, with the code it generates, that imports torch.

Every layer of the analysis becomes a submodule at its name (`layer1.0.conv1`), so module paths,
analysis rows and `state_dict` keys are one thing. The forward pass is a torch.fx graph: fx
generates a straight-line `forward` (no loops over layers, no string lookups, no shape checks),
which `torch.compile` and `torch.export` take without graph breaks.
"""
from __future__ import annotations

import contextlib
import logging
import operator
import os
import warnings

import torch
import torch.fx as fx
from torch import nn

from ..errors import ArchError
from ..figures import DTYPE_BYTES, total
from ..ir import Graph
from ..ops import OPS
from ..ops.lowering import Lowering
from . import layers

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


class BuildError(ArchError):
    phase = "build"


def make_layer(lowering: Lowering, resolved: dict, inplace: bool) -> nn.Module:
    """The PyTorch module of one analysed layer: its op's lowering, instantiated."""
    name = lowering.layer_name(resolved)
    cls = getattr(nn, name[3:]) if name.startswith("nn.") else getattr(layers, name)
    kwargs = {p.name: value for p, value in lowering.arguments(resolved)}
    if lowering.inplace and inplace:
        kwargs["inplace"] = True
    return cls(**kwargs)


def to_graph_module(graph: Graph, device="cpu") -> fx.GraphModule:
    """The analysed network as an fx.GraphModule: submodules at the analysis names, forward as fx
    code. A checkpointed block (`checkpoint NAME`) is a GraphModule of its own at its name, with
    the same submodules, which the forward calls through torch.utils.checkpoint."""
    root = nn.Module()
    code = fx.Graph()
    env = {0: code.placeholder("x")}
    made: set[str] = set()
    blocks: dict[str, list] = {}
    for node in graph.nodes[1:]:
        if node.checkpoint:
            blocks.setdefault(node.checkpoint, []).append(node)
    readers = graph.consumers()
    with torch.device(device):
        for node in graph.nodes[1:]:
            if not node.checkpoint:
                _emit(root, code, env, node, node.name, made)
            elif node is blocks[node.checkpoint][0]:
                _emit_checkpointed(root, code, env, blocks[node.checkpoint], node.checkpoint, made, readers, graph.outputs)
    outputs = [env[o] for o in graph.outputs]
    code.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    module = fx.GraphModule(root, code, class_name=_class_name(graph.name))
    for path, names in graph.registration.items():  # `register`: these children first, in this order
        owner = module.get_submodule(path)
        owner._modules = {**{n: owner._modules[n] for n in names}, **owner._modules}
    for node in graph.nodes:
        if node.frozen and node.name in made:
            module.get_submodule(node.name).requires_grad_(False)
        elif node.frozen and OPS[node.op].lowering.call == "parameter":
            module.get_parameter(node.name).requires_grad_(False)
    return module


def _emit(root: nn.Module, code: fx.Graph, env: dict, node, target: str, made: set) -> None:
    """One layer into `code`: its lowering's call, its submodule (or parameter) installed on
    `root` at `node.name`, called as `target` (its name relative to the module `code` becomes)."""
    lowering = OPS[node.op].lowering
    args = [env[i] for i in node.inputs]
    if lowering.call == "cat":
        env[node.id] = code.call_function(torch.cat, (args, 1))
        return
    if lowering.call == "mul":  # one new tensor (`scale * input`), the further branches into it
        out = code.call_function(operator.mul, (args[0], args[1]))
        for other in args[2:]:
            out = code.call_method("mul_", (out, other))
        env[node.id] = out
        return
    if lowering.call == "parameter":  # a learned tensor of the enclosing module, with the input
        _install_parameter(root, node.name, lowering, node.resolved)
        param = code.get_attr(target)
        if lowering.combine == "mul":
            env[node.id] = code.call_function(operator.mul, (param, args[0]))
        elif lowering.combine == "add":
            env[node.id] = code.call_function(operator.add, (args[0], param))
        else:
            env[node.id] = code.call_function(layers.prepend, (param, args[0]))
        return
    if lowering.call == "add":  # in place into the first branch where the analysis says so (`out += identity`)
        out = args[0]
        for other in args[1:]:
            out = code.call_method("add_", (out, other)) if node.inplace else code.call_function(operator.add, (out, other))
        env[node.id] = out
        return
    if node.name not in made:  # a parameter-free layer may be applied twice under one name
        _install(root, node.name, make_layer(lowering, node.resolved, node.inplace))
        made.add(node.name)
    x = args[0]
    if lowering.flattens(node.resolved):
        x = code.call_function(torch.flatten, (x, 1))
    env[node.id] = code.call_module(target, (x,))


def _emit_checkpointed(root, code, env, nodes: list, path: str, made: set, readers: list, outputs: list) -> None:
    """A checkpointed block: its layers in a GraphModule of their own at `path` (their names
    relative to it), called as `torch.utils.checkpoint.checkpoint(block, *inputs, use_reentrant=False)`."""
    from torch.utils.checkpoint import checkpoint

    ids = {n.id for n in nodes}
    inputs = list(dict.fromkeys(i for n in nodes for i in n.inputs if i not in ids))
    results = [n.id for n in nodes if n.id in outputs or any(r not in ids for r in readers[n.id])]
    sub = fx.Graph()
    inner = {i: sub.placeholder(f"x{k}") for k, i in enumerate(inputs)}
    for node in nodes:
        _emit(root, sub, inner, node, node.name[len(path) + 1:] if node.name != path else "", made)
    sub.output(inner[results[0]] if len(results) == 1 else tuple(inner[r] for r in results))
    if not (len(nodes) == 1 and nodes[0].name == path):  # a block, not one layer (called as it is)
        try:
            owner = root.get_submodule(path)
        except AttributeError:  # a block of merges only: nothing to own
            owner = nn.Module()
        _install(root, path, fx.GraphModule(owner, sub, class_name="Checkpointed"))
    block_call = code.get_attr(path)
    out = code.call_function(checkpoint, (block_call, *(env[i] for i in inputs)), {"use_reentrant": False})
    if len(results) == 1:
        env[results[0]] = out
    else:
        for k, r in enumerate(results):
            env[r] = code.call_function(operator.getitem, (out, k))


def _install(root: nn.Module, path: str, module: nn.Module) -> None:
    *parents, leaf = path.split(".")
    owner = root
    for part in parents:
        if not hasattr(owner, part):
            owner.add_module(part, nn.Module())
        owner = getattr(owner, part)
    owner.add_module(leaf, module)


def _install_parameter(root: nn.Module, path: str, lowering: Lowering, resolved: dict) -> None:
    """A parameter at `path` (`features.1.0.layer_scale`), made by its lowering's function of
    layers.py: on the module that owns it, which state_dict lists before its submodules, as
    PyTorch does for any module's own parameters."""
    *parents, leaf = path.split(".")
    owner = root
    for part in parents:
        if not hasattr(owner, part):
            owner.add_module(part, nn.Module())
        owner = getattr(owner, part)
    owner.register_parameter(leaf, getattr(layers, lowering.layer)(*(v for _, v in lowering.arguments(resolved))))


def _class_name(name: str) -> str:
    words = [w for w in "".join(c if c.isalnum() else " " for c in name).split() if w]
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    return text if text[0].isalpha() else "Net" + text


def check_fits(param_bytes: int, device: str) -> None:
    """Refuse, before allocating, parameters that cannot fit in the device's free memory."""
    dev = torch.device(device)
    if dev.type == "meta":
        return
    if dev.type == "cuda":
        free = torch.cuda.mem_get_info(dev)[0]
    else:
        free = _available_host_memory()
        if free is None:
            return
    if param_bytes > free:
        raise BuildError(
            f"the parameters need {param_bytes / 1e9:,.1f} GB but {dev} has {free / 1e9:,.1f} GB free",
            hint="build on --device meta to inspect the module without allocating it",
            code="E0703",
        )


def _available_host_memory() -> int | None:
    """The memory this process may still allocate: the machine's available memory, or less where
    the process' address-space limit (RLIMIT_AS, `ulimit -v`) or its cgroup's limit says so."""
    limits = [_meminfo_available(), _address_space_left(), _cgroup_left()]
    known = [n for n in limits if n is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        return max(0, soft - used)
    except (ImportError, OSError, ValueError, IndexError, AttributeError):
        return None


def _cgroup_left() -> int | None:
    """cgroup v2 (memory.max, memory.current) or v1 (limit_in_bytes, usage_in_bytes) of this process."""
    pairs = [("/sys/fs/cgroup{}/memory.max", "/sys/fs/cgroup{}/memory.current"),
             ("/sys/fs/cgroup/memory{}/memory.limit_in_bytes", "/sys/fs/cgroup/memory{}/memory.usage_in_bytes")]
    try:
        with open("/proc/self/cgroup") as f:
            entries = [line.strip().split(":", 2) for line in f if line.strip()]
    except OSError:
        return None
    for hierarchy, controllers, path in entries:
        v2 = hierarchy == "0" and controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        limit_file, usage_file = pairs[0 if v2 else 1]
        for where in (path, ""):  # inside a container the process' cgroup is the root of the mount
            try:
                with open(limit_file.format(where)) as f:
                    text = f.read().strip()
                with open(usage_file.format(where)) as f:
                    used = int(f.read().strip())
            except (OSError, ValueError):
                continue
            if text == "max" or int(text) >= 1 << 60:  # v1 writes "no limit" as a huge number
                return None
            return max(0, int(text) - used)
    return None


def build(graph: Graph, device="cpu", dtype="float32", memory_format=None) -> fx.GraphModule:
    """A trainable module for the analysed graph on `device`, in `dtype`, optionally channels_last."""
    if not graph.analysed:
        raise ValueError("build() takes an analysed graph (Network.analysed())")
    if dtype not in DTYPES:
        raise BuildError(f"unknown dtype '{dtype}'", hint="one of " + ", ".join(DTYPES), code="E0705")
    if device == "cuda" and not torch.cuda.is_available():
        raise BuildError("there is no CUDA device here", hint="build with --device cpu", code="E0705")
    itemsize = torch.empty((), dtype=DTYPES[dtype]).element_size()
    for node in graph.nodes[1:]:  # PyTorch counts a tensor's bytes in 64 bits
        if node.figures["params"] * max(itemsize, DTYPE_BYTES["float32"]) >= 1 << 63:
            raise BuildError(f"{node.name} has {node.figures['params']:,} parameters: more than one PyTorch tensor can hold",
                             node.span, "such a layer can be analysed but not built", code="E0703")
    params = total(graph, "params")
    check_fits(params * DTYPE_BYTES["float32"], device)
    module = to_graph_module(graph, device)
    if dtype != "float32":
        module = module.to(DTYPES[dtype])
    if memory_format == "channels_last":
        if any(p.dim() == 5 for p in module.parameters()):
            raise BuildError("--channels-last stores 4D weights (2D layers) channels_last; this network has 5D weights "
                             "(3D layers)", hint="build it without --channels-last", code="E0705")
        module = module.to(memory_format=torch.channels_last)
    elif memory_format not in (None, "contiguous"):
        raise BuildError(f"unknown memory format '{memory_format}'", hint="channels_last or contiguous", code="E0705")
    return module


@contextlib.contextmanager
def _quiet_script_method():
    """torch.utils.mkldnn (the oneDNN layers of torch.fx's optimize_for_inference) defines its
    methods with torch.jit.script_method, which torch deprecates: a FutureWarning or a
    DeprecationWarning, by torch version, at import and when the pass runs. Not the user's to fix."""
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script_method` is deprecated", category=category)
        yield


def optimize_for_inference(module: fx.GraphModule, portable: bool = False) -> fx.GraphModule:
    """An eval-only module: batch norm folded into the conv or fc before it, dropout removed
    (torch.fx's passes). On the CPU, unless `portable` (for torch.export), torch.fx's
    optimize_for_inference also moves the convolutions to oneDNN (MKL-DNN) layouts where its
    heuristic says it pays; on a GPU the module goes channels_last."""
    import copy

    with _quiet_script_method():
        from torch.fx.experimental import optimization  # imports torch.utils.mkldnn

    name = type(module).__name__
    module = copy.deepcopy(module).eval()
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    if device.type == "cpu" and not portable:
        # oneDNN subgraphs take `+` but not `add_`: in an eval-only module the in-place residual
        # adds go back to `+` so that whole blocks stay in oneDNN layouts
        for node in list(module.graph.nodes):
            if node.op == "call_method" and node.target == "add_":
                with module.graph.inserting_after(node):
                    plain = module.graph.call_function(operator.add, node.args)
                node.replace_all_uses_with(plain)
                module.graph.erase_node(node)
        module.recompile()
        with _quiet_script_method():
            module = optimization.optimize_for_inference(module)
    else:
        module = optimization.remove_dropout(optimization.fuse(module)).to(memory_format=torch.channels_last)
    type(module).__name__ = type(module).__qualname__ = name  # fx's passes make a new GraphModule class
    return module


def parameter_count(module: nn.Module) -> tuple[int, int]:
    """(parameters, trainable ones). After `optimize_for_inference` on the CPU, the weights of the
    oneDNN layers (torch.utils.mkldnn: MkldnnConv2d, MkldnnLinear, ...) are buffers, not
    parameters: they count as parameters here, and as not trainable."""
    total = trainable = 0
    for p in module.parameters():
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    for sub in module.modules():
        if type(sub).__module__ == "torch.utils.mkldnn":
            total += sum(b.numel() for name, b in sub.named_buffers(recurse=False) if name in ("weight", "bias"))
    return total, trainable


def check(module: nn.Module, graph: Graph, device: str = "cpu", batch: int = 2) -> int:
    """A forward and a backward pass on random input; every layer's real output shape must be the
    analysis' shape. Returns how many layer calls were checked; raises BuildError on a difference."""
    expected: dict[str, list[tuple]] = {}
    for node in graph.nodes[1:]:
        if OPS[node.op].lowering.call == "module":
            expected.setdefault(node.name, []).append(node.shape)
    seen: dict[str, list[tuple]] = {}
    handles = []
    for name, sub in module.named_modules():
        if name in expected:
            handles.append(sub.register_forward_hook(
                lambda mod, args, out, name=name: seen.setdefault(name, []).append(tuple(out.shape[1:]))))
    dtype = next((p.dtype for p in module.parameters()), torch.float32)
    x = torch.randn((batch, *graph.nodes[0].shape), device=device, dtype=dtype, requires_grad=True)
    try:
        module.train()
        out = module(x)
        for h in handles:  # a checkpointed block runs its layers again in backward
            h.remove()
        outs = out if isinstance(out, tuple) else (out,)
        sum(o.float().sum() for o in outs).backward()
    finally:
        for h in handles:
            h.remove()
    for name, want in expected.items():
        if seen.get(name) != want:
            raise BuildError(f"{name}: the module gives {seen.get(name)} but the analysis says {want}", code="E0707")
    if x.grad is None:
        raise BuildError("the backward pass did not reach the input", code="E0707")
    return sum(len(v) for v in seen.values())


def load_weights(module: nn.Module, path: str) -> None:
    """Load a saved state_dict strictly, saying which keys are missing, unexpected or misshapen."""
    import pickle
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise BuildError(f"--weights {path} is not a regular file (a folder, a device or a pipe)", code="E0704")
    except OSError as err:
        raise BuildError(f"cannot read weights from {path}: {err.strerror}", code="E0704") from None
    not_checkpoint = BuildError(f"{path} is not a PyTorch checkpoint",
                                hint="--weights reads a state_dict saved with torch.save(module.state_dict(), FILE)", code="E0704")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        raise BuildError(f"cannot read weights from {path}: {err.strerror or err}", code="E0704") from None
    except (RuntimeError, ValueError, EOFError, IndexError, KeyError, TypeError, AttributeError,
            pickle.UnpicklingError, UnicodeDecodeError, MemoryError):  # what torch.load raises on other files
        raise not_checkpoint from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise not_checkpoint
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshapen = [f"{k} {tuple(state[k].shape)} (the module has {tuple(own[k].shape)})"
                 for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or misshapen:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", misshapen)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
                parts.append(f"{len(keys)} key{'s' if len(keys) != 1 else ''} {what}: {shown}")
        raise BuildError(f"the weights in {path} do not fit the spec: " + "; ".join(parts),
                         hint="the spec's layer names are the state_dict keys (see `archdsl analyze`)", code="E0704")
    module.load_state_dict(state, strict=True)
    return len(state)


def _example(module: nn.Module, input_shape: tuple, device: str, batch: int = 2) -> torch.Tensor:
    """A random input batch in the module's dtype. Batch 2, not 1: torch.export specialises a
    dimension whose example size is 0 or 1."""
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float32)
    return torch.randn((batch, *input_shape), device=device, dtype=dtype)


def _refuse_meta(module: nn.Module, what: str) -> None:
    if any(t.is_meta for t in (*module.parameters(), *module.buffers())):
        raise BuildError(f"{what} of a module on the meta device would have no weights",
                         hint="build on --device cpu (or cuda) to write it", code="E0705")


def _batch_dim():
    return {"x": {0: torch.export.Dim("batch", min=1)}}


def export_program(module: nn.Module, input_shape: tuple, path: str, device: str = "cpu") -> None:
    """A torch.export program (.pt2) of the module in eval mode: the batch dimension is dynamic
    (any size from 1 up), the others are the analysis' input size (`--input` sets it)."""
    _refuse_meta(module, "a torch.export program")
    try:
        program = torch.export.export(module.eval(), (_example(module, input_shape, device),), dynamic_shapes=_batch_dim())
    except Exception as err:  # torch's own message, first line: the cause, without its traceback
        raise BuildError(f"torch.export could not export the module: {str(err).splitlines()[0]}", code="E0706") from None
    with warnings.catch_warnings():
        # torch.export.save groups tensors that share storage (a folded conv's weight and bias)
        # and warns that it keeps the first when none covers the storage: harmless here
        warnings.filterwarnings("ignore", message="No complete tensor found in the group", category=UserWarning)
        torch.export.save(program, path)


@contextlib.contextmanager
def _quiet_onnx_exporter():
    """torch.onnx's exporter logs that torchvision is not installed (it registers torchvision's
    operators where it is) and says what it does step by step: neither is for the user."""
    names = ["torch.onnx._internal.exporter._registration", "torch.onnx._internal.exporter._core",
             "torch.onnx"]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings(), open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def export_onnx(module: nn.Module, input_shape: tuple, path: str, device: str = "cpu") -> str:
    """An ONNX model (torch.onnx.export, the torch.export-based exporter; needs the `onnx` and
    `onnxscript` packages: archdsl[onnx]) with a dynamic batch dimension, input `input`, outputs
    `output` (`output0`, `output1`, ... for several). Where onnxruntime is installed, the model is
    run on a fresh batch of 3 and its outputs compared with the module's. Returns what the check
    found, in words."""
    _refuse_meta(module, "an ONNX model")
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise BuildError(f"writing ONNX needs the {package} package, which is not installed",
                             hint="pip install 'archdsl[onnx]' (onnx, onnxscript and onnxruntime)", code="E0706") from None
    module = module.eval()
    example = _example(module, input_shape, device)
    with torch.no_grad():
        probe = module(example)
    count = len(probe) if isinstance(probe, tuple) else 1
    names = ["output"] if count == 1 else [f"output{k}" for k in range(count)]
    try:
        with _quiet_onnx_exporter():
            torch.onnx.export(module, (example,), path, input_names=["input"], output_names=names,
                              dynamic_shapes=_batch_dim(), dynamo=True, external_data=False)
    except Exception as err:  # torch's own message, first line
        raise BuildError(f"torch.onnx could not export the module: {str(err).splitlines()[0]}", code="E0706") from None
    return check_onnx(module, path, input_shape, device)


def check_onnx(module: nn.Module, path: str, input_shape: tuple, device: str = "cpu", batch: int = 3) -> str:
    """Run the ONNX model with onnxruntime (CPU) on a random batch and compare its outputs with the
    module's: within 1e-4 of the largest output (1e-2 in half precision)."""
    try:
        import onnxruntime
    except ImportError:
        return "not checked: onnxruntime is not installed"
    x = _example(module, input_shape, device, batch)
    with torch.no_grad():
        want = module(x)
    want = [t.float().cpu() for t in (want if isinstance(want, tuple) else (want,))]
    try:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x.cpu().numpy() if x.dtype != torch.bfloat16 else x.float().cpu().numpy()})
    except Exception as err:  # onnxruntime lacks a kernel (bfloat16 on the CPU): say so, do not fail
        text = str(err).splitlines()[0]
        return f"not checked: onnxruntime cannot run it ({text[:100]}{'...' if len(text) > 100 else ''})"
    tolerance = 1e-4 if x.dtype in (torch.float32, torch.float64) else 1e-2
    worst = 0.0
    for w, g in zip(want, got):
        g = torch.from_numpy(g).float()
        if tuple(g.shape) != tuple(w.shape):
            raise BuildError(f"the ONNX model gives shape {tuple(g.shape)} where the module gives {tuple(w.shape)}", code="E0706")
        scale = max(w.abs().max().item(), 1e-12)
        worst = max(worst, (g - w).abs().max().item() / scale)
    if worst > tolerance:
        raise BuildError(f"the ONNX model's outputs differ from the module's by {worst:.1e} of the largest output", code="E0706")
    return f"checked with onnxruntime on a batch of {batch}: outputs within {worst:.1e} of the module's"
