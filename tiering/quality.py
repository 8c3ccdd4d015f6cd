"""Great Expectations gates for the raw layer, the unified client view and the marts.

The suites live in the committed GX file context `expectations/` (one JSON file per suite under
`expectations/expectations/`, with their validation definitions and checkpoints). Each suite says in
its `meta.tiering` which layer it belongs to and which DuckDB query produces its batch; each
expectation says in its `meta` whether it is `blocking` and why (docs/quality.md).

`run_layer(layer, paths, as_of)` runs every suite of a layer: the query runs on an in-memory DuckDB
that attaches the build database READ-ONLY and reads the raw Parquet, the result comes into pandas
(chunk by chunk when the suite names a `chunk_by` column that is part of its grain), the suite's
checkpoint validates it (GX never raises: we read `success` ourselves) and updates Data Docs, and
every expectation becomes one `CheckResult`.

Missing inputs: a query names its inputs with placeholders (`{table:marts.client_tiers}`,
`{raw:crm/clients}`, `{latest:crm/clients}`, `{new:finance/receipts}` (the deliveries since the
last refresh that passed the gates), `{ingestion_log}`). When one does not exist the suite
is *skipped* (success, non-blocking, message 'skipped: ...') only while that input is not yet
expected. The raw layer and the ingestion log are always expected. A warehouse table is expected
as soon as the dbt project defines it (a model or seed of that name) or the current serving copy has
it (it was published once and must not silently vanish); a missing expected input is a failed,
blocking result.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiering.config import PROJECT_DIR, Paths, duckdb_config
from tiering.ingest.rules import number_values

LAYERS = ("raw", "unified", "marts")
GX_DIR = PROJECT_DIR / "expectations"
DATASOURCE = "tiering_duckdb_frames"
ASSET_PREFIX = ""  # one dataframe asset per suite, named like the suite
CHUNK_ROWS_WARN = 5_000_000

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """One expectation's outcome (or one skipped / missing input)."""

    suite: str
    expectation: str
    success: bool
    blocking: bool
    observed: Any = None
    message: str = ""
    skipped: bool = field(default=False, compare=False)

    def describe(self) -> str:
        state = "skipped" if self.skipped else ("passed" if self.success else "FAILED")
        kind = "blocking" if self.blocking else "warning"
        return f"[{state}, {kind}] {self.suite}: {self.expectation}: {self.message}"


class QualityGateError(RuntimeError):
    """Raised by callers that want an exception for failed blocking expectations."""


# ---------------------------------------------------------------------------------------------
# USCC validity (GB 32100-2015 check character and the embedded GB 11714 organisation code),
# vectorised with numpy; registered as a DuckDB function `uscc_is_valid(varchar) -> boolean`.
# Same rule as macros/cleaning/uscc.sql (status 'valid').

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _lookup(alphabet: str) -> np.ndarray:
    table = np.full(256, -1, dtype=np.int64)
    for i, ch in enumerate(alphabet):
        table[ord(ch)] = i
    return table


_USCC_VALUE = _lookup(_USCC_ALPHABET)
_ORG_VALUE = _lookup(_ORG_ALPHABET)
_USCC_PATTERN = r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$"


