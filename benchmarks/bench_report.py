"""Time the refresh report on a published serving copy: the HTML sections and the workbook.

The report (`tiering.report.generate`) reads the serving database read-only: eight HTML
sections, then an Excel workbook of the main marts (up to 50,000 rows a sheet). This script
times each section and the workbook --repeat times and prints the medians; the workbook goes to
a scratch file, so the home is left as it was.

    .venv/bin/python benchmarks/bench_report.py --serving /tmp/bp/c100000/home_first/serving.duckdb

To compare two versions of the code, run it from each checkout (the script imports the
`tiering` package of the checkout it sits in). Results: docs/benchmarks.md ("100,000 clients on
session 36's code").
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))


def main(argv: list[str] | None = None) -> int:
    from tiering import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serving", type=Path, required=True, help="a published serving.duckdb")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="YYYY-MM-DD (default: the latest published period)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    db = report.Serving(args.serving)
    as_of = args.as_of or db.con.execute(
        "select as_of_period from main.publish_log order by version desc limit 1").fetchone()[0]
    builders = (report.section_distribution, report.section_migrations, report.section_pareto,
                report.section_profile, report.section_performance, report.section_guardrails,
                report.section_review_queue, report.section_quality)
    seconds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_report_") as scratch:
        for _ in range(args.repeat):
            for build in builders:
                started = time.perf_counter()
                build(db, as_of)
                seconds.setdefault(build.__name__, []).append(time.perf_counter() - started)
            started = time.perf_counter()
            report.write_excel(db, Path(scratch) / "report.xlsx", as_of)
            seconds.setdefault("write_excel", []).append(time.perf_counter() - started)
            print(f"write_excel {seconds['write_excel'][-1]:.2f} s", flush=True)
    db.close()
    print(f"as of {as_of}, {args.repeat} runs, median seconds (min-max):")
    for name, runs in seconds.items():
        print(f"  {name:24s} {statistics.median(runs):6.2f} ({min(runs):.2f}-{max(runs):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
