"""`tiering client`: resolving a query to a client and tracing it to the delivered rows, and
`tiering decide`: a data steward's decision checked against the published records, on a small
serving database written here (the same on a real refresh: tests/test_pipeline.py)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiering.cli import main as cli_main
from tiering.config import get_paths

AS_OF = date(2026, 10, 31)
OLD, NEW, OTHER = "C000000000001", "C0000000000aa", "C0000000000bb"


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    monkeypatch.delenv("TIERING_LANDING_DIR", raising=False)
    paths = get_paths()
    with duckdb.connect(str(paths.serving)) as con:
        con.execute("create schema marts")
        con.execute("""create table marts.dim_clients as select * from (values
            ('C0000000000aa', '深圳中鼎经纬实业发展有限公司', '91440300MA5F00000X', '广东', '深圳',
             'external', 3, 0.9, true, true, false, false, false, true,
             date '2025-01-31', date '2026-10-31'),
            ('C0000000000bb', '深圳中鼎经纬投资有限公司', null, '广东', '深圳',
             'crm', 1, 0.5, true, false, false, false, false, false,
             date '2025-03-31', date '2026-10-31'))
            t(client_key, registered_name, uscc, province, city, registered_name_source,
              source_record_count, completeness_score, has_crm, has_finance, has_risk,
              has_projects, has_service, has_external, first_seen_date, last_seen_date)""")
        con.execute("""create table marts.client_source_xref as select * from (values
            ('crm', 'clients', 'CRM000001', 'C0000000000aa', 'uscc', 1.0,
             date '2025-01-31', date '2026-10-31', 'crm/2026-10-31/clients.csv', 2),
            ('finance', 'customers', 'F0000001', 'C0000000000aa', 'anchor', 1.0,
             date '2025-01-31', date '2026-10-31', 'finance/2026-10-31/customers.csv', 1),
            ('external', 'registry', '91440300MA5F00000X', 'C0000000000aa', 'uscc', 1.0,
             date '2025-02-28', date '2026-10-31', 'external/2026-10-31/registry.parquet', 1),
            ('crm', 'clients', 'CRM000002', 'C0000000000bb', 'anchor', 1.0,
             date '2025-03-31', date '2026-10-31', 'crm/2026-10-31/clients.csv', 1),
            ('projects', 'participations', 'P001|中鼎经纬（深圳）实业发展有限公司|投资方',
             'C0000000000aa', 'exact_name', 0.98, date '2025-03-31', date '2026-10-31',
             'projects/2026-10-31/participations.csv', 7))
            t(department, entity, record_id, client_key, match_rule, match_score,
              first_seen_date, last_seen_date, source_file, source_row_number)""")
        con.execute("""create table marts.client_key_changes as select * from (values
            (date '2025-06-30', date '2025-05-31', 'C000000000001', 'C0000000000aa', 'merge',
             'uscc', 1)) t(as_of_date, previous_as_of_date, old_client_key, new_client_key,
             change_type, reason, moved_record_count)""")
        con.execute("""create table marts.client_tiers as select * from (values
            ('C0000000000aa', date '2026-09-30', 'default', 'B', 58.0, 0.02, 'none',
             '价值贡献突出', null, null, false, null, null, null, 60.0, 55.0),
            ('C0000000000aa', date '2026-10-31', 'default', 'A', 66.0, 0.01, 'none',
             '价值贡献突出', '资信与偿债能力强', null, false, null, null, null, 70.0, 62.0),
            ('C0000000000aa', date '2026-10-31', '基础设施', 'B', 61.0, 0.01, 'none',
             '资信与偿债能力强', null, null, false, null, null, null, 70.0, 62.0))
            t(client_key, period_date, profile_code, tier_code, composite_score, pd_12m,
              guardrail_code, reason_label_1, reason_label_2, reason_label_3, is_override,
              override_id, override_reason, override_approver, value_score, credit_score)""")
    crm = paths.raw / "crm" / "clients"
    crm.mkdir(parents=True)
    pq.write_table(pa.table({"crm_id": ["CRM000002", "CRM000001"],
                             "client_name": ["中鼎经纬投资", "中鼎经纬（深圳）实业发展有限公司"],
                             "uscc": [None, "91440300ma5f00000x"],
                             "contact_phone": ["0755-1234 5678", "138-1234-5678"],
                             "_row_number": [1, 2]}), crm / f"{AS_OF}.parquet")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], query: str) -> tuple[int, str, str]:
    code = cli_main(["client", query])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_client_is_traced_to_the_rows_as_delivered(home: Path, capsys) -> None:
    code, out, err = run(capsys, NEW)
    assert code == 0, err
    assert out.startswith(f"Client {NEW}  深圳中鼎经纬实业发展有限公司")
    assert "registered_name:       深圳中鼎经纬实业发展有限公司  (from external)" in out
    assert "Source records (4)" in out and "CRM000002" not in out  # the other client's record
    # the crm row as the department typed it, found in the raw layer by file and row
    assert ("client_name=中鼎经纬（深圳）实业发展有限公司  uscc=91440300ma5f00000x  "
            "contact_phone=138-1234-5678  (crm/2026-10-31/clients.csv, row 2)") in out
    assert "(raw row not found)  (finance/2026-10-31/customers.csv, row 1)" in out
    assert f"2025-06-30  merge  {OLD} -> {NEW}  1 record(s)  (uscc)" in out
    assert "Tiers as of 2026-10-31" in out
    assert "default    A   66.00  PD 1.00%  价值贡献突出; 资信与偿债能力强" in out
    assert "default tier history: 2026-09 B, 2026-10 A" in out
    # a project type's name takes two terminal columns a character: the tiers stay in line
    assert "  基础设施   B   61.00  PD 1.00%  资信与偿债能力强" in out


def test_every_kind_of_query_finds_the_client(home: Path, capsys) -> None:
    for query in ("crm:CRM000001", "finance:F0000001", "9144 0300 MA5F 0000 0X", "实业发展",
                  "crm：CRM000001",  # a full-width colon
                  # a record id holding the partner name as typed: looked up unfolded
                  "projects:P001|中鼎经纬（深圳）实业发展有限公司|投资方",
                  # department|entity|record_id, as identity_review_queue lists records
                  "crm|clients|CRM000001",
                  "projects|participations|P001|中鼎经纬（深圳）实业发展有限公司|投资方"):
        code, out, err = run(capsys, query)
        assert code == 0 and out.startswith(f"Client {NEW}"), (query, err)
    # a key a merge retired: followed to the key that holds its records now
    code, out, _ = run(capsys, OLD)
    assert code == 0
    assert out.startswith(f"{OLD} was retired on 2025-06-30 (merge: uscc); its records are now "
                          f"with {NEW}")
    # a name two clients carry: listed, nothing guessed
    code, out, err = run(capsys, "中鼎经纬")
    assert code == 1 and "matches several clients" in err
    assert NEW in err and OTHER in err
    code, _, err = run(capsys, "crm:CRM999999")
    assert code == 1 and "no source record crm:CRM999999" in err
    code, _, err = run(capsys, "C0000000000ff")
    assert code == 1 and "no client C0000000000ff" in err
    code, _, err = run(capsys, "crm|customers|CRM000001")  # the wrong entity
    assert code == 1 and "no source record crm|customers|CRM000001" in err


@pytest.fixture()
def build(home: Path) -> Path:
    """The identity models `--vs` reads, in the build database."""
    path = get_paths().warehouse
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.execute("""create table intermediate.int_identity_records_unioned as
            select * from (values
            ('crm|clients|CRM000001', '中鼎经纬（深圳）实业发展有限公司', '中鼎经纬实业发展', '深圳',
             '有限公司', '实业发展', 'MA5F00000', '13812345678', false),
            ('finance|customers|F0000001', '深圳中鼎经纬实业发展有限公司', '中鼎经纬实业发展', '深圳',
             '有限公司', '实业发展', 'MA5F00000', null, false),
            ('external|registry|91440300MA5F00000X', '深圳中鼎经纬实业发展有限公司',
             '中鼎经纬实业发展', '深圳', '有限公司', '实业发展', 'MA5F00000', null, false),
            ('crm|clients|CRM000002', '中鼎经纬投资', '中鼎经纬投资', '深圳', null, '投资', null,
             '07551234 5678', false))
            t(record_key, name_raw, name_core, region_key, name_legal_family, name_industry_word,
              tax_code, phone, is_short_name)""")
        con.execute("""create table intermediate.int_identity_pairs_decided as select * from (values
            ('crm|clients|CRM000001', 'finance|customers|F0000001', 'uscc', true, 1.0, 1.0, 'uscc',
             cast(null as varchar)))
            t(record_key_a, record_key_b, match_rule, is_match, match_score, core_similarity,
              rule_match_rule, decision_id)""")
        con.execute("create schema seeds")
        con.execute("""create table seeds.identity_match_rules as select * from (values
            ('uscc', true), ('steward_same', true), ('steward_different', false))
            t(match_rule, is_match)""")
        con.execute("""create table intermediate.int_identity_pairs_compared as
            select * from (values ('crm|clients|CRM000001', 'finance|customers|F0000001', true,
                                   0, true, false, true, true))
            t(record_key_a, record_key_b, is_same_core, core_edit_distance, is_same_region,
              is_region_conflict, is_same_tax_code, is_name_agreeing)""")
        con.execute("""create table intermediate.int_identity_block_keys_generated as
            select * from (values
            ('crm|clients|CRM000001', 'core', '中鼎经纬实业发展', 3),
            ('finance|customers|F0000001', 'core', '中鼎经纬实业发展', 3),
            ('crm|clients|CRM000002', 'typo', '中鼎经纬*资', 2),
            ('external|registry|91440300MA5F00000X', 'typo', '中鼎经纬*资', 2))
            t(record_key, block_type, block_value, block_size)""")
    return path


def test_a_stewards_decision_is_explained_beside_the_rules(home: Path, build: Path,
                                                          capsys) -> None:
    """A pair a data steward decided on (seed identity_decisions) shows the decision and, when
    the rules compared the pair, what they said."""
    with duckdb.connect(str(build)) as con:
        con.execute("""update intermediate.int_identity_pairs_decided
            set match_rule = 'steward_different', is_match = false, match_score = 0.0,
                decision_id = 'D2'""")
        con.execute("""insert into intermediate.int_identity_pairs_decided values
            ('crm|clients|CRM000002', 'finance|customers|F0000001', 'steward_same', true, 1.0,
             null, null, 'D1')""")
    assert cli_main(["client", "crm:CRM000001", "--vs", "finance:F0000001"]) == 0
    out = capsys.readouterr().out
    assert ("Data steward's decision D2 (seed identity_decisions): steward_different, not "
            "linked; the rules said uscc") in out
    assert "Pair compared: rule uscc (a match; core similarity 1.00)" in out
    # the records as identity_review_queue and the decisions seed write them
    assert cli_main(["client", "crm|clients|CRM000002", "--vs",
                     "finance|customers|F0000001"]) == 0
    out = capsys.readouterr().out
    assert ("Data steward's decision D1 (seed identity_decisions): steward_same, linked; the "
            "rules never compared them") in out
    assert "Pair compared" not in out


def test_two_records_are_explained_as_a_pair(home: Path, build: Path, capsys) -> None:
    code, out, err = cli_main(["client", "crm:CRM000001", "--vs", "finance:F0000001"]), \
        *capsys.readouterr()
    assert code == 0, err
    assert f"crm:CRM000001  client {NEW} (uscc)" in out
    assert "中鼎经纬（深圳）实业发展有限公司  |  name_core=中鼎经纬实业发展  region_key=深圳" in out
    assert "Pair compared: rule uscc (a match, score 1.00; core similarity 1.00)" in out
    assert "same name core yes; core edit distance 0; same region yes" in out
    assert out.rstrip().endswith("One client: yes")
    # two clients, never a candidate pair: no blocking key in common
    assert cli_main(["client", "crm:CRM000001", "--vs", "crm:CRM000002"]) == 0
    out = capsys.readouterr().out
    assert "Pair never a candidate: no blocking key in common" in out
    assert f"Two clients: {NEW} and {OTHER}" in out
    assert "review queue" not in out
    # a pair the stewards' queue lists says so, with the command that settles it
    with duckdb.connect(str(build)) as con:
        con.execute("create schema marts")
        con.execute("""create table marts.identity_review_queue as select * from (values
            (4, 'one_typo_apart', 'crm|clients|CRM000001', 'crm|clients|CRM000002'))
            t(review_priority, review_reason, record_key_a, record_key_b)""")
    assert cli_main(["client", "crm:CRM000002", "--vs", "crm:CRM000001"]) == 0
    out = capsys.readouterr().out
    assert ("In the data stewards' review queue: one_typo_apart (priority 4); settle it with: "
            "tiering decide 'crm|clients|CRM000001' 'crm|clients|CRM000002' same|different "
            "--by NAME --reason TEXT") in out


def test_a_typo_the_rules_left_open_says_why(home: Path, build: Path, capsys) -> None:
    """A pair one character apart that the typo rule did not take: `--vs` gives the reason the
    rules flagged (is_typo_unconfirmed, is_typo_both_established), or every possible one for a
    build without the flags."""
    with duckdb.connect(str(build)) as con:
        con.execute("insert into intermediate.int_identity_pairs_decided values "
                    "('crm|clients|CRM000002', 'finance|customers|F0000001', 'no_match', false, "
                    "0.0, 0.88, 'no_match', null)")
        con.execute("insert into intermediate.int_identity_pairs_compared values "
                    "('crm|clients|CRM000002', 'finance|customers|F0000001', false, 1, true, "
                    "false, false, false)")
        con.execute("insert into seeds.identity_match_rules values ('no_match', false)")

    def vs() -> str:
        assert cli_main(["client", "crm:CRM000002", "--vs", "finance:F0000001"]) == 0
        return capsys.readouterr().out

    # a build before the flags: every reason the rule may have had
    assert "a core is short, or a side without region is known elsewhere" in vs()
    with duckdb.connect(str(build)) as con:
        con.execute("alter table intermediate.int_identity_pairs_decided "
                    "add column is_typo_unconfirmed boolean")
        con.execute("alter table intermediate.int_identity_pairs_decided "
                    "add column is_typo_both_established boolean")
        con.execute("update intermediate.int_identity_pairs_decided set "
                    "is_typo_unconfirmed = rule_match_rule = 'no_match', "
                    "is_typo_both_established = true")
    out = vs()
    assert ("one typo apart, not taken for a typo (rule fuzzy_core): both names are established "
            "(a tax code, the registry, several departments, or more records than a slip "
            "makes), or one department that keeps a record per customer holds both (two "
            "customers): neither looks like a typo; left to a data steward") in out
    with duckdb.connect(str(build)) as con:
        con.execute("update intermediate.int_identity_pairs_decided "
                    "set is_typo_both_established = false")
    assert ("not taken for a typo (rule fuzzy_core): the typo would sit one character from two "
            "names, or the supposed typo is the better-supported name") in vs()
    # a shared blocking key but no comparison: two places, no tax code in common
    assert cli_main(["client", "crm:CRM000002", "--vs",
                     "external:91440300MA5F00000X"]) == 0
    assert "Pair not compared: they share blocking key(s) typo=中鼎经纬*资" in \
        capsys.readouterr().out
    assert cli_main(["client", "crm:CRM000001", "--vs", NEW]) == 1
    assert "a source record is department:record_id" in capsys.readouterr().err


def test_one_name_not_linked_by_it_says_why(home: Path, build: Path, capsys) -> None:
    """Two records of one name and place that no name rule linked: `--vs` names the flags the
    rules set (a name two companies carry, a name now another company's, a tax code against
    the name), and says nothing of them for a build before the flags."""
    with duckdb.connect(str(build)) as con:
        con.execute("""update intermediate.int_identity_pairs_decided
            set match_rule = 'no_match', is_match = false, match_score = 0.0,
                rule_match_rule = 'no_match'""")
        con.execute("insert into seeds.identity_match_rules values ('no_match', false)")

    def vs() -> str:
        assert cli_main(["client", "crm:CRM000001", "--vs", "finance:F0000001"]) == 0
        return capsys.readouterr().out

    assert "not linked by it" not in vs()
    with duckdb.connect(str(build)) as con:
        for column in ("is_name_shared", "is_taken_name", "is_name_tax_conflict"):
            con.execute("alter table intermediate.int_identity_pairs_decided "
                        f"add column {column} boolean default false")
        con.execute("update intermediate.int_identity_pairs_decided set is_taken_name = true")
    out = vs()
    assert "Pair compared: rule no_match (not a match; core similarity 1.00)" in out
    assert ("one name, not linked by it (rules exact_name, core_region): one side is typed with "
            "a name now another company's: its tax code ties it to its company's present "
            "name, and another company's code is established for this name (rule 3) "
            "(docs/identity.md)") in out
    assert "two registered companies carry" not in out
    with duckdb.connect(str(build)) as con:
        con.execute("update intermediate.int_identity_pairs_decided "
                    "set is_taken_name = false, is_name_shared = true")
    out = vs()
    assert "two registered companies carry this name" in out and "rule 3" not in out


def test_a_short_name_shows_where_the_placement_put_it(home: Path, build: Path,
                                                    capsys) -> None:
    """A bare short name is never compared by name: `--vs` says where the placement of short
    names put its cluster, why nowhere when it did not, and the clients it weighed
    (int_identity_short_names_placed), which identity_review_queue pairs it with."""
    short = "projects|participations|P002|中鼎经纬|投资方"
    with duckdb.connect(str(get_paths().serving)) as con:
        con.execute("""insert into marts.client_source_xref values
            ('projects', 'participations', 'P002|中鼎经纬|投资方', 'C0000000000cc', 'singleton',
             1.0, date '2025-03-31', date '2026-10-31', 'projects/2026-10-31/participations.csv',
             8)""")
    with duckdb.connect(str(build)) as con:
        con.execute("insert into intermediate.int_identity_records_unioned values "
                    "(?, '中鼎经纬', '中鼎经纬', null, null, null, null, null, true)", [short])
        con.execute("""create table intermediate.int_identity_clients_resolved as
            select * from (values (?, 'k_p2', 'C0000000000cc'),
                                  ('crm|clients|CRM000001', 'k_aa', ?),
                                  ('crm|clients|CRM000002', 'k_bb', ?))
            t(record_key, propagated_cluster_label, client_key)""", [short, NEW, OTHER])
        con.execute("""create table intermediate.int_identity_short_names_placed as
            select * from (values
            ('k_p2', ?, '中鼎经纬', cast(null as varchar), 2, 'k_aa', 'crm|clients|CRM000001',
             'k_p2', cast(null as varchar), 'several_carriers'),
            ('k_p2', ?, '中鼎经纬', null, 2, 'k_bb', 'crm|clients|CRM000002', 'k_p2', null,
             'several_carriers'))
            t(cluster_label, short_record_key, short_core, region_key, candidate_count,
              candidate_label, carrier_record_key, final_label, attach_rule, unplaced_reason)""",
                    [short, short])
    assert cli_main(["client", short, "--vs", "crm:CRM000002"]) == 0
    out = capsys.readouterr().out
    assert "    short name 中鼎经纬: placed nowhere: 2 clients carry it where it may be\n" in out
    assert (f"    clients carrying it: {NEW} (crm|clients|CRM000001), {OTHER} "
            "(crm|clients|CRM000002)\n") in out
    assert "Pair never a candidate: a short name is not compared by name" in out
    assert f"Two clients: C0000000000cc and {OTHER}" in out
    # placed with the only client carrying it in its region
    with duckdb.connect(str(build)) as con:
        con.execute("delete from intermediate.int_identity_short_names_placed "
                    "where candidate_label = 'k_bb'")
        con.execute("""update intermediate.int_identity_short_names_placed
            set region_key = '深圳', candidate_count = 1, final_label = 'k_aa',
                attach_rule = 'short_name', unplaced_reason = null""")
    with duckdb.connect(str(get_paths().serving)) as con:
        con.execute("update marts.client_source_xref set client_key = ?, match_rule = "
                    "'short_name' where record_id = 'P002|中鼎经纬|投资方'", [NEW])
    assert cli_main(["client", short, "--vs", "crm:CRM000001"]) == 0
    out = capsys.readouterr().out
    assert ("    short name 中鼎经纬 (region 深圳): placed with the only client carrying it where "
            "it may be (short_name)\n") in out
    assert out.rstrip().endswith("One client: a short name placed with a client carrying it "
                                 "(after clustering; how: above)")
    # placed, among several carriers, with the one finance ties to its project
    with duckdb.connect(str(build)) as con:
        con.execute("""update intermediate.int_identity_short_names_placed
            set region_key = null, candidate_count = 2, attach_rule = 'short_name_project'""")
    assert cli_main(["client", short, "--vs", "crm:CRM000001"]) == 0
    out = capsys.readouterr().out
    assert ("    short name 中鼎经纬: placed, among the clients carrying it, with the only one "
            "whose finance customer has receipts tied to its project (short_name_project)\n"
            ) in out
    # its only carrier states another industry in CRM: placed nowhere, and why
    with duckdb.connect(str(build)) as con:
        con.execute("""update intermediate.int_identity_short_names_placed
            set region_key = '深圳', candidate_count = 1, final_label = 'k_p2',
                attach_rule = null, unplaced_reason = 'industry_conflict'""")
    assert cli_main(["client", short, "--vs", "crm:CRM000001"]) == 0
    out = capsys.readouterr().out
    assert ("    short name 中鼎经纬 (region 深圳): placed nowhere: the client it would join "
            "states another industry in CRM") in out
    # a record of the full names is matched by the pair rules: no placement to show
    assert cli_main(["client", "crm:CRM000001", "--vs", "crm:CRM000002"]) == 0
    assert "short name" not in capsys.readouterr().out


def test_a_pair_is_not_explained_while_a_run_writes_the_build(home: Path, build: Path,
                                                              capsys) -> None:
    """The build database is the running refresh's: the command says so and exits 75."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(build)], stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli_main(["client", "crm:CRM000001", "--vs", "finance:F0000001"]) == 75
        assert "is being written by a run; try again" in capsys.readouterr().err
        # the client itself is read from the serving copy: no wait, no lock
        assert cli_main(["client", NEW]) == 0
    finally:
        holder.kill()
        holder.wait()