def clean_uscc(values: pa.Array) -> pa.Array:
    """Upper case, spaces / dashes / dots / slashes removed; NULL when nothing is left."""
    text = pc.utf8_upper(pc.cast(values, pa.string()))
    text = pc.replace_substring_regex(text, r"[\s._/\-]+", "")
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def uscc_is_valid(values: pa.Array | Sequence[str | None]) -> pa.Array:
    """True when the cleaned code passes both check characters; NULL where the value is NULL."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    clean = clean_uscc(arr)
    shaped = pc.fill_null(pc.match_substring_regex(clean, _USCC_PATTERN), False).to_numpy(
        zero_copy_only=False)
    out = np.zeros(len(clean), dtype=bool)
    idx = np.flatnonzero(shaped)
    if idx.size:
        codes = np.array(clean.take(pa.array(idx)).to_pylist(), dtype="S18")
        chars = codes.view(np.uint8).reshape(-1, 18).astype(np.int64)
        values18 = _USCC_VALUE[chars]
        check = (31 - (values18[:, :17] * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
        ok_uscc = values18[:, 17] == check
        org = _ORG_VALUE[chars[:, 8:16]]
        org_check = (11 - (org * _ORG_WEIGHTS).sum(axis=1) % 11) % 11
        expected = np.frombuffer(b"0123456789X", dtype=np.uint8)[org_check]
        ok_org = chars[:, 16] == expected
        out[idx] = ok_uscc & ok_org
    mask = pc.is_null(clean).to_numpy(zero_copy_only=False)
    return pa.array(out, mask=mask)


# Coded values and flags as staging reads them (macros/cleaning/names.sql `clean_code`,
# macros/cleaning/numbers.sql `parse_boolean`), so that a gate never blocks a delivery for a
# form staging reads: a code padded with spaces or in full width (` 在建`, `ＡＡ`), a flag as a
# tick. The word lists are staging's (tests/test_quality.py compares them with the macro).
BOOLEAN_TRUE = ("是", "Y", "YES", "TRUE", "T", "1", "1.0", "有", "对", "√", "✓", "✔")
BOOLEAN_FALSE = ("否", "N", "NO", "FALSE", "F", "0", "0.0", "无", "不是", "×", "✗", "✘")


def code_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A coded value width-folded (NFKC) and trimmed; NULL when nothing is left. Registered in
    the gates' DuckDB as `clean_code(varchar)`."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(pc.cast(values, pa.string()), "NFKC"))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def boolean_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """True / false for the words staging's `parse_boolean` reads (case and width folded), NULL
    for anything else. Registered in the gates' DuckDB as `parse_boolean(varchar)`."""
    text = pc.utf8_upper(code_values(values))
    true = pc.is_in(text, value_set=pa.array(BOOLEAN_TRUE))
    false = pc.is_in(text, value_set=pa.array(BOOLEAN_FALSE))
    return pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))


_YMD = r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})"
_COMPACT = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"
_SERIAL = r"^\d{5}(?:\.\d+)?$"
_EXCEL_EPOCH = -25569  # 1899-12-30, day 0 of Excel's serial numbers, in days since 1970-01-01


def date_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The calendar date of a delivered date or timestamp in every form ingestion accepts
    (tiering.ingest.rules.DATE_PATTERN, staging's parse_date): 2024-03-05, 2024/3/5, 2024.3.5,
    2024年3月5日 (a time or offset after it ignored), 20240305, an Excel serial 45356(.5);
    full-width digits folded. NULL for anything else and for impossible dates (2024-02-30).
    Registered in the gates' DuckDB as `parse_date(varchar)`."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(pc.cast(values, pa.string()), "NFKC"))
    out = pa.nulls(len(text), pa.date32())
    for pattern in (_YMD, _COMPACT):
        parts = pc.extract_regex(text, pattern)
        iso = pc.binary_join_element_wise(
            pc.struct_field(parts, "y"), pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
            pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"), "-")
        parsed = pc.cast(pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True),
                         pa.date32())
        # strptime rolls 2024-02-30 over into March: an impossible date is no date
        real = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), iso), False)
        out = pc.coalesce(out, pc.if_else(real, parsed, pa.scalar(None, pa.date32())))
    serial = pc.fill_null(pc.match_substring_regex(text, _SERIAL), False)
    days = pc.cast(pc.floor(pc.cast(pc.if_else(serial, text, pa.scalar(None, pa.string())),
                                    pa.float64())), pa.int32())
    shifted = pc.add(days, pa.scalar(_EXCEL_EPOCH, pa.int32()))
    return pc.coalesce(out, shifted.view(pa.date32()))


# ---------------------------------------------------------------------------------------------
# Inputs of a suite's query

_PLACEHOLDER = re.compile(
    r"\{(table|raw|latest|new):([A-Za-z0-9_./]+)\}|\{(ingestion_log|as_of|period)\}")
