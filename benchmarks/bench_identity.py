"""Score identity resolution (client_source_xref) against the simulator's ground truth.

    # score an existing build
    .venv/bin/python benchmarks/bench_identity.py --home $TIERING_HOME --truth $TIERING_HOME/truth
    # simulate, ingest, build and score in a scratch home (timings included)
    .venv/bin/python benchmarks/bench_identity.py --home /tmp/idr/bench --simulate 2000 --months 12
    # A/B of a threshold on one build: set a column of seed identity_thresholds in the build's
    # warehouse, rebuild the identity models and score (the build keeps the value: `dbt seed
    # --select identity_thresholds` restores the seed's)
    .venv/bin/python benchmarks/bench_identity.py --home $TIERING_HOME \
        --threshold fuzzy_min_located_core_length=6

Pairwise precision / recall over identity-bearing records except tickets (a pair = two records
in the same client; true pair = two records of the same company), per department and per `mess`
code (a record's pairs counted from its side); ticket attribution accuracy (a ticket is right
when its client is the client holding most of its company's records); the worst false merges
and misses; per xref rule, the share of its records that sit with their company's main client.
A truth record missing from client_source_xref is scored as a client of its own (all
its true pairs are misses, a ticket is wrong) and counted in `missing_from_xref`.

Bounds set by the data (reported beside the overall figures, never instead of them):
- tickets: `attributable` leaves out tickets that name no company and come from the caller's own
  mobile; `identifiable` keeps only tickets that name a company or whose caller phone some other
  record ties to the company (a CRM contact phone, or another ticket from that phone naming it).
- `without_ambiguous_short_names`: precision / recall when the records typed as a short name
  (no legal form) with no tax identifier, whose name starts the full names of at least two true
  companies (in the record's own region when it states one), are left out: nothing in such a
  record tells the companies apart.
- `without_ambiguous_names`: the same, also leaving out full names stating no region, with no
  tax identifier, whose core at least two true companies carry (one brand in two cities typed
  without its city).
- `without_name_collisions`: precision / recall leaving out the records of true companies that
  share their city and their registered name, up to the region's placement (prefix, `市`,
  brackets), legal form, 集团 and 控股, with another true company (芜湖黑石商贸有限公司 and
  黑石（芜湖）商贸有限公司): the contract makes those forms mess of one name, the naming
  regulation gives a name in a city to one company, and a generator with a small vocabulary
  makes such pairs at scale. Needs the truth's companies (name, city).
All set-based in DuckDB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parent.parent

SCORING_SQL = """
create or replace temp table scored as
select
    t.department, t.entity, t.record_id, t.company_id, coalesce(t.mess, 'clean') as mess,
    coalesce(x.client_key, 'missing|' || t.department || '|' || t.entity || '|' || t.record_id)
        as client_key,
    coalesce(x.match_rule, 'missing_from_xref') as match_rule,
    x.record_id is null as is_missing
from truth t
left join xref x using (department, entity, record_id);

create or replace temp table non_ticket as
select * from scored
where entity <> 'tickets'
  and not exists (select 1 from excluded e
                  where e.department = scored.department and e.entity = scored.entity
                    and e.record_id = scored.record_id);

create or replace temp table per_record as
with
client_sizes as (select client_key, count(*) as n from non_ticket group by 1),
company_sizes as (select company_id, count(*) as n from non_ticket group by 1),
both_sizes as (select client_key, company_id, count(*) as n from non_ticket group by 1, 2)
select
    r.*,
    cs.n - 1 as predicted_pairs,
    ts.n - 1 as true_pairs,
    bs.n - 1 as correct_pairs
