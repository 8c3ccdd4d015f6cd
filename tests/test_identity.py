"""Identity resolution end to end: simulate -> ingest -> dbt build in a temporary TIERING_HOME,
then assertions on client_source_xref, dim_clients and key stability against the truth."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dbt_cli import run_dbt
from project_copy import copy_project

PROJECT_DIR = Path(__file__).resolve().parent.parent
CLIENTS, MONTHS, START, SEED = 1000, 4, "2025-01", 20261128
FIRST_AS_OF, LAST_AS_OF = "2025-03-31", "2025-04-30"

_spec = importlib.util.spec_from_file_location(
    "bench_identity", PROJECT_DIR / "benchmarks" / "bench_identity.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _dbt(home: Path, *args: str, as_of: str | None = None) -> None:
    # the as-of date as `tiering` gives it (macros/as_of_date.sql): the vars stay the same from
    # one call to the next, so each starts from the saved parse instead of parsing the project
    env = dict(os.environ)
    env.pop("TIERING_LANDING_DIR", None)
    env.pop("TIERING_AS_OF_DATE", None)
    if as_of is not None:
        env["TIERING_AS_OF_DATE"] = as_of
    proc = run_dbt(home, *args, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _xref(home: Path) -> dict[tuple[str, str, str], str]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select department, entity, record_id, client_key "
                       "from marts.client_source_xref").fetchall()
    return {(d, e, r): k for d, e, r, k in rows}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One simulated landing zone, built as of month 3 (twice) and then month 4."""
    from tiering.config import Paths
    from tiering.ingest import ingest
    from tiering.simulate import simulate

    home = tmp_path_factory.mktemp("idr_home")
    simulate(home / "landing", home / "truth", CLIENTS, MONTHS, START, SEED)
    old_landing = os.environ.pop("TIERING_LANDING_DIR", None)
    try:
        ingest(Paths(home=home))
    finally:
        if old_landing is not None:
            os.environ["TIERING_LANDING_DIR"] = old_landing
    identity = ["--select", "+dim_clients", "+client_key_changes", "+client_xref_history",
                "+identity_review_queue"]
    # Only our own dbt tests (data tests + unit tests of the identity models) run here; the
    # staging models' tests belong to their own suite.
    ours = ["--select", "path:models/intermediate/identity", "path:models/marts/clients",
            "--indirect-selection", "cautious"]
    _dbt(home, "seed")
    _dbt(home, "run", *identity, as_of=FIRST_AS_OF)
    _dbt(home, "test", *ours, as_of=FIRST_AS_OF)
    first = _xref(home)
    _dbt(home, "run", *identity, as_of=FIRST_AS_OF)
    rerun = _xref(home)
    _dbt(home, "run", *identity, as_of=LAST_AS_OF)
    _dbt(home, "test", *ours, as_of=LAST_AS_OF)
    return {"home": home, "first": first, "rerun": rerun, "last": _xref(home)}


