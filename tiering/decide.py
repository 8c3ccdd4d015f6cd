"""`tiering decide`: record a data steward's decision on two source records.

A decision is a row of the seed `identity_decisions` (docs/identity.md, "Data stewards'
decisions"): two records are one company (`same`) or not (`different`), from an as-of date on
(`valid_from`, blank for every one), by whom, when and why. Written by hand, a row is easy to get
wrong in ways the refresh only reports afterwards: a record key typed from memory, a ticket
(attributed, never linked), the pair decided before, a decision id used twice. This command
writes the row for the steward after checking it:

- each record is looked up in `client_source_xref` (of the published serving database by
  default: the records the steward sees in `identity_review_queue` and `tiering client`), as
  `department|entity|record_id` (the queue's form) or `department:record_id`, and written in
  the seed's form;
- a ticket, a record decided against itself, an empty `--by` or `--reason` are refused;
- the latest earlier decision on the pair (by `decided_on`, then `decision_id`, as the
  refresh reads them) is shown; the same decision again writes nothing;
- the new row gets the next `D` number and today's date, and is appended (the file's earlier
  rows are never rewritten: they are the audit trail).

For many pairs, `--export-queue FILE` writes the published identity_review_queue as a worksheet
(a CSV a spreadsheet opens) and `--from-file FILE` records its decided rows with the same
checks, all or nothing: any row that cannot be recorded is named by its line, and none is
written.

The decision takes effect at the next refresh: the seed is part of the code the daily schedule
compares, so it starts one by itself.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tiering.config import PROJECT_DIR, Paths, duckdb_config, get_paths

if TYPE_CHECKING:
    import pandas as pd

SEED = PROJECT_DIR / "seeds" / "identity" / "identity_decisions.csv"
COLUMNS = ("decision_id", "record_key_a", "record_key_b", "decision", "valid_from",
           "decided_by", "decided_on", "reason")
DECISIONS = ("same", "different")
DECISION_ID = re.compile(r"^D([0-9]+)$")


class DecisionRefused(ValueError):
    """The decision cannot be recorded as asked; nothing was written."""


@dataclass
class Recorded:
    row: dict[str, str]
    client_keys: tuple[str, str]
    previous: dict[str, str] | None
    written: bool
    seed: Path

    def describe(self) -> str:
        row = self.row
        verb = "are one company" if row["decision"] == "same" else "are two companies"
        when = f"from {row['valid_from']} on" if row["valid_from"] else "at every as-of date"
        clients = (f"one client now ({self.client_keys[0]})"
                   if self.client_keys[0] == self.client_keys[1]
                   else f"clients {self.client_keys[0]} and {self.client_keys[1]} now")
        lines = []
        if not self.written:
            lines.append(f"Already decided: {row['decision_id']} ({row['decided_by']}, "
                         f"{row['decided_on']}) says {row['record_key_a']} and "
                         f"{row['record_key_b']} {verb} {when}; nothing written.")
            return "\n".join(lines)
        lines.append(f"{row['decision_id']}: {row['record_key_a']} and {row['record_key_b']} "
                     f"{verb} {when} ({row['decided_by']}, {row['decided_on']}: "
                     f"{row['reason']})")
        lines.append(f"  the records are in {clients}")
        if self.previous is not None:
            earlier = self.previous
            since = (f"from {earlier['valid_from']} on" if earlier["valid_from"]
                     else "at every as-of date")
            lines.append(f"  earlier decision on the pair: {earlier['decision_id']} "
                         f"({earlier['decision']} {since}; {earlier['decided_by']}, "
                         f"{earlier['decided_on']}); at each as-of date the latest decision "
                         "valid then applies")
        lines.append(f"  written to {self.seed}; the next refresh applies it (`tiering refresh`, "
                     "or the daily schedule, which sees the seed change)")
        return "\n".join(lines)


def read_decisions(seed: Path = SEED) -> list[dict[str, str]]:
    """The seed's rows, as the refresh will load them."""
    if not seed.exists():
        raise DecisionRefused(f"no seed file {seed}")
    with seed.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise DecisionRefused(f"{seed}: header {','.join(reader.fieldnames or ())!r}, "
                                  f"expected {','.join(COLUMNS)}")
        return [dict(row) for row in reader]


