"""Score short-name placements against the truth, for one or more compiled selects of
`int_identity_short_names_placed`, on an existing warehouse (read-only: nothing is written).

Scoring the whole xref with bench_identity.py takes long at 1M clients; the placement model
alone runs in seconds. Each select is run as it would be built (its clusters and records are the
warehouse's `int_identity_clusters_propagated` and `int_identity_records_unioned`), and every
cluster it places (attach_rule set) counts as right when one of its records' true companies is
a true company of the client it joins (of that client's propagated cluster).

    export TIERING_HOME=/tmp/bp/c1000000/home_first TIERING_AS_OF_DATE=2026-10-31
    .venv/bin/dbt compile -q -s int_identity_short_names_placed --target-path /tmp/tgt_b
    .venv/bin/python benchmarks/bench_short_names.py --db $TIERING_HOME/warehouse.duckdb \\
        --truth /tmp/bp/c1000000/truth/source_records.parquet \\
        --select a=/tmp/tgt_a/compiled/tiering/models/intermediate/identity/int_identity_short_names_placed.sql \\
        --select b=/tmp/tgt_b/compiled/tiering/models/intermediate/identity/int_identity_short_names_placed.sql

`--replace OLD=NEW` edits the selects' text before they run (a warehouse built before a seed
column existed: `--replace thresholds.short_name_project_min_receipts=2`).
Prints one JSON object per select: seconds, placed and right clusters per attach_rule, and
clusters per unplaced_reason.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"{flag} {text!r}: expected NAME=VALUE")
    return name, value


def score(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> dict:
    started = time.perf_counter()
    con.execute(f"create or replace temp table placed_{name} as {sql}")
    seconds = time.perf_counter() - started
    placed = con.execute(f"""
        with moved as (
            select distinct cluster_label, final_label, attach_rule
            from placed_{name}
            where attach_rule is not null
        ),
        judged as (
            select
                moved.cluster_label,
                moved.attach_rule,
                bool_or(list_contains(joined.companies, short_records.company_id)) as is_right
            from moved
            inner join record_companies as short_records
                on moved.cluster_label = short_records.cluster_label
            inner join cluster_companies as joined
                on moved.final_label = joined.cluster_label
            group by moved.cluster_label, moved.attach_rule
        )
        select attach_rule, count(*), count(*) filter (where is_right)
        from judged group by attach_rule order by attach_rule""").fetchall()
    unplaced = con.execute(f"""
        select coalesce(unplaced_reason, '(none)'), count(distinct cluster_label)
        from placed_{name} where attach_rule is null
        group by unplaced_reason order by 1""").fetchall()
    return {
        "select": name,
        "seconds": round(seconds, 2),
        "placed": {rule: {"clusters": n, "right": right} for rule, n, right in placed},
        "unplaced": dict(unplaced),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, type=Path, help="the warehouse (read-only)")
    parser.add_argument("--truth", required=True, type=Path,
                        help="the generator's source_records.parquet")
    parser.add_argument("--select", action="append", required=True, metavar="NAME=PATH",
                        help="a compiled select of int_identity_short_names_placed")
    parser.add_argument("--replace", action="append", default=[], metavar="OLD=NEW")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    selects = [_pair(s, "--select") for s in args.select]
    replacements = [_pair(r, "--replace") for r in args.replace]
    con = duckdb.connect(str(args.db), read_only=True)
    con.execute(f"set threads = {args.threads}")
    con.execute("""
        create temp table record_companies as
        select records.record_key, clusters.cluster_label, truth.company_id
        from intermediate.int_identity_records_unioned as records
        inner join intermediate.int_identity_clusters_propagated as clusters
            on records.record_key = clusters.record_key
        left join read_parquet(?) as truth
            on truth.department = records.department
            and truth.entity = records.entity
            and truth.record_id = records.record_id""", [str(args.truth)])
    con.execute("""
        create temp table cluster_companies as
        select cluster_label, list(distinct company_id) as companies
        from record_companies group by cluster_label""")
    for name, path in selects:
        sql = Path(path).read_text()
        for old, new in replacements:
            sql = sql.replace(old, new)
        print(json.dumps(score(con, name, sql), ensure_ascii=False))


if __name__ == "__main__":
    main()