from non_ticket r
join client_sizes cs using (client_key)
join company_sizes ts using (company_id)
join both_sizes bs using (client_key, company_id);
"""


def _ratio(num: float, den: float) -> float:
    return 1.0 if den == 0 else num / den


def _ambiguous_names(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables `ambiguous_short` and `ambiguous_place` (department, entity, record_id):
    non-ticket records without a tax identifier that nothing tells apart between two true
    companies. Short: typed without legal form, and the full names of at least two true
    companies start with the record's name core (in the record's region when it states one).
    Place: a full name stating no region whose core the full names of at least two true
    companies carry. Needs the warehouse's records model; empty without it."""
    try:
        con.execute("select is_short_name, name_core, region_key, tax_code from records limit 0")
    except duckdb.Error:
        for table in ("ambiguous_short", "ambiguous_place"):
            con.execute(f"create or replace temp table {table} (department varchar, "
                        "entity varchar, record_id varchar)")
        return
    con.execute(
        """
        create or replace temp table labelled as
        select r.department, r.entity, r.record_id, r.is_short_name, r.name_core,
               r.region_key, r.tax_code, t.company_id
        from records r join truth t using (department, entity, record_id)
        where r.name_core is not null
        """
    )
    con.execute(
        """
        create or replace temp table ambiguous_short as
        select s.department, s.entity, s.record_id
        from labelled s
        join labelled f
            on not f.is_short_name
            and starts_with(f.name_core, s.name_core)
            and (s.region_key is null or f.region_key = s.region_key)
        where s.is_short_name and s.tax_code is null
        group by all
        having count(distinct f.company_id) >= 2
        """
    )
    con.execute(
        """
        create or replace temp table ambiguous_place as
        select s.department, s.entity, s.record_id
        from labelled s
        join labelled f
            on not f.is_short_name and f.name_core = s.name_core
        where not s.is_short_name and s.tax_code is null and s.region_key is null
        group by all
        having count(distinct f.company_id) >= 2
        """
    )


def _name_collisions(con: duckdb.DuckDBPyConnection) -> int | None:
    """Temp table `colliding` (company_id) of true companies whose city and collapsed name
    another true company shares; returns how many, or None without the truth's companies."""
    try:
        con.execute("select company_id, name, city from truth_companies limit 0")
    except duckdb.Error:
        return None
    con.execute(
        r"""
        create or replace temp table colliding as
        with collapsed as (
            select company_id, city,
                   replace(replace(regexp_replace(replace(replace(regexp_replace(
                       name, '[（(【\[［]' || city || '[)）】\]］]', ''),
                       city || '市', ''), city, ''),
                       '(股份有限公司|有限责任公司|有限公司)$', ''), '控股', ''), '集团', '')
                       as name_collapsed
            from truth_companies
            where name is not null and city is not null
        )
        select company_id
        from collapsed
        qualify count(*) over (partition by city, name_collapsed) > 1
        """
    )
    return int(con.execute("select count(*) from colliding").fetchone()[0])


def _pairwise(con: duckdb.DuckDBPyConnection) -> tuple[float, float, int]:
    tp, pred, true, n = (float(v or 0) for v in con.execute(
        "select sum(correct_pairs), sum(predicted_pairs), sum(true_pairs), count(*) "
        "from per_record").fetchone())
    return _ratio(tp, pred), _ratio(tp, true), int(n)


