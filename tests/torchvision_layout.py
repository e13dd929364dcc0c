"""The state_dict a PyTorch module built from an analysed spec must have, written from PyTorch's
own module definitions (nn.Conv2d registers weight then bias; BatchNorm adds its running
statistics and num_batches_tracked) and its rule for the order: a module lists its own
parameters (a block's `scale`, `pos_embedding` or `class_token` is one of them) before its submodules, which come in the order
they were registered. Used to check spec names against torchvision's keys."""
from __future__ import annotations


def _own(node) -> list[tuple[str, tuple]]:
    """The parameters and buffers of the module a node becomes, by their names in it."""
    r, op = node.resolved, node.op
    out = []
    if op == "conv":
        out.append(("weight", (r["out_channels"], r["in_channels"] // r["groups"], *r["kernel_size"])))
        if r["bias"]:
            out.append(("bias", (r["out_channels"],)))
    elif op == "convT":
        out.append(("weight", (r["in_channels"], r["out_channels"] // r["groups"], *r["kernel_size"])))
        if r["bias"]:
            out.append(("bias", (r["out_channels"],)))
    elif op == "fc":
        out.append(("weight", (r["out_features"], r["in_features"])))
        if r["bias"]:
            out.append(("bias", (r["out_features"],)))
    elif op == "bn":
        c = r["num_features"]
        if r["affine"]:
            out += [("weight", (c,)), ("bias", (c,))]
        out += [("running_mean", (c,)), ("running_var", (c,)), ("num_batches_tracked", ())]
    elif op == "layernorm":
        if r["affine"]:
            out += [("weight", tuple(r["normalized_shape"])), ("bias", tuple(r["normalized_shape"]))]
    elif op == "layernorm2d":
        if r["affine"]:
            out += [("weight", (r["num_channels"],)), ("bias", (r["num_channels"],))]
    elif op == "groupnorm":
        if r["affine"]:
            out += [("weight", (r["num_channels"],)), ("bias", (r["num_channels"],))]
    elif op == "prelu":
        out.append(("weight", (r["num_parameters"],)))
    elif op == "window_attention":  # torchvision's ShiftedWindowAttention(V2): own tensors, then qkv, proj (, cpb_mlp)
        c, heads, (wh, ww) = r["dim"], r["num_heads"], r["window_size"]
        if r["v2"]:
            out += [("logit_scale", (heads, 1, 1)), ("relative_coords_table", (1, 2 * wh - 1, 2 * ww - 1, 2))]
        else:
            out.append(("relative_position_bias_table", ((2 * wh - 1) * (2 * ww - 1), heads)))
        out += [("relative_position_index", (wh * ww * wh * ww,)), ("qkv.weight", (3 * c, c)), ("qkv.bias", (3 * c,)),
                ("proj.weight", (c, c)), ("proj.bias", (c,))]
        if r["v2"]:
            out += [("cpb_mlp.0.weight", (512, 2)), ("cpb_mlp.0.bias", (512,)), ("cpb_mlp.2.weight", (heads, 512))]
    elif op == "patch_merging":  # torchvision's PatchMerging(V2): reduction registered before norm
        c = r["dim"]
        normed = 2 * c if r["v2"] else 4 * c
        out += [("reduction.weight", (2 * c, 4 * c)), ("norm.weight", (normed,)), ("norm.bias", (normed,))]
    elif op == "attention":  # nn.MultiheadAttention: its own packed projection, then out_proj (a Linear)
        e = r["embed_dim"]
        out.append(("in_proj_weight", (3 * e, e)))
        if r["bias"]:
            out.append(("in_proj_bias", (3 * e,)))
        out.append(("out_proj.weight", (e, e)))
        if r["bias"]:
            out.append(("out_proj.bias", (e,)))
    return out


def expected_state_dict(net) -> list[tuple[str, tuple]]:
    own: dict[str, list] = {"": []}
    children: dict[str, list] = {"": []}

    def register(path: str) -> None:
        if path in own:
            return
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        register(parent)
        own[path], children[path] = [], []
        children[parent].append(path)

    seen = set()
    for node in net.analysed().nodes[1:]:
        if node.name in seen:
            continue
        seen.add(node.name)
        if node.op in ("scale", "pos_embedding", "class_token"):  # a parameter of the module that holds it
            owner = node.name.rsplit(".", 1)[0] if "." in node.name else ""
            register(owner)
            own[owner].append((node.name, tuple(node.resolved["shape"])))
        elif node.op not in ("concat", "add", "mul"):
            register(node.name)
            own[node.name] += [(f"{node.name}.{key}", shape) for key, shape in _own(node)]

    for path, names in net.analysed().registration.items():  # `register`: these children first, in order
        rank = {f"{path}.{n}" if path else n: i for i, n in enumerate(names)}
        children[path].sort(key=lambda child: rank.get(child, len(rank)))

    out = []

    def walk(path: str) -> None:
        out.extend(own[path])
        for child in children[path]:
            walk(child)

    walk("")
    return out
