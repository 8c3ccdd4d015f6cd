"""The simulator writes exactly the contract's deliveries and a truth that explains them."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tiering.contract import DEPARTMENTS, ENTITIES, entities_of
from tiering.simulate import Rates, is_valid_uscc, org_check_char, simulate, uscc_check_char
from tiering.simulate.uscc import generate_usccs

MONTHS = 4
START = "2024-11"


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sim")
    totals = simulate(root / "landing", root / "truth", clients=1500, months=MONTHS,
                      start=START, seed=11, rates={"broken_row": 0.01})
    return {"root": root, "landing": root / "landing", "truth": root / "truth",
            "totals": totals}


def _extract_dates() -> list[str]:
    start = np.datetime64(START, "M")
    return [str((start + m + 1).astype("datetime64[D]") - 1) for m in range(MONTHS)]


def _csv_rows(data: bytes, encoding: str) -> pa.Table:
    """Parse a delivered CSV the lenient way: undecodable bytes replaced, bad rows skipped."""
    text = data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding, errors="replace")
    return pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in _header(text)}, strings_can_be_null=True),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"))


def _header(text: str) -> list[str]:
    return [c.strip('"') for c in text.split("\n", 1)[0].split(",")]


# ------------------------------------------------------------------ contract conformance
def test_every_department_delivers_every_month_with_a_manifest(sim):
    for dept in DEPARTMENTS:
        for d in _extract_dates():
            folder = sim["landing"] / dept / d
            manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
            assert manifest["department"] == dept and manifest["extract_date"] == d
            expected = {e.file_name for e in entities_of(dept)}
            assert set(manifest["files"]) == expected
            assert {p.name for p in folder.iterdir()} == expected | {"_manifest.json"}


def test_files_have_contract_columns_encodings_and_manifest_row_counts(sim):
    for ent in ENTITIES:
        for d in _extract_dates():
            folder = sim["landing"] / ent.department / d
            manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
            entry = manifest["files"][ent.file_name]
            assert entry["encoding"] == ent.encoding
            data = (folder / ent.file_name).read_bytes()
            if ent.fmt == "csv":
                assert data.startswith(b"\xef\xbb\xbf") == (ent.encoding == "utf-8-sig")
                header = data.split(b"\n", 1)[0].decode("utf-8-sig" if ent.encoding != "gbk"
                                                        else "gbk")
                assert tuple(c.strip('"') for c in header.split(",")) == ent.columns
                assert data.count(b"\n") - 1 == entry["rows"], (ent.name, d)
                if ent.encoding == "utf-8":
                    data.decode("utf-8")  # UTF-8 files never carry undecodable bytes
            elif ent.fmt == "jsonl":
                lines = data.splitlines()
                assert len(lines) == entry["rows"]
                good = []
                for line in lines:
                    try:
                        good.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
                assert len(good) >= 0.95 * len(lines)
                if good:
                    assert tuple(good[0]) == ent.columns
            else:
                table = pq.read_table(folder / ent.file_name)
                assert tuple(table.column_names) == ent.columns
                assert table.num_rows == entry["rows"]
                assert table.schema.field("former_names").type == pa.list_(pa.string())
                assert table.schema.field("association_memberships").type == pa.list_(
                    pa.string())
                assert table.schema.field("established_date").type == pa.date32()


def test_gbk_files_are_gbk_and_broken_rows_are_rare_but_present(sim):
    broken = total = 0
    for d in _extract_dates():
        for name in ("customers.csv", "receipts.csv", "statements.csv"):
            data = (sim["landing"] / "finance" / d / name).read_bytes()
            lines = data.split(b"\n")[1:-1]
            total += len(lines)
            for line in lines:
                try:
                    line.decode("gbk")
                except UnicodeDecodeError:
                    broken += 1
    assert 0 < broken < 0.02 * total
    text = (sim["landing"] / "finance" / _extract_dates()[0] / "customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        text.decode("utf-8")  # Chinese in GBK is not UTF-8


def test_incremental_entities_deliver_new_rows_plus_few_corrections(sim):
    seen: set[str] = set()
    repeats = total = 0
    for d in _extract_dates():
        data = (sim["landing"] / "finance" / d / "receipts.csv").read_bytes()
        ids = _csv_rows(data, "gbk")["voucher_no"].to_pylist()
        repeats += sum(v in seen for v in ids)
        total += len(ids)
        seen.update(ids)
    assert total > 0 and repeats < 0.05 * total


# ------------------------------------------------------------------ determinism
def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    for run in ("a", "b"):
        simulate(tmp_path / run / "landing", tmp_path / run / "truth", clients=200, months=2,
                 seed=5)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    simulate(tmp_path / "c" / "landing", tmp_path / "c" / "truth", clients=200, months=2, seed=6)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


# ------------------------------------------------------------------ realism
def test_fee_income_has_a_heavy_long_tail(sim):
    records = pq.read_table(sim["truth"] / "source_records.parquet").to_pandas()
    owner = records[records.entity == "customers"].set_index("record_id")["company_id"]
    frames = []
    for d in _extract_dates():
        data = (sim["landing"] / "finance" / d / "receipts.csv").read_bytes()
        frames.append(_csv_rows(data, "gbk").to_pandas())
    import pandas as pd

    receipts = pd.concat(frames).drop_duplicates("voucher_no", keep="last")
    amount = pd.to_numeric(receipts["amount"].str.replace(",", ""), errors="coerce")
    amount = amount * np.where(receipts["unit"] == "万元", 1e4, 1.0)
    fee = amount.groupby(receipts["customer_code"].map(owner)).sum().sort_values(ascending=False)
    top = fee.iloc[: max(1, len(fee) // 5)].sum() / fee.sum()
    assert 0.7 <= top <= 0.92, top


def test_department_coverage_differs_as_documented(sim):
    records = pq.read_table(sim["truth"] / "source_records.parquet").to_pandas()
    companies = pq.read_table(sim["truth"] / "companies.parquet").num_rows
    r = Rates()
    share = records.groupby("department")["company_id"].nunique() / companies
    assert share["crm"] > share["finance"] > share["risk"] > share["projects"] * 0.99
    assert abs(share["external"] - r.coverage_external) < 0.08
    assert abs(share["finance"] - r.coverage_finance) < 0.08


def test_observed_risk_signals_track_latent_credit_and_defaults_are_realised(sim):
    import pandas as pd

    d = _extract_dates()[-1]
    rows = []
    for line in (sim["landing"] / "risk" / d / "credit_profiles.jsonl").read_text(
            encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    profiles = pd.DataFrame(rows)
    records = pq.read_table(sim["truth"] / "source_records.parquet").to_pandas()
    owner = records[records.entity == "credit_profiles"].set_index("record_id")["company_id"]
    latent = pq.read_table(sim["truth"] / "latent_monthly.parquet").to_pandas()
    latent = latent[latent.period_date == pd.Timestamp(d).date()].set_index("company_id")
    profiles["pd"] = profiles["risk_client_no"].map(owner).map(latent["pd_12m"])
    scale = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"]
    profiles["rank"] = profiles["internal_rating"].map(scale.index)
    profiles = profiles.dropna(subset=["pd"])
    assert profiles["rank"].corr(profiles["pd"], method="spearman") > 0.4
    defaults = pq.read_table(sim["truth"] / "defaults.parquet")
    assert defaults.num_rows > 0
    assert set(defaults.column_names) == {"company_id", "period_date"}


# ------------------------------------------------------------------ truth
def test_truth_covers_every_identity_bearing_record(sim):
    records = pq.read_table(sim["truth"] / "source_records.parquet").to_pandas()
    assert list(records.columns) == ["department", "entity", "record_id", "company_id", "mess"]
    assert not records.duplicated(["department", "entity", "record_id"]).any()
    known = set(zip(records.department, records.entity, records.record_id))
    companies = set(pq.read_table(sim["truth"] / "companies.parquet")["company_id"].to_pylist())
    assert set(records.company_id) <= companies
    for ent in ENTITIES:
        if ent.record_id is None:
            continue
        delivered: set[str] = set()
        for d in _extract_dates():
            path = sim["landing"] / ent.department / d / ent.file_name
            if ent.fmt == "csv":
                t = _csv_rows(path.read_bytes(), ent.encoding)
                cols = [t[c].to_pylist() for c in ent.record_id]
                ids = ["|".join(parts) for parts in zip(*cols)]
            elif ent.fmt == "jsonl":
                ids = []
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        ids.append(json.loads(line)[ent.record_id[0]])
                    except json.JSONDecodeError:
                        pass
            else:
                ids = pq.read_table(path)[ent.record_id[0]].to_pylist()
            delivered.update(ids)
        missing = {i for i in delivered if (ent.department, ent.name, i) not in known}
        # the only misses allowed: rows whose undecodable bytes were replaced while parsing
        assert len(missing) <= 0.01 * max(1, len(delivered)), (ent.name, list(missing)[:5])
    assert (records.mess != "clean").mean() > 0.1
    assert (pq.read_table(sim["truth"] / "latent_monthly.parquet")["pd_12m"].to_numpy()
            .max() <= 1.0)


def test_truth_lists_only_records_that_were_delivered(tmp_path):
    """A credit profile opened after its company stopped doing business is never delivered, so
    the truth must not list it (it would count as a miss of identity resolution). High churn
    makes such profiles common; every truth record's id is in some delivery's raw text (broken
    rows included)."""
    simulate(tmp_path / "landing", tmp_path / "truth", clients=1000, months=6, start=START,
             seed=5, rates={"churn_monthly": 0.3})
    truth = pq.read_table(tmp_path / "truth" / "source_records.parquet").to_pandas()
    for ent in ENTITIES:
        if ent.fmt != "jsonl" or ent.record_id is None:
            continue
        key = ent.record_id[0]
        delivered = set()
        for path in (tmp_path / "landing" / ent.department).glob(f"*/{ent.file_name}"):
            delivered.update(re.findall(rf'"{key}":\s*"([^"]+)"',
                                        path.read_text(encoding="utf-8", errors="replace")))
        listed = set(truth[(truth.department == ent.department)
                           & (truth.entity == ent.name)].record_id)
        assert listed and listed <= delivered, (ent.name, sorted(listed - delivered)[:5])


def test_truth_never_lands_in_the_landing_zone(sim):
    names = {p.name for p in sim["landing"].rglob("*") if p.is_file()}
    assert names <= {e.file_name for e in ENTITIES} | {"_manifest.json"}


# ------------------------------------------------------------------ USCC
def test_uscc_check_characters_against_real_codes():
    for code in ("914403001922038216", "9144030071526726XG", "91350100M000100Y43"):
        assert uscc_check_char(code[:17]) == code[17]
        assert org_check_char(code[8:16]) == code[16]
        assert is_valid_uscc(code)
    assert not is_valid_uscc("914403001922038261")  # a transposed pair fails
    assert not is_valid_uscc("440300192203821")  # a legacy 15-digit tax number


def test_generated_usccs_are_valid_and_distinct():
    rng = np.random.default_rng(0)
    codes = generate_usccs(rng, np.array([b"110105", b"440304"] * 2500))
    text = [c.decode() for c in codes]
    assert len(set(text)) == len(text)
    assert all(is_valid_uscc(c) for c in text)


def test_uscc_mess_in_deliveries(sim):
    records = pq.read_table(sim["truth"] / "source_records.parquet").to_pandas()
    for kind in ("uscc_blank", "uscc_lower", "uscc_format", "uscc_legacy"):
        assert records.mess.str.contains(kind).any(), kind


def test_rates_override_and_reject_unknown_names(tmp_path):
    simulate(tmp_path / "l", tmp_path / "t", clients=100, months=1,
             rates={"coverage_external": 0.0, "broken_row": 0.0})
    assert pq.read_table(tmp_path / "l" / "external" / "2024-11-30" / "registry.parquet"
                         ).num_rows == 0
    with pytest.raises(ValueError, match="unknown rate"):
        simulate(tmp_path / "x", tmp_path / "y", clients=10, months=1, rates={"nope": 1})