def score(con: duckdb.DuckDBPyConnection, top: int = 10, bounds: bool = True) -> dict:
    if bounds:
        _ambiguous_names(con)
    con.execute("create or replace temp table excluded as "
                "select department, entity, record_id from truth where false")
    con.execute(SCORING_SQL)
    missing = con.execute(
        "select department, count(*) from scored where is_missing group by 1 order by 1"
    ).fetchall()
    precision, recall, n = _pairwise(con)
    result: dict = {
        "records": n,
        "precision": precision,
        "recall": recall,
        "missing_from_xref": {"all": sum(c for _, c in missing), **dict(missing)},
    }
    # A record's mess code may combine several kinds (`former+short`): count it under each.
    groups = {"department": "department",
              "mess": "unnest(string_split(mess, '+'))"}
    for group, expression in groups.items():
        rows = con.execute(
            f"""select grp, count(*), sum(correct_pairs), sum(predicted_pairs), sum(true_pairs)
                from (select *, {expression} as grp from per_record) group by 1 order by 1"""
        ).fetchall()
        result[f"by_{group}"] = {
            key: {"records": cnt, "precision": _ratio(c, p), "recall": _ratio(c, t)}
            for key, cnt, c, p, t in rows
        }
    # Tickets: right when the ticket's client is its company's main client (most records).
    con.execute(
        """
        create or replace temp table company_main_client as
        with counts as (
            select company_id, client_key, count(*) as n,
                   sum(case when entity <> 'tickets' then 1 else 0 end) as n_identity
            from scored group by 1, 2
        ),
        ranked as (
            select *, row_number() over (
                partition by company_id order by n_identity desc, n desc, client_key) as rk
            from counts
        )
        select company_id, client_key from ranked where rk = 1
        """
    )
    # Per xref rule (records other than tickets): the share that sits with its company's main
    # client. A rule placing records with the wrong client shows here before it moves the
    # pairwise figures.
    rows = con.execute(
        """
        select s.match_rule, count(*),
               avg(case when s.client_key = m.client_key then 1.0 else 0.0 end)
        from non_ticket s join company_main_client m using (company_id)
        group by 1 order by 1
        """
    ).fetchall()
    result["by_rule"] = {rule: {"records": n, "with_main_client": acc} for rule, n, acc in rows}
    tickets = con.execute(
        """
        select s.match_rule, count(*) as n,
               avg(case when s.client_key = m.client_key then 1.0 else 0.0 end) as accuracy
        from scored s join company_main_client m using (company_id)
        where s.entity = 'tickets' group by rollup (s.match_rule) order by 1 nulls first
        """
    ).fetchall()
    result["tickets"] = {
        (rule or "all"): {"tickets": n, "accuracy": acc} for rule, n, acc in tickets
    }
    # Per mess code. `no_name+other_phone` (no company mentioned, called from the caller's own
    # mobile) carries nothing that identifies the company: "attributable" leaves those out.
    rows = con.execute(
        """
        select grp, count(*), avg(case when s.client_key = m.client_key then 1.0 else 0.0 end)
        from (select *, unnest(string_split(mess, '+')) as grp from scored
              where entity = 'tickets') s
        join company_main_client m using (company_id) group by 1 order by 1
        """
    ).fetchall()
    result["tickets_by_mess"] = {k: {"tickets": n, "accuracy": a} for k, n, a in rows}
    n, acc = con.execute(
        """
        select count(*), avg(case when s.client_key = m.client_key then 1.0 else 0.0 end)
        from scored s join company_main_client m using (company_id)
        where s.entity = 'tickets'
          and not (s.mess like '%no_name%' and s.mess like '%other_phone%')
        """
    ).fetchone()
    result["tickets"]["attributable"] = {"tickets": n, "accuracy": acc}
    # Identifiable: a company named, or a caller phone that another record ties to the company
    # (a CRM contact phone of one of its records, or another ticket of it from that phone that
    # names it). Needs the warehouse's ticket and record models; skipped without them.
    try:
        n, acc = con.execute(
            """
            with
            ticket_phones as (
                select s.record_id, s.company_id, s.mess, s.client_key, tk.caller_phone
                from scored s join tickets tk using (record_id)
                where s.entity = 'tickets'
            ),
            known_phones as (
                select distinct t.company_id, r.phone
                from records r join truth t using (department, entity, record_id)
                where r.phone is not null
                union
                select distinct company_id, caller_phone
                from ticket_phones
                where caller_phone is not null and mess not like '%no_name%'
            ),
            identifiable as (
                select tp.*
                from ticket_phones tp
                where tp.mess not like '%no_name%'
                   or exists (select 1 from known_phones k
                              where k.company_id = tp.company_id
                                and k.phone = tp.caller_phone)
            )
            select count(*), avg(case when i.client_key = m.client_key then 1.0 else 0.0 end)
            from identifiable i join company_main_client m using (company_id)
            """
        ).fetchone()
        result["tickets"]["identifiable"] = {"tickets": n, "accuracy": acc}
    except duckdb.Error:
        pass
    result["worst_false_merges"] = [
        dict(zip(("client_key", "companies", "records", "rules", "names"), row))
        for row in con.execute(
            f"""
            select client_key, count(distinct company_id) as companies, count(*) as records,
                   string_agg(distinct match_rule, ',') as rules,
                   string_agg(distinct t.department || ':' || t.company_id || ':' ||
                              coalesce(t.mess, ''), ' ; ') as names
            from non_ticket t group by client_key having count(distinct company_id) > 1
            order by companies desc, records desc limit {top}
            """
        ).fetchall()
    ]
    result["worst_misses"] = [
        dict(zip(("company_id", "clients", "records", "detail"), row))
        for row in con.execute(
            f"""
            select company_id, count(distinct client_key) as clients, count(*) as records,
                   string_agg(department || ':' || record_id || ':' || mess || ':' || match_rule,
                              ' ; ') as detail
            from non_ticket group by company_id having count(distinct client_key) > 1
            order by clients desc, records desc limit {top}
            """
        ).fetchall()
    ]
    if not bounds:
        return result
    # The same pairwise figures without the ambiguous names (bounds set by the data).
    short = con.execute("select count(*) from ambiguous_short").fetchone()[0]
    place = con.execute("select count(*) from ambiguous_place").fetchone()[0]
    con.execute("create or replace temp table excluded as select * from ambiguous_short")
    con.execute(SCORING_SQL)
    precision, recall, n = _pairwise(con)
    result["without_ambiguous_short_names"] = {
        "ambiguous_short_name_records": int(short), "records": n,
        "precision": precision, "recall": recall}
    con.execute("create or replace temp table excluded as "
                "select * from ambiguous_short union select * from ambiguous_place")
    con.execute(SCORING_SQL)
    precision, recall, n = _pairwise(con)
    result["without_ambiguous_names"] = {
        "ambiguous_short_name_records": int(short), "ambiguous_place_records": int(place),
        "records": n, "precision": precision, "recall": recall}
    colliding = _name_collisions(con)
    if colliding is not None:
        con.execute("create or replace temp table excluded as select t.department, t.entity, "
                    "t.record_id from truth t join colliding c using (company_id)")
        con.execute(SCORING_SQL)
        precision, recall, n = _pairwise(con)
        result["without_name_collisions"] = {
            "colliding_companies": colliding, "records": n,
            "precision": precision, "recall": recall}
    # Leave per_record over every record for callers (bench_variants groups it by company).
    con.execute("create or replace temp table excluded as "
                "select department, entity, record_id from truth where false")
    con.execute(SCORING_SQL)
    return result


