"""Benchmark: `archdsl analyze` against torchinfo, and archdsl's scaling with network size.

    .venv/bin/python bench/bench_analyze.py            # full run (a few minutes on 2 cores)
    .venv/bin/python bench/bench_analyze.py --quick    # short run (under a minute)
    .venv/bin/python bench/bench_analyze.py --profile  # also: -X importtime and cProfile summaries

What it measures, in one run:
  A. ResNet-152, each repetition as a fresh process, interleaved (order alternates every rep):
     - `archdsl analyze specs/resnet152.arch` (the console script of a fresh `pip install .`, as the
       README's quick start installs it, or --archdsl SCRIPT), the default command:
       the table to a pipe, and to a pseudo-terminal of 80 columns (COLUMNS=80: narrowed, coloured)
     - `archdsl analyze specs/resnet152.arch --format json`, to a pipe
     - `python bench/torchinfo_child.py`: import torch + torchinfo, build a standalone ResNet-152
       (bench/resnet_torch.py, torchvision's layout; parameter count checked), torchinfo.summary
       of input_size=(1, 3, 224, 224); once with torch's default threads, once with
       OMP_NUM_THREADS=1 (robust when other processes share the CPUs)
     - floors for reference: `python -c pass` and `archdsl --version` (imports the CLI only)
     - the table to a pipe once more from this environment's own (editable) install, if it has one
     - archdsl once more in the caller's own environment (e.g. PYTHONDONTWRITEBYTECODE=1)
     Wall time from fork to reap, CPU time and peak RSS of that one child (os.wait4 rusage,
     i.e. what RUSAGE_CHILDREN would report for it alone; see LAUNCHER below).
  B. Scaling: generated specs of N layers in a temp dir, two families ("lines": one layer per
     line; "repeat": `{ conv ; relu } xK`), whole-process `archdsl analyze` (the table, to a pipe)
     and `archdsl analyze --format json` per N (interleaved), up to 99,999 layers (the most
     archdsl.limits allows: MAX_NODES counts the input), and in-process parse / load
     (parse+expand) / analyze / table / JSON timings in one fresh process (bench/inprocess_child.py).
Children run with bytecode cached in a temporary PYTHONPYCACHEPREFIX (as after `pip install`),
warmed up before timing; `--caller-env` runs them in this environment unchanged.
Results: markdown on stdout (docs/benchmarks.md is written from it); `--json-out FILE` also
writes the raw numbers; `--profile` appends -X importtime and cProfile summaries.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
RESNET152_PARAMS = 60_192_808
TARGET_RATIO = 25.0
TARGET_MIB = 50.0
TARGET_10K_S = 1.0
TARGET_100K_S = 10.0
TERMINAL_COLUMNS = 80
BIG_REPS = 3  # repetitions for the specs of more than 30,000 layers
# Environment of every timed child; main() points PYTHONPYCACHEPREFIX at a temp dir so that
# bytecode is cached (as after `pip install`) without writing into the source tree.
CHILD_ENV: dict | None = None


# --------------------------------------------------------------------------- running children

# The `archdsl` console script timed: by default that of a fresh virtual environment made as the
# README's first command makes it (`python3 -m venv DIR && DIR/bin/pip install .`: a regular
# install, as a user gets it); `--archdsl SCRIPT` names another (e.g. .venv/bin/archdsl, editable).
ARCHDSL: Path | None = None
INSTALLED: Path | None = None  # the temporary virtual environment of that default install


def shown(command: str) -> str:
    """A command as the report prints it: paths relative to the repository, the temporary install as DIR."""
    command = command.replace(str(ROOT) + "/", "")
    return command.replace(str(INSTALLED), "DIR") if INSTALLED else command


def archdsl_cmd() -> list[str]:
    return [str(ARCHDSL)]


def editable_cmd() -> list[str] | None:
    """This environment's own archdsl (the test environment's editable install), if it is not the one timed."""
    script = Path(PY).parent / "archdsl"
    return [str(script)] if script.exists() and script != ARCHDSL else None


def install_like_the_readme(where: Path) -> Path:
    """A virtual environment with archdsl installed as the README's quick start installs it."""
    global INSTALLED
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run([str(where / "bin" / "pip"), "install", "--quiet", str(ROOT)], check=True, cwd=ROOT)
    INSTALLED = where
    return where / "bin" / "archdsl"


