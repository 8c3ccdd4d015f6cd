"""Benchmark `tiering simulate`: wall time, peak memory and rows/s (median of --repeat runs).

    .venv/bin/python benchmarks/bench_simulate.py --clients 100000 --months 24 --repeat 3

Each run is a fresh child process writing to a temporary folder (deleted afterwards unless
--keep), so peak RSS is that run's alone: the larger of the main process and its worker.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(args: argparse.Namespace) -> None:
    from tiering.simulate import simulate

    t0 = time.perf_counter()
    totals = simulate(Path(args.out) / "landing", Path(args.out) / "truth", clients=args.clients,
                      months=args.months, start=args.start, seed=args.seed,
                      workers=args.workers)
    wall = time.perf_counter() - t0
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    size = sum(p.stat().st_size for p in (Path(args.out) / "landing").rglob("*") if p.is_file())
    print(json.dumps({"wall_s": wall, "rows": sum(totals.values()), "peak_rss_mb": rss / 1024,
                      "landing_mb": size / 2**20, "totals": totals}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2024-11")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="default: automatic")
    parser.add_argument("--keep", action="store_true", help="keep the last run's files")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return 0

    runs = []
    for i in range(args.repeat):
        out = Path(tempfile.mkdtemp(prefix="bench_simulate_"))
        cmd = [sys.executable, __file__, "--child", "--out", str(out), "--clients",
               str(args.clients), "--months", str(args.months), "--start", args.start,
               "--seed", str(args.seed)]
        if args.workers is not None:
            cmd += ["--workers", str(args.workers)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        run = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append(run)
        print(f"run {i + 1}: {run['wall_s']:.1f}s, {run['rows']:,} rows, "
              f"{run['rows'] / run['wall_s']:,.0f} rows/s, peak RSS {run['peak_rss_mb']:.0f} MB, "
              f"landing {run['landing_mb']:.0f} MB", flush=True)
        if args.keep and i == args.repeat - 1:
            print(f"files kept in {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)
    wall = statistics.median(r["wall_s"] for r in runs)
    rows = runs[0]["rows"]
    print(json.dumps({
        "clients": args.clients, "months": args.months, "repeat": args.repeat,
        "median_wall_s": round(wall, 2), "rows": rows, "rows_per_s": round(rows / wall),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "landing_mb": round(runs[0]["landing_mb"]), "rows_by_entity": runs[0]["totals"],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