def load(home: Path, truth: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as wh (read_only)")
    con.execute("create temp table xref as select * from wh.marts.client_source_xref")
    con.execute(
        f"create temp table truth as select * from read_parquet('{truth / 'source_records.parquet'}')"
    )
    companies = truth / "companies.parquet"
    if companies.exists():
        con.execute("create temp table truth_companies as "
                    f"select * from read_parquet('{companies}')")
    # What the bounds need from the build (optional: older builds may lack the columns).
    for name, query in (
        ("records", "select * from wh.intermediate.int_identity_records_unioned"),
        ("tickets", "select record_id, caller_phone "
                    "from wh.intermediate.int_identity_tickets_attributed"),
    ):
        try:
            con.execute(f"create temp table {name} as {query}")
        except duckdb.Error:
            pass
    return con


def _run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=PROJECT_DIR, env=env, check=True,
                   stdout=subprocess.DEVNULL if "--quiet" in sys.argv else None)
    return time.perf_counter() - start


def build(home: Path, clients: int, months: int, seed: int) -> dict[str, float]:
    """Simulate, ingest and dbt build into `home`; returns wall times in seconds."""
    env = dict(os.environ, TIERING_HOME=str(home), DBT_TARGET_PATH=str(home / "target"),
               DBT_LOG_PATH=str(home / "logs"))
    env.pop("TIERING_LANDING_DIR", None)
    bin_dir = PROJECT_DIR / ".venv" / "bin"
    times = {}
    times["simulate"] = _run([str(bin_dir / "tiering"), "simulate", "--out", str(home / "landing"),
                              "--truth", str(home / "truth"), "--clients", str(clients),
                              "--months", str(months), "--seed", str(seed)], env)
    times["ingest"] = _run([str(bin_dir / "tiering"), "ingest"], env)
    dbt = [str(bin_dir / "dbt"), "--quiet"]
    raw_vars = ["--vars", f"{{raw_root: '{home / 'raw'}'}}"]
    times["dbt_seed"] = _run(dbt + ["seed", "--profiles-dir", "."], env)
    # (a) staging and everything the records model reads (the learnt industry words too),
    # (b) identity after it.
    times["dbt_staging_to_records"] = _run(
        dbt + ["run", "--profiles-dir", ".", "--select", "path:models/staging",
               "+int_identity_records_unioned", *raw_vars], env)
    times["dbt_identity_after_records"] = _run(
        dbt + ["run", "--profiles-dir", ".", "--select",
               "int_identity_records_unioned+,path:models/intermediate/identity",
               "int_identity_records_unioned+,path:models/marts/clients",
               "--exclude", "int_identity_records_unioned", *raw_vars], env)
    return times