# Linux keeps the peak RSS of the address space a process had before exec(): a child that
# Popen starts by vfork()/posix_spawn() shares this (large) process's memory until exec, so its
# ru_maxrss would be at least this process's peak. Each child is therefore started by a small
# `python -S` launcher that fork()s (its copy is a few MiB) and execs the command, then times and
# reaps it with wait4 and reports the child's own rusage. The launcher's RSS is reported as the floor.
LAUNCHER = r"""
import json, os, resource, sys, time
result, cmd = sys.argv[1], sys.argv[2:]
floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(result, "w") as f:
    json.dump({"wall_s": wall, "rc": os.waitstatus_to_exitcode(status), "maxrss_kib": ru.ru_maxrss,
               "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
               "launcher_maxrss_kib": floor}, f)
"""


def _run_on_terminal(argv: list[str], env: dict, columns: int) -> tuple[int, bytes]:
    """argv on a new pseudo-terminal of `columns` columns (COLUMNS set too), its output drained
    as a terminal would take it; (exit status, output)."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the launcher, on the terminal
        try:
            os.chdir(ROOT)
            os.execve(argv[0], argv, dict(env, COLUMNS=str(columns), TERM=env.get("TERM", "xterm-256color")))
        finally:
            os._exit(127)
    try:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    except OSError:
        pass
    out = []
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not data:
            break
        out.append(data)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(out)


def run_child(cmd: list[str], check_stdout: bool = False, env: dict | None = None, stdout: str = "pipe") -> dict:
    """Run cmd once; wall seconds (fork to reap), peak RSS (MiB) of this child alone, CPU, stderr, (stdout).
    stdout: "pipe" (read by this process as it comes), "file" (a temporary file) or "terminal" (a
    pseudo-terminal of TERMINAL_COLUMNS columns; its stderr is the terminal too)."""
    env = env if env is not None else CHILD_ENV
    argv = [PY, "-S", "-c", LAUNCHER]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as res:
        stdout_text = stderr = ""
        if stdout == "terminal":
            rc, data = _run_on_terminal(argv + [res.name] + cmd, env, TERMINAL_COLUMNS)
            stdout_text = stderr = data.decode(errors="replace")
        elif stdout == "pipe":
            proc = subprocess.Popen(argv + [res.name] + cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                    cwd=ROOT, env=env)
            stdout_text = proc.communicate()[0].decode(errors="replace")
            rc = proc.returncode
        else:
            proc = subprocess.Popen(argv + [res.name] + cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT, env=env)
            rc = proc.wait()
            out.seek(0)
            stdout_text = out.read().decode(errors="replace")
        if stdout != "terminal":
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        stdout_text = stdout_text if check_stdout else None
        try:
            r = json.load(res)
        except ValueError:
            raise SystemExit(f"launcher failed ({rc}): {' '.join(cmd)}\n{stderr[-2000:]}") from None
    if r["rc"] != 0:
        raise SystemExit(f"command failed ({r['rc']}): {' '.join(cmd)}\n{stderr[-2000:]}")
    # Linux reports ru_maxrss in KiB
    return {"wall_s": r["wall_s"], "rss_mib": r["maxrss_kib"] / 1024, "user_s": r["user_s"], "sys_s": r["sys_s"],
            "floor_mib": r["launcher_maxrss_kib"] / 1024, "stderr": stderr, "stdout": stdout_text}


def med(xs):
    return statistics.median(xs)


def fmt_s(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x >= 0.1 else f"{x * 1000:.1f} ms"


# --------------------------------------------------------------------------- environment

def environment() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = subprocess.run(
        [PY, "-c", "import importlib.metadata as m; print(' '.join(f'{p}={m.version(p)}' for p in "
         "('archdsl','torch','torchinfo','lark','click','rich')))"],
        capture_output=True, text=True).stdout.strip()
    return {"loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": cpu, "mem": mem,
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "commit": _commit()}


def _commit() -> str:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "archdsl"], capture_output=True, text=True).stdout.strip()
    return commit + ("+dirty(archdsl/)" if dirty else "")


# --------------------------------------------------------------------------- checks (untimed)

def verify(spec: str) -> dict:
    """archdsl's totals for the spec, and the standalone model's state_dict against torchvision's."""
    r = run_child(archdsl_cmd() + ["analyze", spec, "--format", "json"], check_stdout=True)
    data = json.loads(r["stdout"])
    params = data["totals"]["params"]
    if params != RESNET152_PARAMS:
        raise SystemExit(f"{spec}: archdsl counts {params} parameters, expected {RESNET152_PARAMS}")
    info = {"archdsl_params": params, "archdsl_layers": data["totals"].get("layers"), "archdsl_macs": data["totals"].get("macs")}
    ref = ROOT / "tests" / "data" / "torchvision_classification.json"  # torchvision's keys and shapes (tests/data/README.md)
    if not ref.exists():
        raise SystemExit(f"{ref} is missing: the standalone ResNet-152 cannot be checked against torchvision's")
    code = (
        "import json,sys; sys.path.insert(0, sys.argv[1]); from resnet_torch import resnet152\n"
        "ref = json.load(open(sys.argv[2]))['resnet152']['state_dict']\n"
        "mine = [[k, list(v.shape)] for k, v in resnet152().state_dict().items()]\n"
        "print('same' if mine == [[k, list(s)] for k, s in ref] else 'DIFFERENT')\n")
    out = subprocess.run([PY, "-c", code, str(BENCH), str(ref)], capture_output=True, text=True)
    if out.stdout.strip() != "same":
        raise SystemExit(f"bench/resnet_torch.py does not match torchvision's resnet152 state_dict:\n{out.stdout}{out.stderr}")
    info["torch_state_dict"] = "matches torchvision resnet152 (keys, order, shapes)"
    return info


