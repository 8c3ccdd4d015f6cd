"""Ingestion benchmark: simulate a landing zone, ingest it, and read the same UTF-8 files with
DuckDB's own read_csv / read_json as the reference.

    .venv/bin/python benchmarks/bench_ingest.py --clients 100000 --months 24 --workdir /tmp/bench

Each phase runs in its own process so its wall time and peak RSS are its own. Prints one line per
phase and the ratio ingest rows/s : DuckDB rows/s over the UTF-8 departments (crm, risk, projects,
service; DuckDB has no GBK reader without a downloadable extension, so finance is measured only in
the full ingest). Goal (issue 2): ratio >= 1/3.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import run  # noqa: E402  (the process-tree RSS sampler)

UTF8_DEPARTMENTS = ("crm", "risk", "projects", "service")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _manifest_rows(landing: Path, departments: tuple[str, ...] | None = None) -> int:
    total = 0
    for manifest in landing.glob("*/*/_manifest.json"):
        if departments is None or manifest.parent.parent.name in departments:
            total += sum(f["rows"] for f in json.loads(manifest.read_text())["files"].values())
    return total


def phase_simulate(args: argparse.Namespace) -> dict:
    from tiering.simulate import simulate

    simulate(args.workdir / "landing", args.workdir / "truth", clients=args.clients,
             months=args.months, start=args.start, seed=args.seed)
    return {"rows": _manifest_rows(args.workdir / "landing")}


def phase_ingest(args: argparse.Namespace) -> dict:
    from tiering.config import Paths
    from tiering.ingest import ingest

    home = args.workdir / f"home_{args.which}"
    shutil.rmtree(home, ignore_errors=True)
    landing = args.workdir / ("landing" if args.which == "all" else "landing_utf8")
    os.environ["TIERING_LANDING_DIR"] = str(landing)
    start = time.perf_counter()
    summary = ingest(Paths(home=home))
    wall = time.perf_counter() - start
    rows = sum((r.rows_loaded or 0) + (r.rows_quarantined or 0) for r in summary.results)
    return {"rows": rows, "wall": wall, "rejected": len(summary.of("rejected")),
            "quarantined": sum(r.rows_quarantined or 0 for r in summary.results)}


def phase_duckdb(args: argparse.Namespace) -> dict:
    import duckdb

    landing = args.workdir / "landing_utf8"
    con = duckdb.connect()
    con.execute("set threads = 2")
    rows = 0
    start = time.perf_counter()
    for path in sorted(landing.glob("*/*/*.*")):
        if path.suffix == ".csv":
            reader = f"read_csv('{path}', header = true, all_varchar = true, ignore_errors = true)"
        elif path.suffix == ".jsonl":
            reader = f"read_json('{path}', format = 'newline_delimited', ignore_errors = true)"
        else:
            continue
        con.execute(f"create or replace temp table t as select * from {reader}")
        rows += con.execute("select count(*) from t").fetchone()[0]
    return {"rows": rows, "wall": time.perf_counter() - start}


PHASES = {"simulate": phase_simulate, "ingest": phase_ingest, "duckdb": phase_duckdb}


def run_phase(args: argparse.Namespace, phase: str, which: str = "all") -> dict:
    """Run one phase in its own process; peak RSS is sampled over its whole process tree (the
    simulator and the ingestion fan out to worker processes)."""
    command = [sys.executable, __file__, "--phase", phase, "--which", which,
               "--clients", str(args.clients), "--months", str(args.months),
               "--start", args.start, "--seed", str(args.seed), "--workdir", str(args.workdir)]
    log = args.workdir / f"{phase}_{which}.log"
    measured = run(command, dict(os.environ), log)
    result = json.loads(log.read_text(encoding="utf-8").strip().splitlines()[-1])
    result.setdefault("wall", measured["wall_s"])
    result["peak_rss_mb"] = max(result["peak_rss_mb"], measured["peak_rss_mb"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2024-11")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tiering-bench-ingest"))
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--which", default="all", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    if args.phase:
        result = PHASES[args.phase](args)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return

    landing = args.workdir / "landing"
    lines = [f"clients={args.clients:,} months={args.months} (workdir {args.workdir})"]
    if not (landing.exists() and any(landing.glob("*/*/_manifest.json"))):
        sim = run_phase(args, "simulate")
        lines.append(f"simulate      {sim['wall']:8.1f} s  {sim['peak_rss_mb']:8.0f} MB peak  "
                     f"{sim['rows']:>12,} rows  {sim['rows'] / sim['wall']:>12,.0f} rows/s")
    utf8 = args.workdir / "landing_utf8"
    shutil.rmtree(utf8, ignore_errors=True)
    utf8.mkdir(parents=True)
    for department in UTF8_DEPARTMENTS:
        if (landing / department).exists():
            (utf8 / department).symlink_to(landing / department)
    results = {
        "ingest (all)": run_phase(args, "ingest", "all"),
        "ingest (utf8)": run_phase(args, "ingest", "utf8"),
        "duckdb (utf8)": run_phase(args, "duckdb"),
    }
    for name, r in results.items():
        lines.append(f"{name:13} {r['wall']:8.1f} s  {r['peak_rss_mb']:8.0f} MB peak  "
                     f"{r['rows']:>12,} rows  {r['rows'] / r['wall']:>12,.0f} rows/s")
    ours, reference = results["ingest (utf8)"], results["duckdb (utf8)"]
    ratio = (ours["rows"] / ours["wall"]) / (reference["rows"] / reference["wall"])
    lines.append(f"ratio ingest : duckdb (UTF-8 files) = {ratio:.2f}  (goal >= 0.33)")
    lines.append(f"quarantined rows: {results['ingest (all)']['quarantined']:,}, "
                 f"rejected deliveries: {results['ingest (all)']['rejected']}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