def _append(seed: Path, rows: Sequence[dict[str, str]]) -> None:
    if not rows:
        return
    text = seed.read_bytes()
    lines = io.StringIO()
    csv.writer(lines, lineterminator="\n").writerows([row[c] for c in COLUMNS] for row in rows)
    with seed.open("a", encoding="utf-8", newline="") as handle:
        if text and not text.endswith(b"\n"):
            handle.write("\n")
        handle.write(lines.getvalue())


class _Decided:
    """The seed's decisions indexed for checking many: the one the refresh applies to each
    pair (latest decided_on, then decision_id) and the next free `D` number."""

    def __init__(self, rows: Sequence[dict[str, str]]):
        self.latest: dict[frozenset[str], dict[str, str]] = {}
        self.number = 0
        for row in rows:
            self.add(row)

    def add(self, row: dict[str, str]) -> None:
        pair = frozenset((row["record_key_a"] or "", row["record_key_b"] or ""))
        held = self.latest.get(pair)
        if held is None or _order(row) >= _order(held):
            self.latest[pair] = row
        if m := DECISION_ID.match(row["decision_id"] or ""):
            self.number = max(self.number, int(m.group(1)))

    def next_id(self) -> str:
        return f"D{self.number + 1:04d}"


def _order(row: dict[str, str]) -> tuple[str, str]:
    return row["decided_on"] or "", row["decision_id"] or ""


def _lookup(query: Callable[[str, list], pd.DataFrame], key: str,
            known: dict[str, dict]) -> tuple[str, str]:
    """(department|entity|record_id, client_key) of a source record in client_source_xref;
    `known` holds the records already looked up by their full key."""
    from tiering.explain import ClientNotFound, source_record

    record = known.get(key.strip())
    if record is None:
        try:
            record = source_record(query, key)
        except ClientNotFound as exc:
            raise DecisionRefused(str(exc)) from None
    if record["entity"] == "tickets":
        raise DecisionRefused(f"{key} is a service ticket: tickets are attributed to a client, "
                              "not linked, so no decision applies to them")
    return f"{record['department']}|{record['entity']}|{record['record_id']}", \
        record["client_key"]


def _known(con: duckdb.DuckDBPyConnection, asked: Sequence[Asked]) -> dict[str, dict]:
    """The records named by their full key (department|entity|record_id, as a worksheet from
    the queue names them), looked up in one pass over the xref instead of one query each."""
    from tiering.explain import RECORD_KEY_PATTERN

    keys = sorted({k.strip() for item in asked for k in (item.key_a, item.key_b)
                   if RECORD_KEY_PATTERN.match(k.strip())})
    if not keys:
        return {}
    import pandas as pd

    con.register("asked_record_keys", pd.DataFrame({"record_key": keys}))
    found = con.execute("""
        select asked.record_key, xref.department, xref.entity, xref.record_id, xref.client_key
        from marts.client_source_xref as xref
        inner join asked_record_keys as asked
            on asked.record_key = xref.department || '|' || xref.entity || '|' || xref.record_id
        """).fetchall()
    con.unregister("asked_record_keys")
    return {key: {"department": d, "entity": e, "record_id": r, "client_key": c}
            for key, d, e, r, c in found}


@dataclass
class Asked:
    """One decision as a steward asks for it; `where` names its place in a file, if any."""
    key_a: str
    key_b: str
    decision: str
    reason: str
    valid_from: date | None = None
    where: str = ""