# --------------------------------------------------------------------------- A. archdsl vs torchinfo

# The archdsl commands compared with torchinfo, and where their standard output goes.
ARCHDSL_RUNS = {
    "archdsl table, pipe": ([], "pipe"),
    f"archdsl table, terminal ({TERMINAL_COLUMNS} col)": ([], "terminal"),
    "archdsl json, pipe": (["--format", "json"], "pipe"),
}


def bench_resnet(spec: str, reps: int) -> dict:
    cmds = {name: archdsl_cmd() + ["analyze", spec] + extra for name, (extra, _) in ARCHDSL_RUNS.items()}
    outs = {name: where for name, (_, where) in ARCHDSL_RUNS.items()}
    cmds |= {
        "torchinfo": [PY, str(BENCH / "torchinfo_child.py")],
        "torchinfo, 1 thread": [PY, str(BENCH / "torchinfo_child.py")],
        "python -c pass": [str(ARCHDSL.parent / "python"), "-c", "pass"],  # the interpreter archdsl runs on
        "archdsl --version": archdsl_cmd() + ["--version"],
    }
    if editable_cmd():
        cmds["archdsl table, pipe, editable install"] = editable_cmd() + ["analyze", spec]
    envs = {"torchinfo, 1 thread": dict(CHILD_ENV or os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")}
    if CHILD_ENV is not None and CHILD_ENV.get("PYTHONPYCACHEPREFIX") != os.environ.get("PYTHONPYCACHEPREFIX"):
        # the same command as the caller's environment runs it (here: PYTHONDONTWRITEBYTECODE=1, so
        # nothing is cached that pip did not compile at install: an editable install compiles archdsl on every run)
        cmds["archdsl table, pipe, caller's env"] = cmds["archdsl table, pipe"]
        envs["archdsl table, pipe, caller's env"] = dict(os.environ)
    res = {k: [] for k in cmds}
    phases = {}
    for name, cmd in cmds.items():  # warm-up: page cache, .pyc files
        run_child(cmd, env=envs.get(name), stdout=outs.get(name, "pipe"))
    order = list(cmds)
    loads = []
    for i in range(reps):
        loads.append(os.getloadavg()[0])
        for name in (order if i % 2 == 0 else order[::-1]):
            r = run_child(cmds[name], env=envs.get(name), stdout=outs.get(name, "pipe"))
            res[name].append(r)
            if name.startswith("torchinfo"):
                m = re.search(r"^BENCH_PHASES (.*)$", r["stderr"], re.M)
                if m:
                    phases.setdefault(name, []).append(json.loads(m.group(1)))
        print(f"  rep {i + 1}/{reps}: " + ", ".join(f"{k} {fmt_s(res[k][-1]['wall_s'])}" for k in list(ARCHDSL_RUNS) + ["torchinfo"]),
              file=sys.stderr)
    commands = {k: " ".join(v) + ("" if outs.get(k, "pipe") == "pipe" else
                                  f"  (on a pseudo-terminal, COLUMNS={TERMINAL_COLUMNS})") for k, v in cmds.items()}
    out = {"commands": commands, "reps": reps, "runs": {}, "loadavg_1min": loads}
    for name, runs in res.items():
        out["runs"][name] = {
            "wall_s": [r["wall_s"] for r in runs], "rss_mib": [r["rss_mib"] for r in runs],
            "cpu_s": [r["user_s"] + r["sys_s"] for r in runs], "floor_mib": max(r["floor_mib"] for r in runs),
        }
    out["torchinfo_phases"] = {name: {k: med([p[k] for p in ps]) for k in ("import_s", "build_s", "summary_s")}
                               for name, ps in phases.items()}
    return out


# --------------------------------------------------------------------------- B. scaling

FAMILIES = {
    "lines": "`set conv pad=1`, then one line per layer: `conv 16 3x3` / `relu` alternating (stresses the parser; "
             "99,999 such lines are 850 kB, under the 1 MiB limit on a spec)",
    "repeat": "`{ conv 16 3x3 pad=1 ; relu } xK` (K <= 5000 per statement; stresses expand/analyze)",
}


def make_spec(path: Path, n: int, family: str = "lines") -> None:
    lines = [f"network chain{n}", "input 32x32x16"]
    if family == "lines":
        lines.append("set conv pad=1")
        for i in range(n):
            lines.append("conv 16 3x3" if i % 2 == 0 else "relu")
    else:
        pairs, rest = divmod(n, 2)
        while pairs:
            k = min(pairs, 5000)  # one `xN` may repeat at most 10,000 times
            lines.append(f"{{ conv 16 3x3 pad=1 ; relu }} x{k}")
            pairs -= k
        if rest:
            lines.append("conv 16 3x3 pad=1")
    path.write_text("\n".join(lines) + "\n")


def bench_scaling(sizes: list[int], reps: int, tmp: Path) -> dict:
    keys = [(fam, n) for fam in FAMILIES for n in sizes]
    specs = {}
    for fam, n in keys:
        p = tmp / f"{fam}{n}.arch"
        make_spec(p, n, fam)
        specs[fam, n] = str(p)
    whole = {k: [] for k in keys}
    table = {k: [] for k in keys}
    for k in keys:  # warm-up and a layer-count check
        r = run_child(archdsl_cmd() + ["analyze", specs[k], "--format", "json"], check_stdout=True)
        layers = json.loads(r["stdout"])["totals"]["layers"]
        if layers != k[1]:
            raise SystemExit(f"generated {k[0]} spec with {k[1]} layers analysed as {layers} layers")
        r = run_child(archdsl_cmd() + ["analyze", specs[k]], check_stdout=True)
        if f"layers        {k[1]:,}" not in r["stdout"]:
            raise SystemExit(f"the table of the generated {k[0]} spec with {k[1]} layers does not say so")
    big = ("lines", max(sizes))
    for i in range(reps):
        for k in (keys if i % 2 == 0 else keys[::-1]):
            if k[1] > 30000 and i >= BIG_REPS:
                continue
            whole[k].append(run_child(archdsl_cmd() + ["analyze", specs[k], "--format", "json"]))
            table[k].append(run_child(archdsl_cmd() + ["analyze", specs[k]]))
        print(f"  scaling rep {i + 1}/{reps}: {big[0]} N={big[1]} table {fmt_s(table[big][-1]['wall_s'])}", file=sys.stderr)
    inproc = json.loads(subprocess.run([PY, str(BENCH / "inprocess_child.py"), "--reps", str(min(reps, BIG_REPS))] + [specs[k] for k in keys],
                                       capture_output=True, text=True, check=True, cwd=ROOT, env=CHILD_ENV).stdout)
    out = {"reps": reps, "import_s": inproc["import_s"], "families": {fam: {} for fam in FAMILIES}}
    for fam, n in keys:
        rec = inproc["specs"][specs[fam, n]]
        out["families"][fam][n] = {
            "bytes": Path(specs[fam, n]).stat().st_size,
            "wall_s": [r["wall_s"] for r in whole[fam, n]], "rss_mib": [r["rss_mib"] for r in whole[fam, n]],
            "cpu_s": [r["user_s"] + r["sys_s"] for r in whole[fam, n]],
            "table_wall_s": [r["wall_s"] for r in table[fam, n]], "table_rss_mib": [r["rss_mib"] for r in table[fam, n]],
            "table_cpu_s": [r["user_s"] + r["sys_s"] for r in table[fam, n]],
            "parse_s": rec["parse_s"], "load_s": rec["load_s"], "analyze_s": rec["analyze_s"], "json_s": rec["json_s"],
            "table_s": rec["table_s"],
        }
    return out


# --------------------------------------------------------------------------- profiling

def profile(spec: str, big_specs: list[str]) -> str:
    lines = []
    # -X importtime of the real command
    r = subprocess.run([PY, "-X", "importtime", "-m", "archdsl", "analyze", spec, "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT, env=CHILD_ENV)
    rows = []
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
    total_self = sum(r[0] for r in rows)
    by_pkg = {}
    for self_us, _, _, name in rows:
        top = name.split(".")[0]
        by_pkg[top] = by_pkg.get(top, 0) + self_us
    lines.append(f"### Import time of `python -m archdsl analyze {spec} --format json` (-X importtime)\n")
    lines.append(f"Sum of all imports: {total_self / 1000:.0f} ms ({len(rows)} modules).\n")
    lines.append("| top-level package | self time, all its modules |")
    lines.append("|---|---:|")
    for pkg, us in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"| {pkg} | {us / 1000:.1f} ms |")
    lines.append("\n| module (indent = import nesting) | cumulative | self |")
    lines.append("|---|---:|---:|")
    for self_us, cum, depth, name in sorted(rows, key=lambda r: -r[1])[:25]:
        lines.append(f"| {'&nbsp;' * (depth - 1)}{name} | {cum / 1000:.1f} ms | {self_us / 1000:.1f} ms |")

    # cProfile of the in-process work
    code = (
        "import cProfile, pstats, io, sys, archdsl\n"
        "from archdsl.report import formats\n"
        "spec = sys.argv[1]\n"
        "archdsl.load(spec).analyze()\n"  # warm caches (grammar, parser) before profiling
        "pr = cProfile.Profile(); pr.enable()\n"
        "formats.to_json(archdsl.load(spec).analyze())\n"
        "pr.disable(); s = io.StringIO()\n"
        "st = pstats.Stats(pr, stream=s); st.sort_stats('tottime').print_stats(14)\n"
        "st.sort_stats('cumulative').print_stats(18)\n"
        "print(s.getvalue())\n")
    for sp in [spec] + big_specs:
        r = subprocess.run([PY, "-c", code, sp], capture_output=True, text=True, cwd=ROOT, env=CHILD_ENV)
        lines.append(f"\n### cProfile: load + analyze + to_json of `{os.path.basename(sp)}` (second call, in-process)\n")
        lines.append("```")
        keep = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith(("   Ordered by", "   List reduced"))]
        lines.extend(ln.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "") for ln in keep)
        lines.append("```")

    # cold first call vs warm: grammar/parser construction cost
    code = (
        "import time, sys; t0 = time.perf_counter(); import archdsl; t1 = time.perf_counter()\n"
        "from archdsl.parser import parse\n"
        "t2 = time.perf_counter(); parse('input 8x8x3\\nrelu\\n', '<x>'); t3 = time.perf_counter()\n"
        "parse('input 8x8x3\\nrelu\\n', '<x>'); t4 = time.perf_counter()\n"
        "print(f'import archdsl {1000*(t1-t0):.1f} ms; first parse of a 2-line spec {1000*(t3-t2):.1f} ms; second {1000*(t4-t3):.2f} ms')\n")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT, env=CHILD_ENV)
    lines.append("\n### First-call cost (parser construction)\n")
    lines.append(r.stdout.strip() or r.stderr.strip()[-500:])
    return "\n".join(lines)


