"""Benchmark: the standalone PyTorch source emitter (`archdsl build -o model.py`) against the analysis.

    .venv/bin/python bench/bench_emit.py                  # full run: N = 1000, 2000, 4000, 8000
    .venv/bin/python bench/bench_emit.py --quick          # N = 1000, 2000, one repetition (a smoke test)
    .venv/bin/python bench/bench_emit.py --sizes 1000,4000 --families lines --json-out /tmp/emit.json

Generated specs of N layers (all on `input 8x8x8`), three families:
  lines     N top-level lines, `conv 8 3 pad=1` / `relu` alternating
  residual  N/5 top-level calls of a residual block: add { conv -> relu -> conv ; @input } ; relu
  nested    calls of a binary tree of blocks (d_k calls d_(k-1) twice; d_0 is conv ; relu), the
            deepest tree that fits N/4 layers, then as many conv/relu lines as N needs
What it measures, each repetition interleaved over the specs (order alternating):
  - whole process: `archdsl build SPEC --device meta -o OUT.py` (analysis, the fx module on meta,
    and the source file), and `archdsl analyze SPEC --format json` (the analysis alone: the
    reference a user compares with)
  - in process, one fresh process for all specs: `Network.analysed()` (every pass) and then
    `Network.source()` (the emitter alone: the graph is analysed already)
The report gives medians, the emitter's time per layer, its ratio to the analysis, and
time(2N) / time(N), which is 2 for a linear cost and 4 for a quadratic one. Children run with
bytecode cached in a temporary PYTHONPYCACHEPREFIX, warmed up once per command before timing
(the launcher, wall/CPU timing and environment come from bench/bench_analyze.py).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import bench_analyze as common  # noqa: E402
from bench_analyze import archdsl_cmd, fmt_s, med, run_child  # noqa: E402

PY = sys.executable
FAMILIES = {
    "lines": "N top-level lines, `conv 8 3 pad=1` / `relu` alternating",
    "residual": "N/5 top-level calls of `def res() { add { conv 8 3 pad=1 -> relu -> conv 8 3 pad=1 ; @input } ; relu }`",
    "nested": "calls of a binary tree of blocks (`d_k` calls `d_(k-1)` twice, `d_0` is `conv ; relu`), "
              "the deepest that fits N/4 layers, then conv/relu lines up to N",
}


# --------------------------------------------------------------------------- specs

def _alternating(count: int) -> list[str]:
    return ["conv 8 3 pad=1" if i % 2 == 0 else "relu" for i in range(count)]


def make_spec(path: Path, n: int, family: str) -> None:
    lines = [f"network {family}{n}", "input 8x8x8"]
    if family == "lines":
        lines += _alternating(n)
    elif family == "residual":
        lines += ["def res() {", "  add { conv 8 3 pad=1 -> relu -> conv 8 3 pad=1 ; @input }", "  relu", "}"]
        lines += ["res"] * (n // 5) + _alternating(n % 5)
    elif family == "nested":
        lines += ["def d0() {", "  conv 8 3 pad=1", "  relu", "}"]
        depth, size = 0, 2
        while size * 2 <= max(n // 4, 2):
            depth += 1
            size *= 2
            lines += [f"def d{depth}() {{", f"  d{depth - 1}", f"  d{depth - 1}", "}"]
        lines += [f"d{depth}"] * (n // size) + _alternating(n % size)
    else:
        raise ValueError(family)
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- in-process timings

# One fresh process: import archdsl, then per repetition and spec (interleaved, order alternating)
# load, time analysed() and then source(); objects are freed between timings. One untimed call first.
INPROCESS = r"""
import gc, json, sys, time
import archdsl
reps, specs = int(sys.argv[1]), sys.argv[2:]
archdsl.load(specs[0]).source()  # untimed: imports the emitter, warms what a first call builds
out = {s: {"analyse_s": [], "emit_s": [], "analyse_cpu_s": [], "emit_cpu_s": [], "layers": None, "source_bytes": None}
       for s in specs}
for i in range(reps):
    for spec in (specs if i % 2 == 0 else specs[::-1]):
        net = archdsl.load(spec)
        gc.collect()
        a, a_cpu = time.perf_counter(), time.process_time()
        graph = net.analysed()
        b, b_cpu = time.perf_counter(), time.process_time()
        source = net.source(spec)
        c, c_cpu = time.perf_counter(), time.process_time()
        rec = out[spec]
        rec["analyse_s"].append(b - a)
        rec["emit_s"].append(c - b)
        rec["analyse_cpu_s"].append(b_cpu - a_cpu)
        rec["emit_cpu_s"].append(c_cpu - b_cpu)
        rec["layers"] = len(graph.nodes) - 1
        rec["source_bytes"] = len(source.encode())
        if i == 0:
            compile(source, spec + ".py", "exec")  # untimed: the file is Python
        del net, graph, source
        gc.collect()
