"""Write-audit-publish: the serving copy BI reads.

`publish(paths, as_of, check_results)` refuses (PublishRefused) unless every blocking expectation
passed. Then it writes a NEW DuckDB file next to the serving file: the version before the previous
one (the spare the previous publish kept, when no reader still holds it), else a copy of the
previous serving file, if it has the current SERVING_FORMAT, else an empty one. Into it go the
tables of schema
`marts` of the build database (attached READ-ONLY), personal data masked on the way: the marts of
PERIOD_TABLES period by period, only the periods whose content (row count and row-hash sum of the
masked rows) differs from what that file holds; the other marts whole. It adds
`main.publish_log` (the previous serving file's history + one row) and `main.quality_results`
(the expectations that gated this version), exports the masked marts as Parquet under
`$TIERING_HOME/exports/<version>/` (a period mart one file per period, an unchanged period
hard-linked from the previous export), writes dbt's descriptions of the marts and their columns
as DuckDB comments on the tables and views (what BI tools show beside a column), and finally
`os.replace`s the new file onto `$TIERING_HOME/serving.duckdb`, after hard-linking the file it
replaces as the spare (`.serving.duckdb.spare`) the next publish writes into. The rename is
atomic: a BI reader that opened the old file keeps reading it whole, a reader that opens the
path afterwards gets the new file whole, and nobody ever holds a write lock on the serving path.
A spare is written only when no process holds it: another process's reader makes DuckDB refuse
the write lock, this process's own open files are checked in /proc/self/fd
(docs/publishing.md).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from tiering.config import Paths, duckdb_config
from tiering.quality import period_of

SCHEMA = "marts"

# Personal data, by column name (lower case). Names keep their first character; phones keep the
# prefix (mobile) or area code (landline) and the last four digits; emails keep the first character
# and the domain.
NAME_COLUMNS = ("contact_name", "caller_name", "legal_representative", "contact_person")
PHONE_MARKERS = ("phone", "mobile", "tel")
EMAIL_MARKERS = ("email", "e_mail", "mail")

# Columns that hold codes, keys and labels the pipeline itself derives, never text a person typed
# (a trailing number is ignored: reason_code_1, reason_label_2):
# copied as they are. Every other text column is scanned for phones and emails (mask_text_sql),
# which costs three regular expressions per value, too much to spend on tens of millions of keys.
STRUCTURED_SUFFIXES = ("_key", "_code", "_id", "_status", "_type", "_band", "_segment", "_source",
                       "_version", "_label", "_file", "_level", "_section", "_attributes")
STRUCTURED_COLUMNS = ("department", "entity", "match_rule", "uscc", "province", "city",
                      "listed_board", "tier_name", "industry_section_name", "service_strategy")

# What a phone number or an email looks like inside any text (an alphanumeric identifier such as a
# USCC that happens to contain eleven digits is not a phone number).
MOBILE_PATTERN = r"(^|[^0-9A-Za-z])(1[3-9][0-9])[0-9]{4}([0-9]{4})([^0-9A-Za-z]|$)"
LANDLINE_PATTERN = r"(^|[^0-9A-Za-z])(0[0-9]{2,3})[- ]?[0-9]{3,4}([0-9]{4})([^0-9A-Za-z]|$)"
EMAIL_PATTERN = r"([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"


# The layout of the serving file that publishing from the previous version relies on (bump it
# when that layout changes: the next publish then writes the file from scratch).
SERVING_FORMAT = 2
# Marts partitioned by period: a new version copies (and exports) only the periods whose content
# changed since the previous version; the other marts are copied whole (they are small).
PERIOD_TABLES = {"client_tiers": "period_date"}
# Parquet export versions kept under $TIERING_HOME/exports (unchanged files are hard links).
KEEP_EXPORTS = 3
# A previous serving file whose free blocks (left by replaced periods and tables) exceed this
# share is not reused: the next version is written from scratch, so the file cannot keep growing.
MAX_FREE_BLOCK_SHARE = 0.25
# Keep the replaced serving file as the spare the next publish writes into, instead of copying
# the serving file (the copy was 36 s of a 1M publish). TIERING_SERVING_SPARE=0 keeps none and
# saves the disk space of one serving file between publishes.
SPARE_SUFFIX = ".spare"


class PublishRefused(RuntimeError):
    """A blocking expectation failed (or no checks were given): the serving file is untouched."""


@dataclass
class PublishResult:
    version: int
    as_of_period: date
    published_at: datetime
    serving_path: Path
    export_dir: Path
    tables: int
    rows_published: int
    checks_run: int
    checks_passed: int

    def __str__(self) -> str:
        return (f"version {self.version} as of {self.as_of_period}: {self.tables} tables, "
                f"{self.rows_published} rows -> {self.serving_path}")


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def mask_name_sql(col: str) -> str:
    return (f"case when {col} is null or length(trim({col})) = 0 then {col} "
            f"else left(trim({col}), 1) || repeat('*', greatest(length(trim({col})) - 1, 1)) end")


def mask_phone_sql(col: str) -> str:
    digits = f"regexp_replace({col}, '[^0-9]', '', 'g')"
    area = f"regexp_extract({col}, '^\\s*\\(?(0[0-9]{{2,3}})\\)?[- ]', 1)"
    return (f"case when {col} is null then null "
            f"when regexp_matches({digits}, '^(86)?1[3-9][0-9]{{9}}$') "
            f"then left(right({digits}, 11), 3) || '****' || right({digits}, 4) "
            f"when length({digits}) >= 7 then "
            f"case when {area} <> '' then {area} || '-****' || right({digits}, 4) "
            f"else '****' || right({digits}, 4) end "
            f"else '****' end")


def mask_email_sql(col: str) -> str:
    return (f"case when {col} is null then null when position('@' in {col}) > 1 then "
            f"regexp_replace({col}, '^\\s*(.)[^@]*@', '\\1***@') else '***' end")


def mask_text_sql(col: str) -> str:
    """Phones and emails inside free text (any other varchar column)."""
    expr = f"regexp_replace({col}, '{EMAIL_PATTERN}', '\\1***@\\2', 'g')"
    expr = f"regexp_replace({expr}, '{MOBILE_PATTERN}', '\\1\\2****\\3\\4', 'g')"
    return f"regexp_replace({expr}, '{LANDLINE_PATTERN}', '\\1\\2-****\\3\\4', 'g')"


def masking_expression(column: str, data_type: str) -> str | None:
    """The SQL that masks a column of the serving copy, or None to copy it as is."""
    if not data_type.upper().startswith("VARCHAR"):
        return None
    name, col = column.lower(), _q(column)
    if name in NAME_COLUMNS or name.endswith("_contact_name"):
        return mask_name_sql(col)
    if any(m in name for m in EMAIL_MARKERS):
        return mask_email_sql(col)
    if any(m in name for m in PHONE_MARKERS):
        return mask_phone_sql(col)
    # numbered columns (reason_code_1, reason_label_2) are judged by the name before the number
    base = re.sub(r"_[0-9]+$", "", name)
    if base in STRUCTURED_COLUMNS or base.endswith(STRUCTURED_SUFFIXES):
        return None
    return mask_text_sql(col)


def _blocking_failures(check_results: Sequence[Any]) -> list[Any]:
    return [r for r in check_results if r.blocking and not r.success]


def _reusable(serving: Path) -> bool:
    """Whether the next version can start from a copy of this serving file: it exists, has the
    current SERVING_FORMAT and not too many free blocks."""
    if not serving.exists():
        return False
    try:
        with duckdb.connect(str(serving), read_only=True) as con:
            fmt = con.execute("select max(format) from main.serving_format").fetchone()[0]
            _, _, _, total, _, free, *_ = con.execute("pragma database_size").fetchone()
    except duckdb.Error:
        return False
    return fmt == SERVING_FORMAT and free <= MAX_FREE_BLOCK_SHARE * max(total, 1)


def spare_path(serving: Path) -> Path:
    return serving.with_name(f".{serving.name}{SPARE_SUFFIX}")


def _keeps_spare() -> bool:
    return os.environ.get("TIERING_SERVING_SPARE", "1") != "0"


def _open_in_this_process(path: Path) -> bool:
    """Whether this process holds the file open (a DuckDB connection it did not close). DuckDB's
    file lock cannot tell: POSIX locks never conflict within one process. Without /proc (not
    Linux) the answer is yes, so the spare is never written there."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return True
    target = path.stat()
    for fd in os.listdir(fds):
        try:
            held = os.stat(fds / fd)
        except OSError:
            continue
        if (held.st_dev, held.st_ino) == (target.st_dev, target.st_ino):
            return True
    return False


