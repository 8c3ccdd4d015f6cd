"""What dbt's parse costs a run whose as-of date is new (docs/benchmarks.md, "The as-of date
outside dbt's vars").

A dbt invocation first parses the project, or reuses its saved parse (`partial_parse.msgpack`)
when nothing it depends on changed. The as-of date changes every month. Given in `--vars`, a new
date makes dbt parse everything again; given in TIERING_AS_OF_DATE (how `tiering` gives it,
macros/as_of_date.sql), the saved parse is reused. This times `dbt parse` both ways, alternated
(A B A B ...), each time with a date the previous invocation did not have, on an empty home, and
prints the medians and their ratio.

    .venv/bin/python benchmarks/bench_parse.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiering.config import PROJECT_DIR  # noqa: E402

DBT = str(Path(sys.executable).parent / "dbt")


def month_ends(count: int) -> list[str]:
    ends, day = [], date(2026, 10, 31)
    for _ in range(count):
        ends.append(day.isoformat())
        day = day.replace(day=1) - timedelta(days=1)
    return ends


def parse(home: Path, target: str, as_of: str, *, in_vars: bool) -> tuple[float, bool]:
    """Seconds of one `dbt parse` with a new date, and whether dbt parsed everything again."""
    env = {**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / target),
           "DBT_LOG_PATH": str(home / "logs"), "TIERING_AS_OF_DATE": as_of}
    variables = json.dumps({"as_of_date": as_of} if in_vars else {})
    start = time.perf_counter()
    done = subprocess.run([DBT, "parse", "--profiles-dir", str(PROJECT_DIR), "--vars", variables],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"dbt parse failed:\n{done.stdout[-3000:]}")
    return seconds, "Unable to do partial parsing" in done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    dates = month_ends(2 * args.repeat + 2)
    with tempfile.TemporaryDirectory(prefix="bench_parse_") as folder:
        home = Path(folder)
        # each way gets its own target, parsed once before the timed runs
        parse(home, "target_vars", dates.pop(), in_vars=True)
        parse(home, "target_env", dates.pop(), in_vars=False)
        timings: dict[str, list[float]] = {"vars": [], "environment": []}
        reparsed: dict[str, int] = {"vars": 0, "environment": 0}
        for _ in range(args.repeat):
            for way, in_vars in (("vars", True), ("environment", False)):
                seconds, full = parse(home, f"target_{'vars' if in_vars else 'env'}",
                                      dates.pop(), in_vars=in_vars)
                timings[way].append(seconds)
                reparsed[way] += full
    medians = {way: statistics.median(values) for way, values in timings.items()}
    print(json.dumps({
        "repeat": args.repeat,
        "seconds": {way: [round(v, 2) for v in values] for way, values in timings.items()},
        "median_s": {way: round(v, 2) for way, v in medians.items()},
        "full_parses": reparsed,
        "environment_over_vars": round(medians["environment"] / medians["vars"], 3),
        "saved_per_invocation_s": round(medians["vars"] - medians["environment"], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