print(json.dumps(out))
"""


def _slug(command: str) -> str:
    return command.replace(" -o", "_o")


def bench(sizes: list[int], families: list[str], reps: int, inprocess_reps: int, tmp: Path) -> dict:
    keys = [(fam, n) for fam in families for n in sizes]
    specs = {}
    for fam, n in keys:
        specs[fam, n] = str(tmp / f"{fam}{n}.arch")
        make_spec(Path(specs[fam, n]), n, fam)
    out_py = str(tmp / "model.py")
    commands = {
        "build -o": lambda spec: archdsl_cmd() + ["build", spec, "--device", "meta", "-o", out_py],
        "build": lambda spec: archdsl_cmd() + ["build", spec, "--device", "meta"],
        "analyze": lambda spec: archdsl_cmd() + ["analyze", spec, "--format", "json"],
    }
    for cmd in commands.values():  # warm-up: page cache, .pyc files
        run_child(cmd(specs[keys[0]]))
    whole = {(k, c): [] for k in keys for c in commands}
    for i in range(reps):
        for k in (keys if i % 2 == 0 else keys[::-1]):
            for c, cmd in commands.items():
                whole[k, c].append(run_child(cmd(specs[k])))
            print(f"  rep {i + 1}/{reps} {k[0]} N={k[1]}: build -o {fmt_s(whole[k, 'build -o'][-1]['wall_s'])}, "
                  f"analyze {fmt_s(whole[k, 'analyze'][-1]['wall_s'])}", file=sys.stderr)
    proc = subprocess.run([PY, "-c", INPROCESS, str(inprocess_reps)] + [specs[k] for k in keys],
                          capture_output=True, text=True, cwd=ROOT, env=common.CHILD_ENV)
    if proc.returncode:
        raise SystemExit(f"in-process timings failed:\n{proc.stderr[-2000:]}")
    inproc = json.loads(proc.stdout)
    shown = {c: " ".join(cmd("SPEC")).replace(str(ROOT) + "/", "").replace(out_py, "OUT.py") for c, cmd in commands.items()}
    result = {"reps": reps, "inprocess_reps": inprocess_reps, "commands": shown, "families": {fam: {} for fam in families}}
    for fam, n in keys:
        rec = inproc[specs[fam, n]]
        if rec["layers"] != n:
            raise SystemExit(f"the {fam} spec of {n} layers has {rec['layers']}")
        result["families"][fam][n] = {
            "spec_bytes": Path(specs[fam, n]).stat().st_size, "source_bytes": rec["source_bytes"],
            **{f"{_slug(c)}_wall_s": [r["wall_s"] for r in whole[(fam, n), c]] for c in commands},
            **{f"{_slug(c)}_cpu_s": [r["user_s"] + r["sys_s"] for r in whole[(fam, n), c]] for c in commands},
            **{k: rec[k] for k in ("analyse_s", "emit_s", "analyse_cpu_s", "emit_cpu_s")},
        }
    return result


# --------------------------------------------------------------------------- report

def _growth(values: dict, n: int, key) -> str:
    """time(N) / time(N/2), when N/2 was measured."""
    if n // 2 not in values or n % 2:
        return ""
    return f"{key(values[n]) / key(values[n // 2]):.2f}"


def report(env: dict, data: dict, argv: str) -> str:
    L = [f"- CPU: {env['cpu']}, nproc {env['nproc']} (affinity {env['affinity']}), memory {env['mem']}",
         f"- Python {env['python']}; archdsl commit {env['commit']}",
         f"- load average (1/5/15 min) at start: {env['loadavg']}; at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
         f"- command: `{argv}`",
         f"- whole process, {data['reps']} repetitions interleaved, medians: `{data['commands']['build -o']}`, the same "
         f"without `-o`, and `{data['commands']['analyze']}`; wall time / CPU time (user+sys) of the process",
         f"- in process, {data['inprocess_reps']} repetitions, medians of CPU time (`time.process_time`): "
         "`Network.analysed()` (every pass) and then `Network.source()` (the emitter alone); growth = "
         "emitter's time(N) / time(N/2): 2 when linear, 4 when quadratic", ""]
    for fam, sizes in data["families"].items():
        L.append(f"{fam}: {FAMILIES[fam]}\n")
        L.append("| N layers | source file | `build -o` | `build` | `analyze` | analysis in process | "
                 "`source()` in process | per layer | emit / analysis | growth |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, r in sizes.items():
            emit, analyse = med(r["emit_cpu_s"]), med(r["analyse_cpu_s"])
            whole = [f"{fmt_s(med(r[c + '_wall_s']))} / {fmt_s(med(r[c + '_cpu_s']))}" for c in ("build_o", "build", "analyze")]
            L.append(f"| {n} | {r['source_bytes'] / 1000:.0f} kB | {' | '.join(whole)} | {fmt_s(analyse)} | {fmt_s(emit)} | "
                     f"{emit / n * 1e6:.0f} us | {emit / analyse:.2f} | {_growth(sizes, n, lambda r: med(r['emit_cpu_s']))} |")
        L.append("")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 1000, 2000 and one repetition")
    ap.add_argument("--sizes", help="comma-separated N (default 1000,2000,4000,8000)")
    ap.add_argument("--families", help=f"comma-separated, of {', '.join(FAMILIES)} (default all)")
    ap.add_argument("--reps", type=int, help="repetitions of the whole-process runs (default 3, quick 1)")
    ap.add_argument("--inprocess-reps", type=int, help="repetitions in process (default 5, quick 1)")
    ap.add_argument("--json-out", help="also write the raw numbers here")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1000, 2000] if args.quick else [1000, 2000, 4000, 8000])
    families = args.families.split(",") if args.families else list(FAMILIES)
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise SystemExit(f"unknown families: {', '.join(sorted(unknown))}")
    reps = args.reps or (1 if args.quick else 3)
    inprocess_reps = args.inprocess_reps or (1 if args.quick else 5)
    pyc_dir = tempfile.mkdtemp(prefix="archdsl-bench-pyc-")
    common.CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    common.CHILD_ENV["PYTHONPYCACHEPREFIX"] = pyc_dir
    argv = " ".join([os.path.relpath(PY, ROOT) if PY.startswith(str(ROOT)) else PY, os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    env = common.environment()
    tmp = Path(tempfile.mkdtemp(prefix="archdsl-bench-emit-"))
    try:
        data = bench(sizes, families, reps, inprocess_reps, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(pyc_dir, ignore_errors=True)
    print(report(env, data, argv))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"env": env, "results": data}, indent=1))


if __name__ == "__main__":
    main()