def test_without_a_published_version_it_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    code, _, err = run(capsys, "anything")
    assert code == 1 and "nothing has been published yet" in err


def test_a_stewards_decision_is_checked_and_appended_to_the_seed(home: Path, tmp_path: Path,
                                                                  capsys) -> None:
    """`tiering decide` looks both records up in the published xref, writes them in the seed's
    form with the next id and today's date, shows an earlier decision on the pair, writes
    nothing for a repeat, and refuses (nothing written) an unknown record, a ticket, a record
    against itself and a decision without its author. The rows load into dbt as the seed:
    tests/test_identity.py::test_stewards_decisions_link_and_unlink_records."""
    from tiering.decide import COLUMNS, SEED

    seed = tmp_path / "identity_decisions.csv"
    shutil.copyfile(SEED, seed)  # the project's own seed: header only
    registry = "external|registry|91440300MA5F00000X"

    def decide(*args: str) -> tuple[int, str, str]:
        code = cli_main(["decide", *args, "--seed-file", str(seed)])
        return code, *capsys.readouterr()

    code, out, err = decide("crm:CRM000002", registry, "same", "--by", "张三", "--reason",
                            "renamed; the registry lags,  confirmed by the account manager")
    assert code == 0, err
    today = date.today().isoformat()
    assert out.startswith(f"D0001: crm|clients|CRM000002 and {registry} are one company at "
                          f"every as-of date (张三, {today}: ")
    assert f"the records are in clients {OTHER} and {NEW} now" in out
    first = seed.read_text(encoding="utf-8")
    code, out, _ = decide(registry, "crm|clients|CRM000002", "same", "--by", "李四",
                          "--reason", "again")
    assert code == 0 and out.startswith("Already decided: D0001 (张三, ") and \
        seed.read_text(encoding="utf-8") == first
    code, out, err = decide(registry, "crm:CRM000002", "different", "--by", "李四", "--reason",
                            "two companies after all", "--valid-from", "2026-11-30")
    assert code == 0, err
    assert out.startswith(f"D0002: {registry} and crm|clients|CRM000002 are two companies from "
                          "2026-11-30 on")
    assert f"earlier decision on the pair: D0001 (same at every as-of date; 张三, {today})" in out
    with seed.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert [tuple(r.values()) for r in rows] == [
        ("D0001", "crm|clients|CRM000002", registry, "same", "", "张三", today,
         "renamed; the registry lags, confirmed by the account manager"),
        ("D0002", registry, "crm|clients|CRM000002", "different", "2026-11-30", "李四", today,
         "two companies after all")]

    written = seed.read_text(encoding="utf-8")
    with duckdb.connect(str(get_paths().serving)) as con:
        con.execute("""insert into marts.client_source_xref values ('service', 'tickets', 'T1',
            'C0000000000aa', 'ticket_phone', 1.0, date '2026-10-31', date '2026-10-31',
            'service/2026-10-31/tickets.jsonl', 1)""")
    for args, says in [
            (("crm:CRM999999", registry, "same"), "no source record crm:CRM999999"),
            (("crm|clients|CRM00001", registry, "same"), "no source record crm|clients|CRM00001"),
            (("service:T1", registry, "same"), "service:T1 is a service ticket"),
            (("crm:CRM000001", "crm|clients|CRM000001", "different"), "are the same record"),
            (("CRM000001", registry, "same"), "a source record is department:record_id")]:
        code, _, err = decide(*args, "--by", "张三", "--reason", "r")
        assert code == 1 and says in err, err
    code, _, err = decide("crm:CRM000001", registry, "same", "--by", " ", "--reason", "r")
    assert code == 1 and "needs who decided (--by)" in err
    assert seed.read_text(encoding="utf-8") == written


