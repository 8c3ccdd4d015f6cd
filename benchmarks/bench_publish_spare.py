"""A monthly publish from a copy of the serving file against one into the spare, same delta.

    .venv/bin/python benchmarks/bench_publish_spare.py --home /tmp/bp/c1000000/home_monthly \
        --snapshots /tmp/sb --repeat 3

Needs a home left by bench_pipeline.py's monthly stage (or any two publishes in a row): the
serving file v2 (the month just published), its spare v1 (the month before) and the build
database v2 was published from. The first run saves v1 and v2 under --snapshots (two serving
files of disk: 16 GB at 1M). Each run restores the state, then publishes the build with passing
checks (tiering.publish.publish called directly):
  copy   serving := v1, no spare, TIERING_SERVING_SPARE=0: copies v1, writes the changed periods
         (what a monthly publish did before the spare, and still does when no spare is usable)
  spare  serving := v2, spare := v1: writes the same changed periods into v1
alternating --repeat times. Prints every run, the medians and their ratio (docs/benchmarks.md,
"The monthly publish into the spare").
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from datetime import date
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="TIERING_HOME after two publishes")
    parser.add_argument("--snapshots", type=Path, required=True, help="where v1 and v2 are saved")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 31),
                        help="the build's as-of date (bench_pipeline's monthly: 2026-10-31)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    os.environ["TIERING_HOME"] = str(args.home)
    from tiering.config import Paths
    from tiering.publish import publish, spare_path
    from tiering.quality import CheckResult

    paths = Paths(home=args.home)
    spare = spare_path(paths.serving)
    args.snapshots.mkdir(parents=True, exist_ok=True)
    v1, v2 = args.snapshots / "v1.duckdb", args.snapshots / "v2.duckdb"
    if not (v1.exists() and v2.exists()):
        if not spare.exists():
            raise SystemExit(f"no spare at {spare}: publish twice into {args.home} first")
        shutil.copyfile(spare, v1)
        shutil.copyfile(paths.serving, v2)
    passing = [CheckResult("bench", "passes", success=True, blocking=True)]
    times: dict[str, list[float]] = {"copy": [], "spare": []}
    for run in range(args.repeat):
        for variant in ("copy", "spare"):
            spare.unlink(missing_ok=True)
            if variant == "copy":
                shutil.copyfile(v1, paths.serving)
                os.environ["TIERING_SERVING_SPARE"] = "0"
            else:
                shutil.copyfile(v2, paths.serving)
                shutil.copyfile(v1, spare)
                os.environ["TIERING_SERVING_SPARE"] = "1"
            os.sync()
            started = time.perf_counter()
            result = publish(paths, args.as_of, passing)
            seconds = time.perf_counter() - started
            times[variant].append(seconds)
            print(f"run {run + 1} {variant}: {seconds:.1f} s (version {result.version})",
                  flush=True)
    for variant, runs in times.items():
        print(f"{variant}: median {statistics.median(runs):.1f} s of "
              f"{', '.join(f'{t:.1f}' for t in runs)}")
    print(f"spare / copy: {statistics.median(times['spare']) / statistics.median(times['copy']):.3f}")


if __name__ == "__main__":
    main()