def _open_spare(serving: Path, tmp: Path) -> duckdb.DuckDBPyConnection | None:
    """Move the spare (the version before the serving one, kept by the previous publish) to
    `tmp` and open it for writing, or None when there is none to write: no spare, a spare that
    is the serving file itself (a publish stopped between its two renames), one this or another
    process still reads (DuckDB refuses the write lock while another process's reader holds
    it), or one not reusable (_reusable). A spare not written is deleted; its readers keep it."""
    spare = spare_path(serving)
    if not spare.exists():
        return None
    if not serving.exists() or os.path.samefile(spare, serving):
        spare.unlink()
        return None
    os.replace(spare, tmp)
    if not _open_in_this_process(tmp) and _reusable(tmp):
        try:
            return duckdb.connect(str(tmp), config=duckdb_config())
        except duckdb.IOException:  # "Could not set lock on file": a reader holds it
            pass
    tmp.unlink()
    return None


def _keep_spare(serving: Path) -> None:
    """Keep the serving file about to be replaced as the next publish's spare (a hard link, so
    the rename that follows leaves it in place), or drop the old spare when none is kept."""
    spare = spare_path(serving)
    if not (_keeps_spare() and serving.exists()):
        spare.unlink(missing_ok=True)
        return
    link = spare.with_name(f"{spare.name}.{os.getpid()}.tmp")
    try:
        link.unlink(missing_ok=True)
        os.link(serving, link)
        os.replace(link, spare)
    except OSError:  # no hard links here: keep no spare, the next publish copies
        link.unlink(missing_ok=True)
        spare.unlink(missing_ok=True)