def test_a_worksheet_of_decisions_is_recorded_all_or_nothing(home: Path, tmp_path: Path,
                                                              capsys) -> None:
    """`tiering decide --export-queue` writes the published queue as a worksheet a spreadsheet
    opens (UTF-8 with a BOM, empty decision / reason / valid_from); `--from-file` records its
    decided rows (blank decisions skipped, a row without reason taking --reason, a repeat
    skipped) or, when any row cannot be recorded, none, naming each bad row by its line."""
    from tiering.decide import SEED

    seed = tmp_path / "identity_decisions.csv"
    shutil.copyfile(SEED, seed)
    registry = "external|registry|91440300MA5F00000X"
    with duckdb.connect(str(get_paths().serving)) as con:
        con.execute(f"""create table marts.identity_review_queue as select * from (values
            (1, 'same_uscc_other_name', 'crm|clients|CRM000002', '{registry}', '中鼎经纬投资',
             '深圳中鼎经纬实业发展有限公司'),
            (2, 'same_name_two_places', 'crm|clients|CRM000001', 'crm|clients|CRM000002',
             '中鼎经纬（深圳）实业发展有限公司', '中鼎经纬投资'),
            (3, 'short_name_candidates', 'crm|clients|CRM000001', 'finance|customers|F0000001',
             'a', 'b'))
            t(review_priority, review_reason, record_key_a, record_key_b, name_a, name_b)""")
    sheet = tmp_path / "queue.csv"

    def decide(*args: str) -> tuple[int, str, str]:
        code = cli_main(["decide", *args, "--seed-file", str(seed)])
        return code, *capsys.readouterr()

    code, out, err = decide("--export-queue", str(sheet))
    assert code == 0 and out.startswith(f"3 pairs of identity_review_queue written to {sheet}")
    assert sheet.read_bytes().startswith("\ufeffreview_priority,".encode())
    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name_a"] for r in rows][:1] == ["中鼎经纬投资"]
    assert {(r["decision"], r["reason"], r["valid_from"]) for r in rows} == {("", "", "")}

    # the steward fills in two rows, one with a date that is not one: nothing is written
    rows[0].update(decision="Same", reason="renamed, see the registry")
    rows[1].update(decision="different", valid_from="2026-13-01")
    rows[2].update(decision="samee")

    def save() -> None:
        with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    save()
    empty = seed.read_text(encoding="utf-8")
    code, _, err = decide("--from-file", str(sheet), "--by", "张三")
    assert code == 1 and "queue.csv line 3: valid_from '2026-13-01' is not a date" in err, err
    rows[1]["valid_from"] = "2026-11-30"
    save()
    code, _, err = decide("--from-file", str(sheet), "--by", "张三")
    assert code == 1 and "2 decisions cannot be recorded, so none is" in err, err
    assert "queue.csv line 3: a decision needs why (--reason)" in err
    assert "queue.csv line 4: decision must be one of same, different, not 'samee'" in err
    assert seed.read_text(encoding="utf-8") == empty
    rows[2].update(decision="")  # not decided yet: skipped
    save()
    code, out, err = decide("--from-file", str(sheet), "--by", "张三", "--reason",
                            "two companies (the account manager)")
    assert code == 0, err
    assert out.startswith("2 decisions written to")
    with seed.open(encoding="utf-8", newline="") as handle:
        written = [(r["decision_id"], r["record_key_a"], r["decision"], r["valid_from"],
                    r["reason"]) for r in csv.DictReader(handle)]
    assert written == [
        ("D0001", "crm|clients|CRM000002", "same", "", "renamed, see the registry"),
        ("D0002", "crm|clients|CRM000001", "different", "2026-11-30",
         "two companies (the account manager)")]
    code, out, _ = decide("--from-file", str(sheet), "--by", "张三", "--reason", "again")
    assert code == 0 and out.startswith("0 decisions written") and "2 already decided" in out
    # two bad rows at once: both named, none written
    rows[0].update(record_key_b="crm|clients|NO_SUCH")
    rows[1].update(record_key_a="service:T1")
    save()
    code, _, err = decide("--from-file", str(sheet), "--by", "张三", "--reason", "r")
    assert code == 1 and "2 decisions cannot be recorded, so none is" in err
    assert "queue.csv line 2: no source record crm|clients|NO_SUCH" in err
    assert "queue.csv line 3: no source record service:T1" in err
    assert len(seed.read_text(encoding="utf-8").splitlines()) == 3
