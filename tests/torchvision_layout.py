"""The state_dict a PyTorch module built from an analysed spec must have, written from PyTorch's
own module definitions (nn.Conv2d registers weight then bias; BatchNorm adds its running
statistics and num_batches_tracked). Used to check spec names against torchvision's keys."""
from __future__ import annotations



def expected_state_dict(net) -> list[tuple[str, tuple]]:
    out, seen = [], set()
    for node in net.analysed().nodes:
        r = node.resolved
        if node.name in seen:
            continue
        seen.add(node.name)
        n = node.name
        if node.op == "conv":
            out.append((f"{n}.weight", (r["out_channels"], r["in_channels"] // r["groups"], *r["kernel_size"])))
            if r["bias"]:
                out.append((f"{n}.bias", (r["out_channels"],)))
        elif node.op == "convT":
            out.append((f"{n}.weight", (r["in_channels"], r["out_channels"] // r["groups"], *r["kernel_size"])))
            if r["bias"]:
                out.append((f"{n}.bias", (r["out_channels"],)))
        elif node.op == "fc":
            out.append((f"{n}.weight", (r["out_features"], r["in_features"])))
            if r["bias"]:
                out.append((f"{n}.bias", (r["out_features"],)))
        elif node.op == "bn":
            c = r["num_features"]
            if r["affine"]:
                out += [(f"{n}.weight", (c,)), (f"{n}.bias", (c,))]
            out += [(f"{n}.running_mean", (c,)), (f"{n}.running_var", (c,)), (f"{n}.num_batches_tracked", ())]
        elif node.op in ("layernorm",):
            if r["affine"]:
                out += [(f"{n}.weight", tuple(r["normalized_shape"])), (f"{n}.bias", tuple(r["normalized_shape"]))]
        elif node.op == "groupnorm":
            if r["affine"]:
                out += [(f"{n}.weight", (r["num_channels"],)), (f"{n}.bias", (r["num_channels"],))]
        elif node.op == "prelu":
            out.append((f"{n}.weight", (r["num_parameters"],)))
    return out