def _create_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""create table main.publish_log (
        version integer, as_of_period date, published_at timestamp, checks_run integer,
        checks_passed integer, tables_published integer, rows_published bigint)""")


def _previous_state(con: duckdb.DuckDBPyConnection, serving: Path
                    ) -> tuple[dict[str, dict[Any, tuple[str, str]]],
                               dict[str, dict[Any, tuple[int, int]]]]:
    """From the serving file being replaced: its history (copied into main.publish_log of the
    file being written, which may be older: a spare or a file written from scratch) and what its
    period tables hold (the stored versions with their select, the stored fingerprints), which
    decide which periods the new export can hard-link from its export."""
    versions: dict[str, dict[Any, tuple[str, str]]] = {}
    fingerprints: dict[str, dict[Any, tuple[int, int]]] = {}
    if not serving.exists():
        return versions, fingerprints
    con.execute(f"attach '{serving}' as previous (read_only)")
    try:
        con.execute("delete from main.publish_log")
        if _has_main_table(con, "publish_log", "previous"):
            con.execute("insert into main.publish_log by name "
                        "select * from previous.main.publish_log")
        if _has_main_table(con, "period_versions", "previous"):
            for table, period, version, select in con.execute(
                    "select table_name, period_date, version, select_sql "
                    "from previous.main.period_versions").fetchall():
                versions.setdefault(table, {})[period] = (version, select)
        if _has_main_table(con, "period_fingerprints", "previous"):
            for table, period, n, h in con.execute(
                    "select table_name, period_date, row_count, row_hash "
                    "from previous.main.period_fingerprints").fetchall():
                fingerprints.setdefault(table, {})[period] = (n, h)
    finally:
        con.execute("detach previous")
    return versions, fingerprints


def _changed_since_previous(con: duckdb.DuckDBPyConnection, table: str, select: str,
                            previous_versions: dict[Any, tuple[str, str]] | None,
                            previous_fingerprints: dict[Any, tuple[int, int]] | None
                            ) -> list[Any] | None:
    """The periods of a period table whose content differs from the previous version's (so its
    export cannot be hard-linked), from what the file just written and the previous one stored:
    versions (with the same select) or fingerprints. None (export every period) when the two
    did not store the same kind."""
    versions = _stored_versions(con, table, select)
    if versions and previous_versions:
        before = {p: v for p, (v, s) in previous_versions.items() if s == select}
        if before:
            return sorted(p for p in versions if before.get(p) != versions[p])
    fingerprints = _stored_fingerprints(con, table)
    if fingerprints and previous_fingerprints:
        return sorted(p for p in fingerprints if previous_fingerprints.get(p) != fingerprints[p])
    return None


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = ? "
        "and table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, SCHEMA, table]).fetchall()


def _fingerprints(con: duckdb.DuckDBPyConnection, relation: str, column: str,
                  names: Sequence[str]) -> dict[Any, tuple[int, int]]:
    """Per period: row count and the sum of the rows' hashes (order-free content checksum)."""
    row = ", ".join(_q(c) for c in names)
    return {p: (n, h) for p, n, h in con.execute(
        f"select {_q(column)}, count(*), sum(hash({row})) from {relation} group by 1").fetchall()}