def test_every_record_linked_exactly_once(warehouse: dict) -> None:
    home = warehouse["home"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        linked = con.execute("""
            select count(*), count(distinct department || entity || record_id),
                   count(client_key) from marts.client_source_xref""").fetchone()
        truth = con.execute(f"""
            select count(*) from read_parquet('{home / "truth" / "source_records.parquet"}') t
            where not exists (
                select 1 from marts.client_source_xref x
                where x.department = t.department and x.entity = t.entity
                  and x.record_id = t.record_id)""").fetchone()[0]
        dim_gap = con.execute("""
            select count(*) from marts.client_source_xref x
            left join marts.dim_clients d using (client_key) where d.client_key is null
        """).fetchone()[0]
    assert linked[0] == linked[1] == linked[2] > 0
    assert dim_gap == 0
    # Every truth record delivered and parsed by the last as-of date is in the xref; the
    # only ones missing are rows broken beyond repair (quarantined) -- a tiny share.
    assert truth <= 0.01 * linked[0]


@pytest.mark.parametrize("clients_model", ["int_identity_clusters_propagated",
                                           "int_identity_clients_resolved"])
def test_label_propagation_converged(warehouse: dict, clients_model: str) -> None:
    """No matched pair ends in two clients, after propagation and after short names are placed
    (a placed cluster moves whole)."""
    with duckdb.connect(str(warehouse["home"] / "warehouse.duckdb"), read_only=True) as con:
        split = con.execute(f"""
            select count(*)
            from intermediate.int_identity_pairs_decided p
            join intermediate.{clients_model} a on p.record_key_a = a.record_key
            join intermediate.{clients_model} b on p.record_key_b = b.record_key
            where p.is_match and a.client_key <> b.client_key""").fetchone()[0]
        matched = con.execute("select count(*) from intermediate.int_identity_pairs_decided "
                              "where is_match").fetchone()[0]
    assert matched > 0
    assert split == 0


def test_participation_ids_keep_the_raw_partner_name(warehouse: dict) -> None:
    """record_id of a participation is project_code|partner_name|role exactly as delivered
    (stray spaces included): every delivered participation of the truth is in the xref."""
    home = warehouse["home"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        missing, spaced = con.execute(f"""
            select
                count(*) filter (where x.record_id is null),
                count(*) filter (where x.record_id is not null and t.record_id like '% %')
            from read_parquet('{home / "truth" / "source_records.parquet"}') t
            join (select distinct project_code || '|' || partner_name || '|' || role as record_id
                  from staging.stg_projects__participations) delivered
                on t.record_id = delivered.record_id
            left join marts.client_source_xref x
                on x.department = t.department and x.entity = t.entity
                and x.record_id = t.record_id
            where t.entity = 'participations'""").fetchone()
    assert missing == 0
    assert spaced > 0


def test_quality_against_truth(warehouse: dict) -> None:
    home = warehouse["home"]
    con = bench.load(home, home / "truth")
    result = bench.score(con)
    # Goals (docs/benchmarks.md): precision >= 0.995, recall >= 0.99. Bare short names whose
    # stem several companies carry cannot be placed from the data; without them recall must
    # reach the goal, with them it gets that slack.
    assert result["precision"] >= 0.995, result["worst_false_merges"]
    assert result["recall"] >= 0.98, result["worst_misses"]
    bound = result["without_ambiguous_short_names"]
    assert bound["precision"] >= 0.995 and bound["recall"] >= 0.99, bound
    # Tickets attributed by a mentioned name or an unambiguous phone must be right; tickets with
    # neither (the caller's own mobile, no company named) cannot be attributed (docs/identity.md).
    tickets = result["tickets"]
    for rule in ("ticket_company_name", "ticket_short_name", "ticket_fuzzy_name"):
        if rule in tickets:
            assert tickets[rule]["accuracy"] >= 0.95, tickets
    assert tickets["ticket_phone"]["accuracy"] >= 0.95, tickets
    assert tickets["identifiable"]["accuracy"] >= 0.95, tickets


def test_rerun_gives_identical_keys(warehouse: dict) -> None:
    assert warehouse["rerun"] == warehouse["first"]


def test_new_month_keeps_keys_of_unaffected_clients(warehouse: dict) -> None:
    first, last = warehouse["first"], warehouse["last"]
    with duckdb.connect(str(warehouse["home"] / "warehouse.duckdb"), read_only=True) as con:
        changes = con.execute("select old_client_key, new_client_key, change_type "
                          "from marts.client_key_changes").fetchall()
        as_of = con.execute("select distinct as_of_date from marts.client_xref_history "
                        "order by 1").fetchall()
    assert [row[0] for row in as_of] == [date.fromisoformat(FIRST_AS_OF),
                                         date.fromisoformat(LAST_AS_OF)]
    recorded = {(old, new) for old, new, _ in changes}
    moved = {(first[r], last[r]) for r in first if r in last and first[r] != last[r]}
    # Every key change is recorded, and all other records keep their key.
    assert moved == recorded
    kept = sum(1 for r in first if last.get(r) == first[r])
    assert kept >= 0.99 * len(first)


def test_golden_records(warehouse: dict) -> None:
    with duckdb.connect(str(warehouse["home"] / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute("""
            select count(*), count(distinct client_key),
                   sum(case when has_external and registered_name_source <> 'external'
                            then 1 else 0 end),
                   sum(case when uscc is not null and length(uscc) <> 18 then 1 else 0 end),
                   min(completeness_score), max(completeness_score),
                   sum(case when industry_section is not null then 1 else 0 end)
            from marts.dim_clients""").fetchone()
    count, distinct, wrong_source, bad_uscc, low, high, with_industry = row
    assert count == distinct > 0
    assert wrong_source == 0  # the registry wins the registered name whenever it holds one
    assert bad_uscc == 0
    assert 0 <= low <= high <= 1
    assert with_industry > 0.5 * count


def test_a_seed_whose_columns_changed_reloads_into_an_existing_warehouse(tmp_path: Path) -> None:
    """Seeds are recreated on every run (`+full_refresh: true`): a warehouse built before a
    release that added a seed column (here identity_thresholds' fuzzy_min_located_core_length)
    takes the new column on its next run instead of failing the whole refresh."""
    _dbt(tmp_path, "seed", "--select", "identity_thresholds")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("alter table seeds.identity_thresholds "
                    "drop column fuzzy_min_located_core_length")
    _dbt(tmp_path, "seed", "--select", "identity_thresholds")  # no --full-refresh
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        (located,) = con.execute("select fuzzy_min_located_core_length "
                                 "from seeds.identity_thresholds").fetchone()
    assert located == 4


def test_stewards_decisions_link_and_unlink_records(warehouse: dict, tmp_path: Path) -> None:
    """Seed identity_decisions (docs/identity.md, "Data stewards' decisions"), on a copy of the
    built warehouse and of the project: `same` joins two records the rules left in two clients
    (the xref says steward_same), `different` splits a matched pair that nothing else links, a
    `different` the clusters cannot honour (the records linked through a third) and a mistyped
    key are reported by the warning test, and a decision valid only from a later month changes
    nothing."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(warehouse["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    (home / "raw").symlink_to(warehouse["home"] / "raw", target_is_directory=True)
    db = home / "warehouse.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        # two clients whose records the truth says are one company (a miss)
        con.execute(f"create temp table truth as select * from "
                    f"'{warehouse['home'] / 'truth' / 'source_records.parquet'}'")
        miss = con.execute("""
            select min(x.department || '|' || x.entity || '|' || x.record_id),
                   max(x.department || '|' || x.entity || '|' || x.record_id)
            from marts.client_source_xref x
            join truth t using (department, entity, record_id)
            where x.entity <> 'tickets'
            group by t.company_id
            having count(distinct x.client_key) = 2 and count(*) = 2""").fetchone()
        pairs = con.execute("""
            with sizes as (select client_key, count(*) as n
                           from intermediate.int_identity_clients_resolved group by 1)
            select p.record_key_a, p.record_key_b, s.n
            from intermediate.int_identity_pairs_scored p
            join intermediate.int_identity_clients_resolved c on p.record_key_a = c.record_key
            join sizes s on c.client_key = s.client_key
            where p.is_match order by p.record_key_a, p.record_key_b""").fetchall()
    assert miss is not None, "the build has no two-record miss to decide on"
    lone = next((a, b) for a, b, n in pairs if n == 2)  # a client of exactly these two
    # a matched pair of a client whose two records are also each matched to a third
    matched = {(a, b) for a, b, _ in pairs}
    triangle = next((a, b) for a, b, n in pairs if n >= 3 and any(
        tuple(sorted((a, c))) in matched and tuple(sorted((b, c))) in matched
        for x, y, _ in pairs for c in (x, y) if c not in (a, b)))
    project = copy_project(tmp_path / "project")
    # written as `tiering decide` writes them (checked against the build's xref), but for the
    # mistyped key, which it refuses
    from tiering.decide import DecisionRefused, record

    seed = project / "seeds" / "identity" / "identity_decisions.csv"
    ids = {name: record(a, b, decision, "张三", reason, valid_from, database=db,
                        seed=seed).row["decision_id"]
           for name, (a, b, decision, reason, valid_from) in {
               "miss": (miss[1], miss[0], "same", "one company", None),
               "lone": (*lone, "different", "two companies", None),
               "triangle": (*triangle, "different", "two companies", None),
               "later": (miss[0], lone[0], "same", "valid from the next month",
                         date(2025, 5, 31))}.items()}
    with pytest.raises(DecisionRefused, match=re.escape("no source record crm|clients|CRM_NO")):
        record(lone[0], "crm|clients|CRM_NO_SUCH", "same", "张三", "mistyped", database=db,
               seed=seed)
    with seed.open("a", encoding="utf-8") as handle:
        handle.write(f"D9999,{lone[0]},crm|clients|CRM_NO_SUCH,same,,张三,2026-12-01,mistyped\n")
    env = dict(os.environ, TIERING_AS_OF_DATE=LAST_AS_OF)
    env.pop("TIERING_LANDING_DIR", None)

    def run(*args: str) -> str:
        proc = run_dbt(home, *args, project=project, env=env)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return proc.stdout

    run("seed", "--select", "identity_decisions", "identity_match_rules")
    run("run", "--select", "int_identity_pairs_decided+,path:models/intermediate/identity",
        "int_identity_pairs_decided+,path:models/marts/clients")
    out = run("test", "--select", "int_identity_pairs_decided", "identity_decisions")
    with duckdb.connect(str(db), read_only=True) as con:
        def client(key: str) -> tuple[str, str]:
            department, entity, record_id = key.split("|", 2)
            return con.execute("select client_key, match_rule from marts.client_source_xref "
                               "where department = ? and entity = ? and record_id = ?",
                               [department, entity, record_id]).fetchone()
        assert client(miss[0])[0] == client(miss[1])[0]
        assert "steward_same" in {client(miss[0])[1], client(miss[1])[1]}
        assert client(lone[0])[0] != client(lone[1])[0]
        assert client(triangle[0])[0] == client(triangle[1])[0]  # linked through a third
        assert client(miss[0])[0] != client(lone[0])[0]  # "later" is not valid yet
    assert "WARN" in out and "identity_decisions_honoured" in out
    with duckdb.connect(str(db), read_only=True) as con:
        reported = con.execute(f"""
            select decision_id from ({_compiled_test(home, 'identity_decisions_honoured')})
            order by 1""").fetchall()
    assert [r[0] for r in reported] == [ids["triangle"], "D9999"]


def _compiled_test(home: Path, name: str) -> str:
    """The compiled SQL of a dbt data test of the last `dbt test` in home."""
    found = sorted((home / "target" / "compiled").rglob(f"{name}*.sql"))
    assert len(found) == 1, found
    return found[0].read_text()