# Inputs(new_since=...) default: the as-of date of the last refresh that passed every gate
_FROM_STATE = object()


def period_of(as_of: date) -> date:
    """The period an as-of date belongs to: itself when a month end, else the previous month end."""
    next_day = as_of + timedelta(days=1)
    return as_of if next_day.day == 1 else as_of.replace(day=1) - timedelta(days=1)


def _ingestion_log_files(paths: Paths) -> list[Path]:
    base = paths.ingestion_log
    single = base.with_suffix(".parquet") if base.suffix != ".parquet" else base
    if single.is_file():
        return [single]
    if base.is_dir():
        return sorted(base.glob("*.parquet"))
    return []


def _delivery_files(paths: Paths, ref: str, as_of: date) -> list[Path]:
    folder = paths.raw / ref
    if not folder.is_dir():
        return []
    files = []
    for f in folder.glob("*.parquet"):
        try:
            if date.fromisoformat(f.stem) <= as_of:
                files.append(f)
        except ValueError:
            continue  # _schema.parquet and anything else that is not a delivery
    return sorted(files)


def last_gated_as_of(paths: Paths) -> date | None:
    """The as-of date of the last refresh that passed every gate and published
    (state/last_refresh.json); None when there is none."""
    from orchestration.state import last_refresh  # orchestration imports this module
    state = last_refresh(paths)
    try:
        return date.fromisoformat(state["as_of_date"]) if state else None
    except (KeyError, TypeError, ValueError):
        return None