# --------------------------------------------------------------------------- report

def report(env: dict, checks: dict, a: dict | None, b: dict | None, spec: str, argv: str) -> str:
    L = []
    L.append("## Machine\n")
    L.append(f"- CPU: {env['cpu']}, nproc {env['nproc']} (affinity {env['affinity']}), memory {env['mem']}")
    L.append(f"- Python {env['python']} on {env['platform']}")
    L.append(f"- {env['packages']}")
    end_commit = _commit()
    L.append(f"- archdsl commit {env['commit']}" + ("" if end_commit == env["commit"] else
             f" at start, **{end_commit} at end: the code changed during the run; rerun for clean numbers**"))
    L.append(f"- load average (1/5/15 min) at start: {env['loadavg']}; at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    L.append(f"- command: `{argv}`")
    L.append(f"- archdsl timed: {env['archdsl']}")
    L.append(f"- children's bytecode: {env['bytecode']}\n")
    L.append("## Checks (untimed)\n")
    for k, v in checks.items():
        L.append(f"- {k}: {v}")
    if a:
        runs = a["runs"]
        ti, t1 = runs["torchinfo"], runs["torchinfo, 1 thread"]
        floor = med(runs["python -c pass"]["wall_s"])
        L.append(f"\n## A. ResNet-152: whole process, {a['reps']} interleaved repetitions (+1 warm-up each)\n")
        if a.get("loadavg_1min"):
            la = a["loadavg_1min"]
            L.append(f"1-minute load average during these runs: {min(la):.2f} to {max(la):.2f} (on {env['nproc']} CPUs).\n")
        L.append("| run | command | median wall | min wall | max wall | median CPU (user+sys) | peak RSS (median / max) |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        for name, r in runs.items():
            L.append(f"| {name} | `{shown(a['commands'][name])}` | {fmt_s(med(r['wall_s']))} | {fmt_s(min(r['wall_s']))} | "
                     f"{fmt_s(max(r['wall_s']))} | {fmt_s(med(r['cpu_s']))} | {med(r['rss_mib']):.1f} / {max(r['rss_mib']):.1f} MiB |")
        L.append("")
        L.append("Speed-up over torchinfo of each archdsl command: the ratio of medians, of minimums (the least disturbed runs), "
                 "against torchinfo with 1 thread (robust when other processes load the CPUs: torch's default thread pool "
                 "slows down badly when a core is taken), and the verdict, **the smallest of the three**; then the ratio of "
                 "medians each less `python -c pass`, and of median CPU time (torch uses several threads, archdsl one).\n")
        L.append(f"| archdsl command | medians | minimums | vs 1 thread | **verdict** (target >= {TARGET_RATIO:.0f}x) | "
                 "less `python -c pass` | CPU time | peak RSS (max) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        need = min(med(ti["wall_s"]), med(t1["wall_s"]), min(ti["wall_s"])) / TARGET_RATIO
        for name in ARCHDSL_RUNS:
            ad = runs[name]
            ratio = med(ti["wall_s"]) / med(ad["wall_s"])
            rmin = min(ti["wall_s"]) / min(ad["wall_s"])
            r1 = med(t1["wall_s"]) / med(ad["wall_s"])
            verdict = min(ratio, r1, rmin)
            peak = max(ad["rss_mib"])
            L.append(f"| {name} | {ratio:.1f}x | {rmin:.1f}x | {r1:.1f}x | **{verdict:.1f}x: {'met' if verdict >= TARGET_RATIO else 'NOT met'}** | "
                     f"{(med(ti['wall_s']) - floor) / (med(ad['wall_s']) - floor):.1f}x | {med(ti['cpu_s']) / med(ad['cpu_s']):.1f}x | "
                     f"{peak:.1f} MiB ({'<' if peak < TARGET_MIB else '>='} {TARGET_MIB:.0f}) |")
        L.append("")
        L.append(f"- for {TARGET_RATIO:.0f}x, an archdsl median of {fmt_s(need)} or less is needed here")
        L.append(f"- peak RSS: the child's own ru_maxrss; it inherits at most its small launcher's RSS at fork "
                 f"(<= {max(runs[n]['floor_mib'] for n in ARCHDSL_RUNS):.1f} MiB)")
        for name, p in a.get("torchinfo_phases", {}).items():
            L.append(f"- {name} process, median phases: import torch+torchinfo {fmt_s(p['import_s'])}, build ResNet-152 "
                     f"{fmt_s(p['build_s'])}, summary() {fmt_s(p['summary_s'])}")
    if b:
        L.append(f"\n## B. Scaling: generated specs of N layers, {b['reps']} repetitions ({BIG_REPS} above 30,000 layers)\n")
        L.append(f"All start `input 32x32x16`. Whole process: `archdsl analyze SPEC` (the table, to a pipe) and "
                 f"`archdsl analyze SPEC --format json`, medians. In-process columns are medians in one warm process "
                 f"(`import archdsl` there: {fmt_s(b['import_s'])}); load = parse + expand.\n")
        for fam, sizes_d in b["families"].items():
            L.append(f"### {fam}: {FAMILIES[fam]}\n")
            L.append("| N layers | spec bytes | **table** | its CPU time | peak RSS | json | parse | load (parse+expand) | analyze | "
                     "table lines | to_json | in-process per layer (load, analyze, table) |")
            L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for n, r in sizes_d.items():
                tot = med(r["load_s"]) + med(r["analyze_s"]) + med(r["table_s"])
                L.append(f"| {int(n):,} | {r['bytes']:,} | **{fmt_s(med(r['table_wall_s']))}** | {fmt_s(med(r['table_cpu_s']))} | "
                         f"{max(r['table_rss_mib']):.1f} MiB | {fmt_s(med(r['wall_s']))} | {fmt_s(med(r['parse_s']))} | "
                         f"{fmt_s(med(r['load_s']))} | {fmt_s(med(r['analyze_s']))} | {fmt_s(med(r['table_s']))} | "
                         f"{fmt_s(med(r['json_s']))} | {tot / int(n) * 1e6:.0f} us |")
            sizes = sorted(int(n) for n in sizes_d)
            L.append("")
            by = {int(n): r for n, r in sizes_d.items()}
            if len(sizes) >= 3:
                mid = max(n for n in sizes if n <= 10000)
                lo, hi = sizes[0], sizes[-1]
                slope1 = (med(by[mid]["table_wall_s"]) - med(by[lo]["table_wall_s"])) / (mid - lo)
                slope2 = (med(by[hi]["table_wall_s"]) - med(by[mid]["table_wall_s"])) / (hi - mid)
                L.append(f"- linear: the table's whole-process cost per added layer is {slope1 * 1e6:.0f} us between N={lo:,} and "
                         f"N={mid:,}, {slope2 * 1e6:.0f} us between N={mid:,} and N={hi:,}; fixed cost (extrapolated to N=0): "
                         f"{fmt_s(med(by[lo]['table_wall_s']) - slope1 * lo)}")
            for n, target in ((10000, TARGET_10K_S), (99999, TARGET_100K_S)):
                if n in by:
                    t, c = med(by[n]["table_wall_s"]), med(by[n]["table_cpu_s"])
                    L.append(f"- **N={n:,}, the table: {fmt_s(t)} wall** (target < {target:.0f} s: {'met' if t < target else 'NOT met'}); "
                             f"its CPU time {fmt_s(c)} ({'met' if c < target else 'NOT met'} on an idle core: archdsl is "
                             f"single-threaded, so CPU time is what the wall time would be without other load); "
                             f"JSON {fmt_s(med(by[n]['wall_s']))}")
            L.append("")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repetitions, fewer sizes")
    ap.add_argument("--reps", type=int, help="repetitions for the ResNet-152 comparison (default 15, quick 3)")
    ap.add_argument("--scale-reps", type=int, help="repetitions for the scaling curve (default 7, quick 3)")
    ap.add_argument("--spec", default="specs/resnet152.arch", help="ResNet-152 spec (relative to the repo root)")
    ap.add_argument("--sizes", help="comma-separated N for the scaling curve (default 100,1000,3000,10000,30000,99999)")
    ap.add_argument("--profile", action="store_true", help="append -X importtime and cProfile summaries")
    ap.add_argument("--caller-env", action="store_true",
                    help="run children in this environment as is (default: cache bytecode in a temp PYTHONPYCACHEPREFIX)")
    ap.add_argument("--only", choices=["resnet", "scaling"], help="run one part only")
    ap.add_argument("--json-out", help="also write the raw numbers here")
    ap.add_argument("--archdsl", help="the archdsl console script to time (default: a fresh `pip install .`, as the README's quick start)")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 15)
    scale_reps = args.scale_reps or (3 if args.quick else 7)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([100, 1000, 10000] if args.quick else [100, 1000, 3000, 10000, 30000, 99999])
    spec = args.spec
    if not (ROOT / spec).exists() and not Path(spec).exists():
        raise SystemExit(f"{spec} does not exist (run from the repo root or pass --spec)")
    global CHILD_ENV
    pyc_dir = None
    if args.caller_env:
        CHILD_ENV = dict(os.environ)
    else:
        pyc_dir = tempfile.mkdtemp(prefix="archdsl-bench-pyc-")
        CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = pyc_dir
    argv = " ".join([os.path.relpath(PY, ROOT) if PY.startswith(str(ROOT)) else PY, os.path.relpath(__file__, ROOT)] + sys.argv[1:])

    global ARCHDSL
    install_dir = None
    if args.archdsl:
        ARCHDSL = Path(args.archdsl).absolute()
    else:
        install_dir = Path(tempfile.mkdtemp(prefix="archdsl-bench-venv-"))
        print("installing archdsl as the README does (pip install .) ...", file=sys.stderr)
        ARCHDSL = install_like_the_readme(install_dir / "venv")
    env = environment()
    env["archdsl"] = (f"`{args.archdsl}`" if args.archdsl else
                      "a fresh virtual environment made as the README's first command makes it: `python3 -m venv DIR && "
                      "DIR/bin/pip install .` (a regular install; rich, click and graphviz)")
    env["bytecode"] = ("cached in a temporary PYTHONPYCACHEPREFIX (as after `pip install`; PYTHONDONTWRITEBYTECODE removed), "
                       "warmed up before timing" if pyc_dir else
                       f"caller's environment (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")
    print("checking ...", file=sys.stderr)
    checks = verify(spec)
    a = b = None
    tmp = Path(tempfile.mkdtemp(prefix="archdsl-bench-"))
    try:
        if args.only in (None, "resnet"):
            print("A. ResNet-152: archdsl vs torchinfo ...", file=sys.stderr)
            a = bench_resnet(spec, reps)
        if args.only in (None, "scaling"):
            print("B. scaling ...", file=sys.stderr)
            b = bench_scaling(sizes, scale_reps, tmp)
        text = report(env, checks, a, b, spec, argv)
        if args.profile:
            print("profiling ...", file=sys.stderr)
            bigs = []
            for fam in FAMILIES:
                big = tmp / f"{fam}10000.arch"
                if not big.exists():
                    make_spec(big, 10000, fam)
                bigs.append(str(big))
            text += "\n\n## Profile\n\n" + profile(spec, bigs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if pyc_dir:
            shutil.rmtree(pyc_dir, ignore_errors=True)
        if install_dir:
            shutil.rmtree(install_dir, ignore_errors=True)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"env": env, "checks": checks, "resnet152": a, "scaling": b}, indent=1))


if __name__ == "__main__":
    main()
