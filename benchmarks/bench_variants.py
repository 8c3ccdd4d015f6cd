"""The whole pipeline on variant deliveries (tiering/testing/variants.py): generate, `tiering
refresh`, then figures against the variant's truth.

    .venv/bin/python benchmarks/bench_variants.py --home /tmp/var_bench --companies 2000 --months 6

Figures: deliveries by outcome; rows delivered / loaded / quarantined and whether the quarantine
is exactly the rows broken on purpose; delivered values staging left NULL or parsed wrong, by
kind; identity coverage and pairwise precision / recall (benchmarks/bench_identity.py), also for
companies outside groups and by whether their city was in the regions seed before it covered
every prefecture (docs/robustness.md). A refresh that fails is reported, not hidden.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tiering.testing import variant_checks as checks  # noqa: E402
from tiering.testing.variants import generate, month_end  # noqa: E402

# cities of the variant vocabulary the regions seed knew before it covered every prefecture
OLD_SEED_CITIES = {"佛山", "东莞", "珠海", "无锡", "常州", "温州", "绍兴", "泉州", "烟台", "洛阳",
                   "宜昌", "绵阳", "柳州", "包头", "大连", "兰州", "银川", "海口", "芜湖", "上海",
                   "天津", "重庆"}


def _bench_identity():
    spec = importlib.util.spec_from_file_location(
        "bench_identity", PROJECT_DIR / "benchmarks" / "bench_identity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figures(home: Path, as_of: date) -> dict:
    deliveries = json.loads((home / "truth" / "deliveries.json").read_text(encoding="utf-8"))
    balance = checks.row_balance(home, deliveries)
    out: dict = {
        "deliveries": {s: sum(d["status"] == s for d in deliveries)
                       for s in ("loaded", "rejected", "pending")},
        "rows": {"delivered": sum(b[1] for b in balance), "loaded": sum(b[2] for b in balance),
                 "quarantined": sum(b[3] for b in balance),
                 "files_out_of_balance": [b for b in balance if b[1] != b[2] + b[3]]},
    }
    with checks.connect(home) as con:
        unexpected, missed = checks.quarantine_diff(con, as_of)
        out["quarantine"] = {"broken_on_purpose": con.execute(
            f"select count(*) from expected_quarantine where {checks.loaded(as_of)}").fetchone()[0],
            "quarantined_not_broken": len(unexpected), "broken_not_quarantined": len(missed),
            "examples": (unexpected + missed)[:5]}
        parsed = checks.parse_summary(con, as_of)
        out["parsing"] = {k: parsed[k] for k in ("values", "null", "wrong", "null_rate",
                                                 "flavours", "by_kind", "examples")}
        coverage = checks.identity_coverage(con)
        out["identity_coverage"] = {**{k: v for k, v in coverage.items() if k != "missing"},
                                    "missing": len(coverage["missing"])}
    bench = _bench_identity()
    con = bench.load(home, home / "truth")
    result = bench.score(con)
    con.execute(f"create temp table companies as select * from "
                f"'{home / 'truth' / 'companies.parquet'}'")
    old = ", ".join(f"'{c}'" for c in OLD_SEED_CITIES)
    groups = con.execute(f"""
        select case when group_id is not null then 'group member'
                    when city in ({old}) then 'city in the old seed'
                    else 'city added to the seed' end,
               count(*), sum(correct_pairs) / sum(predicted_pairs),
               sum(correct_pairs) / sum(true_pairs)
        from per_record join companies using (company_id) group by 1 order by 1""").fetchall()
    out["identity"] = {
        "records": result["records"], "precision": result["precision"],
        "recall": result["recall"], "by_department": result["by_department"],
        "by_company": {g: {"records": n, "precision": p, "recall": r} for g, n, p, r in groups},
        "tickets_attributable": result["tickets"].get("attributable"),
        "worst_false_merges": result["worst_false_merges"][:3],
        "worst_misses": result["worst_misses"][:3],
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="scratch TIERING_HOME")
    parser.add_argument("--companies", type=int, default=2000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--start", default="2025-07")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--credit-world", action="store_true",
                        help="risk, registry and finance values follow latent credit health "
                        "(tiering/testing/variant_credit.py)")
    parser.add_argument("--mess-scale", type=float, default=1.0,
                        help="multiply the rates of name and identifier mess (typos, dropped "
                        "regions, wrong USCCs, ...)")
    args = parser.parse_args(argv)
    home = args.home
    seconds: dict[str, float] = {}
    if not (home / "landing").exists():
        started = time.perf_counter()
        generate(home / "landing", home / "truth", args.companies, args.months, args.start,
                 args.seed, credit_world=args.credit_world, mess_scale=args.mess_scale)
        seconds["generate"] = round(time.perf_counter() - started, 1)
    year, month = (int(x) for x in args.start.split("-"))
    as_of = month_end(year, month + args.months - 1)  # the last delivered month
    env = dict(os.environ, TIERING_HOME=str(home), TIERING_GX_UNCOMMITTED=str(home / "gx"),
               DBT_TARGET_PATH=str(home / "target"))
    env.pop("TIERING_LANDING_DIR", None)
    started = time.perf_counter()
    refresh = subprocess.run([str(PROJECT_DIR / ".venv" / "bin" / "tiering"), "refresh",
                              "--as-of", as_of.isoformat()], cwd=PROJECT_DIR, env=env,
                             capture_output=True, text=True)
    seconds["refresh"] = round(time.perf_counter() - started, 1)
    result = {"companies": args.companies, "months": args.months, "as_of": as_of.isoformat(),
              "mess_scale": args.mess_scale,
              "refresh_exit": refresh.returncode,
              "refresh_output": (refresh.stdout + refresh.stderr)[-1500:],
              "seconds": seconds, **figures(home, as_of)}
    text = json.dumps(result, ensure_ascii=False, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0 if refresh.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
