"""The A/B tool for compiled selects (benchmarks/bench_select_ab.py): it must refuse two selects
that return different rows, accept equal ones, and read DuckDB's profile into operators."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "bench_select_ab", PROJECT_DIR / "benchmarks" / "bench_select_ab.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table tiers as select range as client, range % 5 as tier "
                    "from range(20000)")
    return path


def _select(tmp_path: Path, name: str, sql: str) -> Path:
    path = tmp_path / f"{name}.sql"
    path.write_text(sql + ";\n")
    return path


def test_the_same_rows_written_two_ways_pass(warehouse: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    a = _select(tmp_path, "a", "select tier, count(*) as n from tiers group by tier")
    b = _select(tmp_path, "b", "select tier, sum(1) as n from tiers where client >= 0 "
                               "group by all")
    code = bench.main(["--db", str(warehouse), "--a", str(a), "--b", str(b), "--repeat", "2",
                       "--profile", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "same rows" in out and "CPU a" in out
    assert "costliest operators of a" in out and "costliest operators of b" in out


def test_different_rows_fail(warehouse: Path, tmp_path: Path) -> None:
    a = _select(tmp_path, "a", "select tier, count(*) as n from tiers group by tier")
    b = _select(tmp_path, "b", "select tier, count(*) as n from tiers where tier > 0 "
                               "group by tier")
    assert bench.main(["--db", str(warehouse), "--a", str(a), "--b", str(b),
                       "--repeat", "1"]) == 1


def test_the_profile_is_read_into_operators(warehouse: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    seconds, cpu, fingerprint = bench.fingerprint(
        warehouse, "select tier, count(*) from tiers group by tier", 2, "1GB", profile=profile)
    assert fingerprint[0] == 5 and seconds >= 0 and cpu >= 0
    operators = bench.costliest_operators(profile, 10)
    names = {name.strip() for _, name, _, _ in operators}
    assert "SEQ_SCAN" in names and any(name.endswith("GROUP_BY") for name in names)
    timings = [seconds for seconds, _, _, _ in operators]
    assert timings == sorted(timings, reverse=True)
    scanned = [rows for _, name, rows, detail in operators if "tiers" in detail]
    assert scanned == [20000]