def _check(query: Callable[[str, list], pd.DataFrame], decided: _Decided, asked: Asked,
           known: dict[str, dict], decided_by: str, decided_on: str, seed: Path) -> Recorded:
    """The row a decision adds to the seed (written=False: the pair already has it)."""
    decision = asked.decision.strip().lower()
    if decision not in DECISIONS:
        raise DecisionRefused(f"decision must be one of {', '.join(DECISIONS)}, "
                              f"not {asked.decision!r}")
    reason = " ".join(asked.reason.split())
    if not reason:
        raise DecisionRefused("a decision needs why (--reason): it is its audit trail")
    (a, client_a), (b, client_b) = (_lookup(query, asked.key_a, known),
                                    _lookup(query, asked.key_b, known))
    if a == b:
        raise DecisionRefused(f"{asked.key_a} and {asked.key_b} are the same record")
    previous = decided.latest.get(frozenset((a, b)))
    valid = asked.valid_from.isoformat() if asked.valid_from else ""
    if previous is not None and (previous["decision"], previous["valid_from"]) == (decision, valid):
        return Recorded(previous, (client_a, client_b), None, False, seed)
    row = {"decision_id": decided.next_id(), "record_key_a": a, "record_key_b": b,
           "decision": decision, "valid_from": valid, "decided_by": decided_by,
           "decided_on": decided_on, "reason": reason}
    return Recorded(row, (client_a, client_b), previous, True, seed)


def record_all(asked: Sequence[Asked], decided_by: str, *, database: Path, seed: Path = SEED,
               today: date | None = None) -> list[Recorded]:
    """Check decisions against `database`'s marts.client_source_xref and the seed (each also
    against the ones before it), then append the new rows to `seed` at once. All or nothing:
    DecisionRefused lists every decision that cannot be recorded, and nothing is written."""
    decided_by = decided_by.strip()
    if not decided_by:
        raise DecisionRefused("a decision needs who decided (--by): it is its audit trail")
    decided = _Decided(read_decisions(seed))
    if not database.exists():
        raise DecisionRefused(f"no database at {database}: nothing has been published yet "
                              "(run `tiering refresh`)")
    decided_on = (today or date.today()).isoformat()
    results: list[Recorded] = []
    problems: list[str] = []
    with duckdb.connect(str(database), read_only=True, config=duckdb_config()) as con:
        def query(sql: str, params: list) -> pd.DataFrame:
            return con.execute(sql, params).df()

        known = _known(con, asked)
        for item in asked:
            try:
                result = _check(query, decided, item, known, decided_by, decided_on, seed)
            except DecisionRefused as exc:
                problems.append(f"{item.where}: {exc}" if item.where else str(exc))
                continue
            results.append(result)
            if result.written:
                decided.add(result.row)
    if problems:
        raise DecisionRefused("\n".join(problems) if len(problems) == 1 else
                              f"{len(problems)} decisions cannot be recorded, so none is:\n"
                              + "\n".join(f"  {p}" for p in problems))
    _append(seed, [r.row for r in results if r.written])
    return results


def record(key_a: str, key_b: str, decision: str, decided_by: str, reason: str,
           valid_from: date | None = None, *, database: Path, seed: Path = SEED,
           today: date | None = None) -> Recorded:
    """One decision (record_all of one)."""
    return record_all([Asked(key_a, key_b, decision, reason, valid_from)], decided_by,
                      database=database, seed=seed, today=today)[0]


FILE_COLUMNS = ("record_key_a", "record_key_b", "decision")
LISTED = 20  # decisions of a worksheet listed after recording it


