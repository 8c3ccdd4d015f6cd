"""A perfect data steward: decide every pair of identity_review_queue by the truth, rebuild
identity with those decisions (seed identity_decisions) and score before and after
(docs/identity.md, "Data stewards' review queue").

    .venv/bin/python benchmarks/bench_steward.py --home /tmp/var_bench --as-of 2025-12-31

The home needs a built warehouse (any refresh or `bench_identity.py --simulate`) and the truth
(`<home>/truth`). It is left as it was: its warehouse and the dbt project are copied to a
scratch folder, the decisions go into the copy's seed, and identity (from the pair rules on) is
rebuilt there twice, without and with them. Prints JSON: the queue per reason (pairs, and how
many of them the truth calls one company), and precision, recall and ticket accuracy
before and after (scored as benchmarks/bench_identity.py scores).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_identity = _module("bench_identity", PROJECT_DIR / "benchmarks" / "bench_identity.py")
project_copy = _module("project_copy", PROJECT_DIR / "tests" / "project_copy.py")

# identity from the pair rules on (a change to them is measured too), and the client marts
REBUILD = ["--select", "int_identity_pairs_scored+,path:models/intermediate/identity",
           "int_identity_pairs_scored+,path:models/marts/clients"]
DECISIONS = Path("seeds") / "identity" / "identity_decisions.csv"


def rebuild(project: Path, home: Path, dbt_vars: list[str]) -> float:
    """Reload the decisions seed and rebuild identity from the pair rules on; seconds."""
    env = dict(os.environ, TIERING_HOME=str(home), DBT_TARGET_PATH=str(home / "target"),
               DBT_LOG_PATH=str(home / "logs"))
    env.pop("TIERING_LANDING_DIR", None)
    dbt = [str(PROJECT_DIR / ".venv" / "bin" / "dbt"), "--quiet"]
    started = time.perf_counter()
    for args in (["seed", "--select", "identity_decisions", "identity_match_rules"],
                 ["run", *REBUILD]):
        subprocess.run([*dbt, *args, "--profiles-dir", str(project), *dbt_vars], cwd=project,
                       env=env, check=True)
    return time.perf_counter() - started


def figures(home: Path, truth: Path) -> dict:
    con = bench_identity.load(home, truth)
    result = bench_identity.score(con, top=0)
    con.close()
    return {"precision": result["precision"], "recall": result["recall"],
            "tickets": result["tickets"].get("all", {}).get("accuracy")}


def decide_by_truth(home: Path, truth: Path) -> tuple[list[tuple], dict]:
    """Every queue pair with the truth's answer; the queue per reason."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"attach '{home / 'warehouse.duckdb'}' as wh (read_only)")
        con.execute("create temp table truth as select department || '|' || entity || '|' || "
                    "record_id as record_key, company_id from "
                    f"read_parquet('{truth / 'source_records.parquet'}')")
        rows = con.execute("""
            select queue.review_reason, queue.record_key_a, queue.record_key_b,
                   coalesce(truth_a.company_id = truth_b.company_id, false) as one_company
            from wh.marts.identity_review_queue as queue
            left join truth as truth_a on queue.record_key_a = truth_a.record_key
            left join truth as truth_b on queue.record_key_b = truth_b.record_key
            order by queue.review_priority, queue.record_key_a, queue.record_key_b""").fetchall()
    queue: dict[str, dict[str, int]] = {}
    for reason, _, _, one in rows:
        entry = queue.setdefault(reason, {"pairs": 0, "one_company": 0})
        entry["pairs"] += 1
        entry["one_company"] += int(one)
    return rows, queue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="TIERING_HOME of the build")
    parser.add_argument("--truth", type=Path, help="truth folder (default <home>/truth)")
    parser.add_argument("--as-of", help="the build's as-of date (default: the project's)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    truth = args.truth or args.home / "truth"
    scratch = Path(tempfile.mkdtemp(prefix="bench_steward_"))
    try:
        home = scratch / "home"
        home.mkdir()
        shutil.copyfile(args.home / "warehouse.duckdb", home / "warehouse.duckdb")
        (home / "raw").symlink_to((args.home / "raw").resolve(), target_is_directory=True)
        project = project_copy.copy_project(scratch / "project")
        dbt_vars = ["--vars", f"{{as_of_date: '{args.as_of}'}}"] if args.as_of else []
        seconds = {"rebuild_without": rebuild(project, home, dbt_vars)}
        before = figures(home, truth)
        rows, queue = decide_by_truth(home, truth)
        lines = ["decision_id,record_key_a,record_key_b,decision,valid_from,decided_by,"
                 "decided_on,reason"]
        lines += [f"Q{number:06d},{a},{b},{'same' if one else 'different'},,bench_steward,"
                  f"{time.strftime('%Y-%m-%d')},{reason}"
                  for number, (reason, a, b, one) in enumerate(rows, 1)]
        (project / DECISIONS).write_text("\n".join(lines) + "\n", encoding="utf-8")
        seconds["rebuild_with"] = rebuild(project, home, dbt_vars)
        after = figures(home, truth)
        result = {"home": str(args.home), "queue": queue, "decisions": len(rows),
                  "before": before, "after": after, "seconds": seconds}
        print(json.dumps(result, ensure_ascii=False, indent=2, default=float))
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