def _has_main_table(con: duckdb.DuckDBPyConnection, name: str,
                    catalog: str | None = None) -> bool:
    """Whether schema main of `catalog` (default: the serving file being written) has a table
    `name`."""
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = 'main' "
        "and table_name = ? and table_catalog = coalesce(?, current_database())",
        [name, catalog]).fetchone()[0] > 0


def _stored_fingerprints(con: duckdb.DuckDBPyConnection,
                         table: str) -> dict[Any, tuple[int, int]] | None:
    """The fingerprints the previous publish stored for the periods of a table it copied period
    by period (main.period_fingerprints), or None when it stored none."""
    if not _has_main_table(con, "period_fingerprints"):
        return None
    rows = con.execute("select period_date, row_count, row_hash from main.period_fingerprints "
                       "where table_name = ?", [table]).fetchall()
    return {p: (n, h) for p, n, h in rows} if rows else None


def _store_fingerprints(con: duckdb.DuckDBPyConnection, table: str,
                        fingerprints: dict[Any, tuple[int, int]] | None) -> None:
    """Record what a period table of the serving file now holds, or forget it (None: copied
    whole; the next publish computes the fingerprints from the table once)."""
    con.execute("create table if not exists main.period_fingerprints (table_name varchar, "
                "period_date date, row_count bigint, row_hash hugeint)")
    con.execute("delete from main.period_fingerprints where table_name = ?", [table])
    if fingerprints:
        con.executemany("insert into main.period_fingerprints values (?, ?, ?, ?)",
                        [[table, p, n, h] for p, (n, h) in fingerprints.items()])


def _build_versions(con: duckdb.DuckDBPyConnection, table: str,
                    period: str) -> dict[Any, str] | None:
    """The version of each period of a build's period mart: the dbt invocation that last wrote
    it (main.period_versions, recorded by the model's pre-hook: macros/publishing/
    period_versions.sql). None when the build has no record, or one that does not cover
    exactly the periods the table holds (a table built before the record existed)."""
    if not _has_main_table(con, "period_versions", "build"):
        return None
    versions = {p: v for p, v in con.execute(
        "select period_date, version from build.main.period_versions where table_name = ?",
        [table]).fetchall()}
    held = {p for (p,) in con.execute(
        f"select distinct {_q(period)} from build.{SCHEMA}.{_q(table)}").fetchall()}
    return versions if versions and set(versions) == held else None


def _stored_versions(con: duckdb.DuckDBPyConnection, table: str,
                     select: str) -> dict[Any, str] | None:
    """The build versions of the periods the serving file holds, as the previous publish stored
    them, if it copied them with the same select (the same masking); else None."""
    if not _has_main_table(con, "period_versions"):
        return None
    rows = con.execute("select period_date, version from main.period_versions "
                       "where table_name = ? and select_sql = ?", [table, select]).fetchall()
    return {p: v for p, v in rows} if rows else None


def _store_versions(con: duckdb.DuckDBPyConnection, table: str, select: str,
                    versions: dict[Any, str] | None) -> None:
    con.execute("create table if not exists main.period_versions (table_name varchar, "
                "period_date date, version varchar, select_sql varchar)")
    con.execute("delete from main.period_versions where table_name = ?", [table])
    if versions:
        con.executemany("insert into main.period_versions values (?, ?, ?, ?)",
                        [[table, p, v, select] for p, v in versions.items()])