def read_asked(path: Path, reason: str = "", valid_from: date | None = None) -> list[Asked]:
    """The decisions of a steward's worksheet: a CSV (UTF-8, with or without the BOM a
    spreadsheet writes) holding at least record_key_a, record_key_b and decision, optionally
    reason and valid_from (YYYY-MM-DD); other columns (the queue's names, clients, ...) are
    ignored, and so are rows whose decision is blank (not decided yet). A row without its own
    reason or valid_from takes `reason` and `valid_from`."""
    if not path.exists():
        raise DecisionRefused(f"no file {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or ()]
        missing = [c for c in FILE_COLUMNS if c not in columns]
        if missing:
            raise DecisionRefused(f"{path.name}: no column {', '.join(missing)} (a worksheet "
                                  f"needs {', '.join(FILE_COLUMNS)}; reason and valid_from "
                                  "are optional)")
        reader.fieldnames = columns
        asked, problems = [], []
        for row in reader:
            decision = (row.get("decision") or "").strip()
            if not decision:
                continue
            where = f"{path.name} line {reader.line_num}"
            valid_text = (row.get("valid_from") or "").strip()
            try:
                row_valid_from = date.fromisoformat(valid_text) if valid_text else valid_from
            except ValueError:
                problems.append(f"{where}: valid_from {valid_text!r} is not a date (YYYY-MM-DD)")
                continue
            asked.append(Asked((row.get("record_key_a") or "").strip(),
                               (row.get("record_key_b") or "").strip(), decision,
                               (row.get("reason") or "").strip() or reason, row_valid_from,
                               where))
    if problems:
        raise DecisionRefused("\n".join(problems))
    return asked


def export_queue(database: Path, path: Path) -> int:
    """Write the published identity_review_queue as a worksheet for `read_asked`: its columns
    and empty decision, reason and valid_from, UTF-8 with a BOM so that a spreadsheet reads the
    names right. Returns the number of pairs."""
    if not database.exists():
        raise DecisionRefused(f"no database at {database}: nothing has been published yet "
                              "(run `tiering refresh`)")
    with duckdb.connect(str(database), read_only=True, config=duckdb_config()) as con:
        try:
            queue = con.execute("select * from marts.identity_review_queue "
                                "order by review_priority, record_key_a, record_key_b")
        except duckdb.CatalogException:
            raise DecisionRefused(f"{database} has no identity_review_queue (published before "
                                  "it existed: run `tiering refresh`)") from None
        names = [d[0] for d in queue.description]
        pairs = queue.fetchall()
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "decision", "reason", "valid_from"])
        writer.writerows([*pair, "", "", ""] for pair in pairs)
    return len(pairs)


def main(key_a: str | None, key_b: str | None, decision: str | None, decided_by: str | None,
         reason: str | None, valid_from: date | None = None, seed: Path | None = None,
         from_file: Path | None = None, export: Path | None = None,
         paths: Paths | None = None) -> int:
    """`tiering decide`: one decision (A B same|different), a worksheet of them (--from-file),
    or the published queue written as a worksheet (--export-queue)."""
    paths = paths or get_paths()
    given = [x is not None for x in (key_a, key_b, decision)]
    try:
        if export is not None:
            if any(given) or from_file is not None:
                raise DecisionRefused("--export-queue takes no records and no --from-file")
            count = export_queue(paths.serving, export)
            print(f"{count} pairs of identity_review_queue written to {export}: fill in "
                  "decision (same / different) and reason, then `tiering decide --from-file "
                  f"{export} --by NAME`")
            return 0
        if not decided_by:
            raise DecisionRefused("a decision needs who decided (--by): it is its audit trail")
        if from_file is not None:
            if any(given):
                raise DecisionRefused("give either two records and a decision, or --from-file")
            asked = read_asked(from_file, reason or "", valid_from)
        elif all(given):
            asked = [Asked(key_a, key_b, decision, reason or "", valid_from)]
        else:
            raise DecisionRefused("give two records and a decision (tiering decide A B "
                                  "same|different), --from-file or --export-queue")
        results = record_all(asked, decided_by, database=paths.serving, seed=seed or SEED)
    except DecisionRefused as exc:
        print(f"tiering decide: {exc}", file=sys.stderr)
        return 1
    except duckdb.IOException as exc:
        print(f"tiering decide: cannot read {paths.serving}: {exc}", file=sys.stderr)
        return 1
    if from_file is None:
        print(results[0].describe())
        return 0
    written = [r for r in results if r.written]
    print(f"{len(written)} decisions written to {seed or SEED} from {from_file}"
          f" ({len(results) - len(written)} already decided, skipped)"
          + ("; the next refresh applies them" if written else ""))
    for result in written[:LISTED]:
        row = result.row
        print(f"  {row['decision_id']} {row['decision']:<9} {row['record_key_a']}  "
              f"{row['record_key_b']}")
    if len(written) > LISTED:
        print(f"  ... and {len(written) - LISTED} more (the seed lists them all)")
    return 0
