"""In-process timings of archdsl, in one fresh process: import archdsl once, then for each spec
given time parse, parse+expand (`archdsl.load`), `Network.analyze()`, the table's lines (every
column, as a pipe gets them) and the JSON report,
`--reps` times, interleaved across specs (order alternating), objects freed between timings. Prints one JSON object to stdout.
Run by bench/bench_analyze.py: `python bench/inprocess_child.py --reps 5 a.arch b.arch ...`."""
import argparse
import gc
import json
import time

t0 = time.perf_counter()
import archdsl  # noqa: E402
from archdsl.parser import parse  # noqa: E402
from archdsl.report import formats  # noqa: E402
from archdsl.report.table import table_lines  # noqa: E402

import_s = time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("specs", nargs="+")
    args = ap.parse_args()
    out = {"import_s": import_s, "specs": {s: {"parse_s": [], "load_s": [], "analyze_s": [], "table_s": [], "json_s": [], "layers": None} for s in args.specs}}
    for i in range(args.reps):
        for spec in (args.specs if i % 2 == 0 else args.specs[::-1]):
            rec = out["specs"][spec]
            with open(spec, encoding="utf-8") as f:
                text = f.read()
            a = time.perf_counter()
            program = parse(text, spec)
            b = time.perf_counter()
            net = archdsl.load(spec)
            c = time.perf_counter()
            result = net.analyze()
            d = time.perf_counter()
            lines = table_lines(result)
            d2 = time.perf_counter()
            text_out = formats.to_json(result)
            e = time.perf_counter()
            rec["parse_s"].append(b - a)
            rec["load_s"].append(c - b)
            rec["analyze_s"].append(d - c)
            rec["table_s"].append(d2 - d)
            rec["json_s"].append(e - d2)
            rec["layers"] = result.totals["layers"]
            # free this spec's objects outside the timed regions, so that the next (maybe small)
            # spec is not charged for deallocating a large one
            del program, net, result, text_out, lines
            gc.collect()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