def _copy_table(con: duckdb.DuckDBPyConnection, catalog: str, table: str, select: str,
                columns: Sequence[tuple[str, str]], reusable: bool) -> list[Any] | None:
    """Copy one mart from the build into the serving file being written. Tables partitioned by
    period (PERIOD_TABLES) that the file already holds with the same columns (it is an earlier
    version) copy only the periods that changed; returns those periods (None: copied whole).

    Which periods changed: by version when both sides have them (the build's record of the
    dbt invocation that last wrote each period, and the versions stored in the file when it was
    written, with the same select), read from two small tables; otherwise by fingerprint (row
    count, sum of the masked rows' hashes), a scan of the period mart: the build's computed, the
    file's stored when it was written (or computed from the table when it stored none)."""
    target = f"{SCHEMA}.{_q(table)}"
    source = f"build.{SCHEMA}.{_q(table)}"
    period = PERIOD_TABLES.get(table)
    versions = _build_versions(con, table, period) if period else None
    if period and reusable and _columns(con, catalog, table) == list(columns):
        names = [c for c, _ in columns]
        copied = _stored_versions(con, table, select) if versions else None
        new: dict[Any, tuple[int, int]] | None = None
        if versions and copied:
            changed = sorted(p for p in versions if copied.get(p) != versions[p])
            gone = sorted(p for p in copied if p not in versions)
        else:
            new = _fingerprints(con, f"(select {select} from {source})", period, names)
            old = _stored_fingerprints(con, table)
            if old is None:
                old = _fingerprints(con, target, period, names)
            changed = sorted(p for p in new if old.get(p) != new[p])
            gone = sorted(p for p in old if p not in new)
        if changed or gone:
            con.execute(f"delete from {target} where {_q(period)} in "
                        f"(select unnest(?))", [changed + gone])
        if changed:
            con.execute(f"insert into {target} select {select} from {source} "
                        f"where {_q(period)} in (select unnest(?))", [changed])
        _store_fingerprints(con, table, new)
        _store_versions(con, table, select, versions)
        return changed
    con.execute(f"drop table if exists {target} cascade")
    con.execute(f"create table {target} as select {select} from {source}")
    if period:
        _store_fingerprints(con, table, None)
        _store_versions(con, table, select, versions)
    return None


def _export(con: duckdb.DuckDBPyConnection, table: str, export_tmp: Path,
            previous_export: Path | None, changed: list[Any] | None) -> None:
    """The masked mart as Parquet: one file, or for a period table one file per period
    (<table>/<period>.parquet), a period that did not change hard-linked from the previous
    version's export instead of written again."""
    relation = f"{SCHEMA}.{_q(table)}"
    period = PERIOD_TABLES.get(table)
    if not period:
        target = str(export_tmp / f"{table}.parquet").replace("'", "''")
        con.execute(f"copy {relation} to '{target}' (format parquet)")
        return
    folder = export_tmp / table
    folder.mkdir()
    periods = [p for (p,) in con.execute(
        f"select distinct {_q(period)} from {relation} order by 1").fetchall()]
    for value in periods:
        name = f"{value}.parquet"
        old = previous_export / table / name if previous_export else None
        if changed is not None and value not in changed and old is not None and old.exists():
            os.link(old, folder / name)
            continue
        target = str(folder / name).replace("'", "''")
        con.execute(f"copy (select * from {relation} where {_q(period)} = ?) to '{target}' "
                    "(format parquet)", [value])


def _prune_exports(exports: Path, keep: int) -> None:
    versions = sorted((int(p.name) for p in exports.iterdir() if p.name.isdigit()),
                      reverse=True)
    for version in versions[keep:]:
        shutil.rmtree(exports / str(version), ignore_errors=True)


@dataclass(frozen=True)
class MartDocs:
    """dbt's description of a mart and of its columns (lower-case names; from
    models/marts/**/_*__models.yml)."""

    description: str
    columns: Mapping[str, str]


def mart_docs(manifest: Mapping[str, Any]) -> dict[str, MartDocs]:
    """The descriptions of the models of schema `marts` in a dbt manifest, by table name, as one
    line each (a comment is read in a tool tip, not rendered as Markdown)."""
    def one_line(text: str | None) -> str:
        return " ".join((text or "").split())

    return {
        node["alias"]: MartDocs(one_line(node.get("description")), {
            name.lower(): one_line(column.get("description"))
            for name, column in node.get("columns", {}).items()
            if one_line(column.get("description"))})
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == SCHEMA}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment_on(con: duckdb.DuckDBPyConnection, kind: str, relation: str, docs: MartDocs,
                columns: Sequence[str]) -> None:
    if docs.description:
        con.execute(f"comment on {kind} {relation} is {_literal(docs.description)}")
    for column in columns:
        if text := docs.columns.get(column.lower()):
            con.execute(f"comment on column {relation}.{_q(column)} is {_literal(text)}")