def rebuild_with_thresholds(home: Path, settings: list[str]) -> dict[str, float]:
    """Set columns of the build's identity_thresholds seed table (NAME=VALUE) and rebuild the
    identity models and client marts after the records; returns the rebuild's wall time."""
    values = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"--threshold {setting!r}: expected NAME=VALUE")
        values[name] = float(value)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        columns = dict(con.execute(
            "select column_name, table_schema from information_schema.columns "
            "where table_name = 'identity_thresholds'").fetchall())
        for name, value in values.items():
            if name not in columns:
                raise SystemExit(f"--threshold {name}: identity_thresholds has no such column "
                                 f"(it has {', '.join(sorted(columns))})")
            con.execute(f"update {columns[name]}.identity_thresholds set {name} = ?", [value])
    env = dict(os.environ, TIERING_HOME=str(home), DBT_TARGET_PATH=str(home / "target"),
               DBT_LOG_PATH=str(home / "logs"))
    dbt = [str(PROJECT_DIR / ".venv" / "bin" / "dbt"), "--quiet", "run", "--profiles-dir", "."]
    return {"dbt_identity_after_records": _run(dbt + [
        "--select", "int_identity_records_unioned+,path:models/intermediate/identity",
        "int_identity_records_unioned+,path:models/marts/clients",
        "--exclude", "int_identity_records_unioned"], env)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="TIERING_HOME of the build")
    parser.add_argument("--truth", type=Path, help="truth folder (default <home>/truth)")
    parser.add_argument("--simulate", type=int, metavar="CLIENTS",
                        help="simulate this many clients, ingest and build first")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--top", type=int, default=10, help="worst merges / misses to list")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                        help="set a column of seed identity_thresholds in the build and "
                             "rebuild identity before scoring (repeatable)")
    parser.add_argument("--no-bounds", action="store_true",
                        help="skip the bounds set by the data (without_*): at 1M clients "
                             "they take longer than everything else")
    args = parser.parse_args(argv)
    times = {}
    if args.simulate:
        times = build(args.home, args.simulate, args.months, args.seed)
    if args.threshold:
        times.update(rebuild_with_thresholds(args.home, args.threshold))
    con = load(args.home, args.truth or args.home / "truth")
    result = score(con, args.top, bounds=not args.no_bounds)
    result["seconds"] = times
    if args.threshold:
        result["thresholds"] = args.threshold
    text = json.dumps(result, ensure_ascii=False, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    ticket_accuracy = result["tickets"].get("all", {}).get("accuracy")
    ok = (result["precision"] >= 0.995 and result["recall"] >= 0.99
          and (ticket_accuracy is None or ticket_accuracy >= 0.98))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