def _sql_list(files: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def model_names(project_dir: Path = PROJECT_DIR) -> set[str]:
    """Models and seeds the dbt project defines (file stems under models/ and seeds/)."""
    names = {p.stem for p in (project_dir / "models").rglob("*.sql")}
    names |= {p.stem for p in (project_dir / "seeds").rglob("*.csv")}
    return names


def published_tables(paths: Paths) -> set[str]:
    """`schema.table` of every table in the current serving copy (empty when none)."""
    if not paths.serving.exists():
        return set()
    con = duckdb.connect(str(paths.serving), read_only=True)
    try:
        return {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}
    finally:
        con.close()


class Inputs:
    """Resolves a suite query's placeholders against one warehouse, raw layer and as-of date."""

    def __init__(self, paths: Paths, as_of: date, project_dir: Path = PROJECT_DIR,
                 new_since: date | None | object = _FROM_STATE):
        self.paths, self.as_of, self.period = paths, as_of, period_of(as_of)
        # {new:...}: the deliveries after this as-of date (every one when None)
        self.new_since = last_gated_as_of(paths) if new_since is _FROM_STATE else new_since
        self.con = duckdb.connect(":memory:", config=duckdb_config())
        self.con.create_function("uscc_is_valid", uscc_is_valid, ["VARCHAR"], "BOOLEAN",
                                 type="arrow", null_handling="special")
        self.con.create_function("parse_number", number_values, ["VARCHAR"], "DOUBLE",
                                 type="arrow", null_handling="special")
        self.con.create_function("clean_code", code_values, ["VARCHAR"], "VARCHAR",
                                 type="arrow", null_handling="special")
        self.con.create_function("parse_boolean", boolean_values, ["VARCHAR"], "BOOLEAN",
                                 type="arrow", null_handling="special")
        self.con.create_function("parse_date", date_values, ["VARCHAR"], "DATE",
                                 type="arrow", null_handling="special")
        self.tables: set[str] = set()
        if paths.warehouse.exists():
            self.con.execute(f"attach '{paths.warehouse}' as wh (read_only)")
            self.tables = {f"{s}.{t}" for s, t in self.con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = 'wh'").fetchall()}
        self.expected_tables = {name for name in model_names(project_dir)}
        self.published = published_tables(paths)

    def close(self) -> None:
        self.con.close()

    def resolve(self, query: str) -> tuple[str | None, list[str], list[str]]:
        """(sql or None, missing-but-expected inputs, missing-not-yet-expected inputs)."""
        missing_expected: list[str] = []
        missing_later: list[str] = []

        def sub(m: re.Match) -> str:
            kind, ref, simple = m.group(1), m.group(2), m.group(3)
            if simple == "as_of":
                return f"date '{self.as_of.isoformat()}'"
            if simple == "period":
                return f"date '{self.period.isoformat()}'"
            if simple == "ingestion_log":
                files = _ingestion_log_files(self.paths)
                if not files:
                    missing_expected.append(f"ingestion log {self.paths.ingestion_log}")
                    return "(select 1)"
                return f"read_parquet({_sql_list(files)}, union_by_name = true)"
            if kind in ("raw", "latest", "new"):
                files = _delivery_files(self.paths, ref, self.as_of)
                if not files:
                    missing_expected.append(f"raw {ref}: no delivery up to {self.as_of}")
                    return "(select 1)"
                chosen = files[-1:] if kind == "latest" else files
                if kind == "new":
                    chosen = self._new_deliveries(files)
                return f"read_parquet({_sql_list(chosen)}, union_by_name = true)"
            # kind == "table"
            if ref in self.tables:
                return "wh." + ref
            name = ref.split(".")[-1]
            if name in self.expected_tables or ref in self.published:
                why = ("defined in the dbt project" if name in self.expected_tables
                       else "present in the last published serving copy")
                missing_expected.append(f"table {ref} ({why}) is missing from the build database")
            else:
                missing_later.append(f"table {ref} does not exist yet")
            return "(select 1)"

        sql = _PLACEHOLDER.sub(sub, query)
        if missing_expected or missing_later:
            return None, missing_expected, missing_later
        return sql, [], []

    def _new_deliveries(self, files: list[Path]) -> list[Path]:
        """The deliveries a refresh as of `as_of` brings since the last gated refresh: all of
        them up to the as-of date on a first refresh (a refresh that ingests several months
        gates every one of them), those after the last gated as-of date on a later one, the
        newest one when re-running a month already gated or an earlier one."""
        since = self.new_since
        if since is None:
            return files
        if since < self.as_of:
            return [f for f in files if date.fromisoformat(f.stem) > since] or files[-1:]
        return files[-1:]

    def frames(self, sql: str, chunk_by: str | None, materialize: bool = False
               ) -> Iterator[tuple[str, pd.DataFrame]]:
        """The batch as pandas, whole or one chunk per value of `chunk_by`. With `materialize`
        (a chunked suite whose query is dear and whose result is small, e.g. the crosswalk's
        coverage of every raw record) the query runs once into a temporary table that the
        chunks are read from, instead of once for the chunk values and once per chunk."""
        if not chunk_by:
            yield "", self.con.execute(sql).df()
            return
        if materialize:
            self.con.execute(f"create or replace temp table suite_input as {sql}")
            try:
                yield from self.frames("select * from suite_input", chunk_by)
            finally:
                self.con.execute("drop table if exists suite_input")
            return
        values = [v for (v,) in self.con.execute(
            f"select distinct {chunk_by} from ({sql}) order by 1 nulls last").fetchall()]
        if not values:
            yield "", self.con.execute(sql).df()
            return
        for value in values:
            frame = self.con.execute(
                f"select * from ({sql}) where {chunk_by} is not distinct from ?", [value]).df()
            yield f"{chunk_by}={value}", frame


# ---------------------------------------------------------------------------------------------
# The GX context

def gx_context(gx_dir: Path = GX_DIR):
    """The committed file context; validation results and Data Docs go to `uncommitted_dir()`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ["TIERING_GX_UNCOMMITTED"] = str(uncommitted_dir())
    for name in ("great_expectations", "great_expectations.core", "tqdm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=str(gx_dir))


def suites_of(context, layer: str) -> list:
    suites = [s for s in context.suites.all()
              if (s.meta or {}).get("tiering", {}).get("layer") == layer]
    return sorted(suites, key=lambda s: s.name)


def ensure_checkpoint(context, suite):
    """Dataframe asset + batch definition + validation definition + checkpoint for a suite.
    Committed by `python -m tiering.quality sync`; created here only when missing."""
    import great_expectations as gx

    try:
        return context.checkpoints.get(suite.name)
    except Exception:  # noqa: BLE001 - GX raises several kinds of 'not found'
        pass
    try:
        source = context.data_sources.get(DATASOURCE)
    except Exception:  # noqa: BLE001
        source = context.data_sources.add_pandas(DATASOURCE)
    asset_names = {a.name for a in source.assets}
    asset = (source.get_asset(suite.name) if suite.name in asset_names
             else source.add_dataframe_asset(suite.name))
    batch = (asset.batch_definitions[0] if asset.batch_definitions
             else asset.add_batch_definition_whole_dataframe("whole_frame"))
    try:
        validation = context.validation_definitions.get(suite.name)
    except Exception:  # noqa: BLE001
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))
    return context.checkpoints.add(gx.Checkpoint(
        name=suite.name, validation_definitions=[validation], actions=[],
        result_format="SUMMARY"))


def sync(gx_dir: Path = GX_DIR) -> list[str]:
    """Create what every suite needs to run (for committing after adding a suite)."""
    context = gx_context(gx_dir)
    names = []
    for layer in LAYERS:
        for suite in suites_of(context, layer):
            ensure_checkpoint(context, suite)
            names.append(suite.name)
    return names


# ---------------------------------------------------------------------------------------------
# Running

def expectation_label(config) -> str:
    kwargs = config.kwargs
    target = kwargs.get("column") or kwargs.get("column_list") or (
        [kwargs["column_A"], kwargs["column_B"]] if "column_A" in kwargs else None)
    if isinstance(target, list):
        target = ",".join(target)
    return f"{config.type}({target})" if target else config.type


def _observed(result: dict[str, Any]) -> Any:
    if "observed_value" in result:
        return result["observed_value"]
    if "unexpected_count" in result:
        return {k: result.get(k) for k in ("element_count", "unexpected_count",
                                            "unexpected_percent", "partial_unexpected_list")}
    return None


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value[:20]]
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _message(config, result: dict[str, Any], exception: dict[str, Any] | None, chunk: str) -> str:
    why = (config.meta or {}).get("why", "")
    where = f" [{chunk}]" if chunk else ""
    if exception and exception.get("raised_exception"):
        text = (exception.get("exception_message") or "error").splitlines()[0]
        return f"could not evaluate{where}: {text}" + (f" ({why})" if why else "")
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list") or []
        example = f", e.g. {_to_jsonable(sample[:5])}" if sample else ""
        return (f"{result.get('unexpected_count')} of {result.get('element_count')} rows "
                f"unexpected{where}{example}" + (f"; {why}" if why else ""))
    if "observed_value" in result:
        return f"observed {_to_jsonable(result['observed_value'])}{where}" + (
            f"; {why}" if why else "")
    return why


def _merge(previous: CheckResult | None, new: CheckResult) -> CheckResult:
    """Combine one expectation's results over chunks: fails if any chunk fails."""
    if previous is None:
        return new
    if previous.success and not new.success:
        return new
    return previous


def run_suite(context, suite, inputs: Inputs, stored: list | None = None) -> list[CheckResult]:
    """Validate one suite; the identifiers of the stored validation results go to `stored`."""
    meta = (suite.meta or {}).get("tiering", {})
    blocking_of = {expectation_label(e.configuration): bool((e.meta or {}).get("blocking"))
                   for e in suite.expectations}
    sql, missing_expected, missing_later = inputs.resolve(meta["query"])
    if missing_expected:
        return [CheckResult(suite.name, "input_exists", False, True, None,
                            "; ".join(missing_expected))]
    if missing_later:
        return [CheckResult(suite.name, "input_exists", True, False, None,
                            "skipped: " + "; ".join(missing_later), skipped=True)]
    checkpoint = ensure_checkpoint(context, suite)
    sql = _projected(sql, suite, meta.get("chunk_by"))
    merged: dict[str, CheckResult] = {}
    # One chunk in memory at a time: the next is read after the previous one was validated.
    frames = inputs.frames(sql, meta.get("chunk_by"), bool(meta.get("materialize")))
    while True:
        try:
            chunk, frame = next(frames)
        except StopIteration:
            break
        except duckdb.Error as exc:
            return [CheckResult(suite.name, "query", False, True, None,
                                f"the suite's query failed: {' '.join(str(exc).split())[:500]}")]
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        del frame
        if stored is not None:
            stored.extend(run.run_results.keys())
        for validation in run.run_results.values():
            for r in validation.results:
                config = r.expectation_config
                label = expectation_label(config)
                result = r.result or {}
                exception = r.exception_info if isinstance(r.exception_info, dict) else None
                if exception and "raised_exception" not in exception:
                    exception = next(iter(exception.values()), None)
                blocking = blocking_of.get(label, bool((config.meta or {}).get("blocking")))
                merged[label] = _merge(merged.get(label), CheckResult(
                    suite.name, label, bool(r.success), blocking,
                    _to_jsonable(_observed(result)), _message(config, result, exception, chunk)))
        _drop_cached_batches(checkpoint)
    return list(merged.values())


_ROW_COUNT_EXPECTATIONS = ("expect_table_row_count_to_be_between",
                           "expect_table_row_count_to_equal")
_COLUMN_EXPECTATION_PREFIXES = ("expect_column_", "expect_compound_columns_",
                                "expect_multicolumn_")


def _projected(sql: str, suite, chunk_by: str | None) -> str:
    """The suite's query narrowed to the columns its expectations name (and the chunk column):
    only those reach pandas. A suite's query may select more, e.g. `select *` of a mart (at 1M
    clients `client_tiers_current` is 7M rows of 46 columns, of which the suite checks two).
    Only for suites whose expectations all name their columns (`expect_column_*`,
    `expect_compound_columns_*`, `expect_multicolumn_*`) or count rows; a suite with any other
    kind (e.g. `expect_table_columns_to_match_set`, which must see every column), a row
    condition, or no column named keeps its query as it is."""
    columns: list[str] = []
    for expectation in suite.expectations:
        kind = expectation.configuration.type
        kwargs = expectation.configuration.kwargs
        if kind in _ROW_COUNT_EXPECTATIONS:
            continue
        if not kind.startswith(_COLUMN_EXPECTATION_PREFIXES) or kwargs.get("row_condition"):
            return sql
        named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
        named += list(kwargs.get("column_list") or [])
        columns += [c for c in named if c and c not in columns]
    if not columns:
        return sql
    if chunk_by and chunk_by not in columns:
        columns.append(chunk_by)
    return f"select {', '.join(_quoted(c) for c in columns)} from ({sql}) as suite_input"


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _drop_cached_batches(checkpoint) -> None:
    """GX's pandas execution engine keeps the last batch it validated (the whole DataFrame) in
    its batch manager, for as long as the datasource lives: a 1M-client gate kept 1.3 GB of
    frames after it finished. Drop them once a chunk is validated. (Internal GX attributes,
    pinned by pyproject.toml: should a GX upgrade move them, the gate still runs and
    tests/test_quality.py reports the frames kept alive.)"""
    for validation in checkpoint.validation_definitions:
        try:
            engine = validation.batch_definition.data_asset.datasource.get_execution_engine()
            engine.batch_manager.batch_data_cache.clear()
            engine.batch_manager.reset_batch_cache()
        except AttributeError:
            pass


def run_layer(layer: str, paths: Paths, as_of: date, *, project_dir: Path = PROJECT_DIR,
              gx_dir: Path = GX_DIR, timings: dict[str, float] | None = None,
              docs: str = "always", stored: list | None = None) -> list[CheckResult]:
    """Run every suite of `layer` ('raw', 'unified' or 'marts') as of `as_of`.

    Data Docs: `docs="always"` renders this run's validation results now; `"on_failure"` only
    when an expectation failed (the pipeline renders the passing ones once, at publish:
    `build_data_docs_for`). Seconds per suite go to `timings`, the identifiers of the stored
    validation results (tuples) to `stored`, when given."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    if docs not in ("always", "on_failure"):
        raise ValueError(f"docs must be 'always' or 'on_failure', not {docs!r}")
    timings = {} if timings is None else timings
    context = gx_context(gx_dir)
    inputs = Inputs(paths, as_of, project_dir)
    identifiers: list = []
    try:
        results: list[CheckResult] = []
        for suite in suites_of(context, layer):
            started = time.perf_counter()
            results.extend(run_suite(context, suite, inputs, identifiers))
            timings[suite.name] = round(time.perf_counter() - started, 3)
    finally:
        inputs.close()
    if stored is not None:
        stored.extend(identifier.to_tuple() for identifier in identifiers)
    if docs == "always" or not all(r.success for r in results):
        started = time.perf_counter()
        build_data_docs(context, identifiers)
        timings[f"data_docs.{layer}"] = round(time.perf_counter() - started, 3)
    return results


def build_data_docs(context, identifiers: list) -> None:
    """Render validation results into Data Docs (never fails the gate itself), after pruning the
    results store to the last KEEP_RUNS runs of every suite."""
    if not identifiers:
        return
    try:
        prune_validation_results()
        context.build_data_docs(resource_identifiers=identifiers)
    except Exception as exc:  # noqa: BLE001 - documentation must not break a refresh
        log.warning("could not build GX Data Docs: %s", exc)


def build_data_docs_for(id_tuples: Sequence[Sequence[str]], gx_dir: Path = GX_DIR) -> None:
    """Data Docs for validation results stored earlier (identifiers from `run_layer(stored=)`)."""
    if not id_tuples:
        return
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    build_data_docs(gx_context(gx_dir),
                    [ValidationResultIdentifier.from_tuple(tuple(t)) for t in id_tuples])


KEEP_RUNS = 30


def prune_validation_results(keep: int = KEEP_RUNS) -> int:
    """Delete all but the newest `keep` results of each suite, with their Data Docs pages: the
    store grows by one result per suite and refresh, and the Data Docs index lists them all.
    Layout: `<uncommitted>/validations/<suite path>/<run name>/<run time>/<batch>.json` and the
    same path with `.html` under `data_docs/local_site/validations/`. Returns folders removed."""
    root = uncommitted_dir()
    results, pages = root / "validations", root / "data_docs" / "local_site" / "validations"
    removed = 0
    by_suite: dict[Path, set[Path]] = {}
    for batch in results.glob("**/*.json"):
        run_time = batch.parent
        by_suite.setdefault(run_time.parent.parent, set()).add(run_time)
    for runs in by_suite.values():
        for run_time in sorted(runs, key=lambda p: p.name)[:-keep]:
            shutil.rmtree(run_time, ignore_errors=True)
            shutil.rmtree(pages / run_time.relative_to(results), ignore_errors=True)
            removed += 1
    return removed


def blocking_failures(results: Sequence[Any]) -> list[Any]:
    return [r for r in results if r.blocking and not r.success]


def uncommitted_dir() -> Path:
    """Where GX writes validation results and Data Docs: $TIERING_GX_UNCOMMITTED, default
    $TIERING_HOME/gx (they belong to the data of one home, not to the code)."""
    from tiering.config import get_paths

    return Path(os.environ.get("TIERING_GX_UNCOMMITTED") or get_paths().home / "gx")


def data_docs_index(gx_dir: Path = GX_DIR) -> Path:
    return uncommitted_dir() / "data_docs" / "local_site" / "index.html"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tiering.quality sync` | `python -m tiering.quality run LAYER YYYY-MM-DD`."""
    import sys

    from tiering.config import get_paths

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sync"]:
        print("\n".join(sync()))
        return 0
    if args[:1] == ["run"] and len(args) == 3:
        results = run_layer(args[1], get_paths(), date.fromisoformat(args[2]))
        for r in results:
            print(r.describe())
        print(f"Data Docs: {data_docs_index()}")
        return 1 if blocking_failures(results) else 0
    print(main.__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