def _comment(con: duckdb.DuckDBPyConnection, table: str, docs: MartDocs,
             columns: Sequence[str]) -> None:
    """dbt's descriptions as comments on the mart (schema `marts`) and on its view in the
    default schema, so that `duckdb_columns()` and BI tools show them; a column the mart lacks
    is left out."""
    views = {schema for (schema,) in con.execute(
        "select schema_name from duckdb_views() where database_name = current_database() "
        "and view_name = ?", [table]).fetchall()}
    for schema in (SCHEMA, "main"):
        _comment_on(con, "view" if schema in views else "table", f"{schema}.{_q(table)}", docs,
                    columns)


# The two tables publish itself keeps in the serving file, described as the marts are.
SERVING_TABLE_DOCS = {
    "publish_log": MartDocs(
        "One row per version of this serving file, oldest first: what was published when.", {
            "version": "Version number (1, 2, ...); exports/<version>/ holds its Parquet.",
            "as_of_period": "The period (month end) the version was refreshed as of.",
            "published_at": "When it was published (UTC).",
            "checks_run": "Quality checks (GX expectations and dbt data tests) that gated it.",
            "checks_passed": "Of those, the ones that passed (a failed one was a warning).",
            "tables_published": "Marts in the version.",
            "rows_published": "Rows in those marts."}),
    "quality_results": MartDocs(
        "The quality checks that gated this version: one row per GX expectation and per dbt "
        "data test (suite dbt); the report's data-quality section lists them.", {
            "version": "The version they gated (publish_log.version).",
            "suite": "GX suite (layer.entity) or dbt.",
            "expectation": "The expectation or dbt test.",
            "success": "True when it passed.",
            "blocking": "True when a failure stops the publish (then no version is written).",
            "observed": "What it observed (truncated to 2,000 characters).",
            "message": "Why it failed or warned, naming the rows or keys it could."}),
}


def publish(paths: Paths, as_of: date, check_results: Sequence[Any],
            docs: Mapping[str, MartDocs] | None = None) -> PublishResult:
    """Publish the build database's marts as the new serving copy (see the module docstring).
    `docs`: the marts' descriptions (mart_docs of the dbt manifest), written as comments."""
    results = list(check_results)
    if not results:
        raise PublishRefused("refusing to publish: no quality check results were given")
    failed = _blocking_failures(results)
    if failed:
        names = "; ".join(f"{r.suite}.{r.expectation}"
                          + (f" ({r.message})" if getattr(r, "message", "") else "")
                          for r in failed)
        raise PublishRefused(f"refusing to publish: {len(failed)} blocking expectation(s) failed: "
                             f"{names}. The serving file was left untouched.")
    if not paths.warehouse.exists():
        raise PublishRefused(f"refusing to publish: no build database at {paths.warehouse}")

    paths.home.mkdir(parents=True, exist_ok=True)
    period = period_of(as_of)
    published_at = datetime.now(timezone.utc).replace(tzinfo=None)
    tmp = paths.serving.with_name(f".{paths.serving.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    export_tmp: Path | None = None
    reusable = _reusable(paths.serving)
    try:
        # start from an earlier version, so that unchanged periods are not copied again: the
        # spare if it can be written, else a copy of the serving file
        con = _open_spare(paths.serving, tmp) if reusable and _keeps_spare() else None
        from_spare = con is not None
        if con is None:
            if reusable:
                shutil.copyfile(paths.serving, tmp)
            con = duckdb.connect(str(tmp), config=duckdb_config())
        try:
            if not reusable:
                _create_log(con)
                con.execute(f"create schema {SCHEMA}")
                con.execute("create table main.serving_format (format integer)")
                con.execute("insert into main.serving_format values (?)", [SERVING_FORMAT])
            previous_versions, previous_fingerprints = _previous_state(con, paths.serving)
            previous_version = con.execute(
                "select max(version) from main.publish_log").fetchone()[0]
            version = 1 + (previous_version or 0)
            con.execute(f"attach '{paths.warehouse}' as build (read_only)")
            tables = [t for (t,) in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'build' "
                "and table_schema = ? and table_type = 'BASE TABLE' order by 1", [SCHEMA]).fetchall()]
            tables += [t for (t,) in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'build' "
                "and table_schema = ? and table_type = 'VIEW' order by 1", [SCHEMA]).fetchall()]
            if not tables:
                raise PublishRefused(f"refusing to publish: schema {SCHEMA} of {paths.warehouse} "
                                     "has no tables")
            serving_catalog = con.execute("select current_database()").fetchone()[0]
            stale = [t for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_catalog = ?", [SCHEMA, serving_catalog]).fetchall() if t not in tables]
            for table in stale:
                con.execute(f"drop view if exists main.{_q(table)}")
                con.execute(f"drop table if exists {SCHEMA}.{_q(table)}")
            rows = 0
            changed_periods: dict[str, list[Any] | None] = {}
            for table in tables:
                columns = _columns(con, "build", table)
                replaced = [f"{expr} as {_q(c)}" for c, t in columns
                            if (expr := masking_expression(c, t)) is not None]
                select = "*" + (f" replace ({', '.join(replaced)})" if replaced else "")
                changed = _copy_table(con, serving_catalog, table, select, columns, reusable)
                # the export hard-links what did not change since the previous version: the
                # periods copied, when the file started as a copy of it; from a spare (the
                # version before) what the two versions stored tells
                changed_periods[table] = changed if not from_spare else _changed_since_previous(
                    con, table, select, previous_versions.get(table),
                    previous_fingerprints.get(table))
                rows += con.execute(f"select count(*) from {SCHEMA}.{_q(table)}").fetchone()[0]
                # BI tools query the public names unqualified (`select * from dim_clients`):
                # a view in the default schema for each mart.
                con.execute(f"create or replace view main.{_q(table)} as "
                            f"select * from {SCHEMA}.{_q(table)}")
                if docs and table in docs:
                    _comment(con, table, docs[table], [c for c, _ in columns])
            con.execute("detach build")
            passed = sum(bool(r.success) for r in results)
            con.execute("insert into main.publish_log values (?, ?, ?, ?, ?, ?, ?)",
                        [version, period, published_at, len(results), passed, len(tables), rows])
            con.execute("drop table if exists main.quality_results")
            con.execute("""create table main.quality_results (version integer, suite varchar,
                expectation varchar, success boolean, blocking boolean, observed varchar,
                message varchar)""")
            con.executemany("insert into main.quality_results values (?, ?, ?, ?, ?, ?, ?)", [
                [version, r.suite, r.expectation, bool(r.success), bool(r.blocking),
                 None if r.observed is None else str(r.observed)[:2000],
                 (getattr(r, "message", "") or "")[:2000]] for r in results])
            for name, table_docs in SERVING_TABLE_DOCS.items():
                _comment_on(con, "table", f"main.{name}", table_docs, [c for (c,) in con.execute(
                    "select column_name from duckdb_columns() where database_name = "
                    "current_database() and schema_name = 'main' and table_name = ?",
                    [name]).fetchall()])
            export_dir = paths.exports / str(version)
            export_tmp = paths.exports / f".{version}.{os.getpid()}.tmp"
            shutil.rmtree(export_tmp, ignore_errors=True)
            export_tmp.mkdir(parents=True)
            previous_export = (paths.exports / str(previous_version)
                               if reusable and previous_version else None)
            # the files' row order is not part of the export (readers filter and group): without
            # it DuckDB writes the row groups as its threads finish them, 0.75 of the time
            # (docs/benchmarks.md); the serving tables above were copied in order
            con.execute("set preserve_insertion_order = false")
            for table in tables:
                _export(con, table, export_tmp, previous_export, changed_periods.get(table))
            con.execute("checkpoint")
        finally:
            con.close()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if export_dir.exists():
            shutil.rmtree(export_dir)
        os.replace(export_tmp, export_dir)
        _keep_spare(paths.serving)
        os.replace(tmp, paths.serving)  # the publish: atomic on the same file system
        _prune_exports(paths.exports, KEEP_EXPORTS)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        if export_tmp is not None:
            shutil.rmtree(export_tmp, ignore_errors=True)
        raise
    return PublishResult(version, period, published_at, paths.serving, export_dir, len(tables),
                         rows, len(results), passed)
