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


def _append(seed: Path, row: dict[str, str]) -> None:
    text = seed.read_bytes()
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow([row[c] for c in COLUMNS])
    with seed.open("a", encoding="utf-8", newline="") as handle:
        if text and not text.endswith(b"\n"):
            handle.write("\n")
        handle.write(line.getvalue())


def _next_id(rows: Sequence[dict[str, str]]) -> str:
    numbers = [int(m.group(1)) for r in rows if (m := DECISION_ID.match(r["decision_id"] or ""))]
    return f"D{max(numbers, default=0) + 1:04d}"


def _latest(rows: Sequence[dict[str, str]], a: str, b: str) -> dict[str, str] | None:
    """The decision the refresh applies to the pair: latest decided_on, then decision_id."""
    on_pair = [r for r in rows if {r["record_key_a"], r["record_key_b"]} == {a, b}]
    return max(on_pair, key=lambda r: (r["decided_on"] or "", r["decision_id"] or ""),
               default=None)


def _lookup(query: Callable[[str, list], pd.DataFrame], key: str) -> tuple[str, str]:
    """(department|entity|record_id, client_key) of a source record in client_source_xref."""
    from tiering.explain import ClientNotFound, source_record

    try:
        record = source_record(query, key)
    except ClientNotFound as exc:
        raise DecisionRefused(str(exc)) from None
    if record["entity"] == "tickets":
        raise DecisionRefused(f"{key} is a service ticket: tickets are attributed to a client, "
                              "not linked, so no decision applies to them")
    return f"{record['department']}|{record['entity']}|{record['record_id']}", \
        record["client_key"]


def record(key_a: str, key_b: str, decision: str, decided_by: str, reason: str,
           valid_from: date | None = None, *, database: Path, seed: Path = SEED,
           today: date | None = None) -> Recorded:
    """Check a decision against `database`'s marts.client_source_xref and append it to `seed`.
    Raises DecisionRefused (nothing written) when it cannot be recorded as asked."""
    if decision not in DECISIONS:
        raise DecisionRefused(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    decided_by, reason = decided_by.strip(), " ".join(reason.split())
    if not decided_by or not reason:
        raise DecisionRefused("a decision needs who decided (--by) and why (--reason): they are "
                              "its audit trail")
    rows = read_decisions(seed)
    if not database.exists():
        raise DecisionRefused(f"no database at {database}: nothing has been published yet "
                              "(run `tiering refresh`)")
    with duckdb.connect(str(database), read_only=True, config=duckdb_config()) as con:
        def query(sql: str, params: list) -> pd.DataFrame:
            return con.execute(sql, params).df()

        (a, client_a), (b, client_b) = _lookup(query, key_a), _lookup(query, key_b)
    if a == b:
        raise DecisionRefused(f"{key_a} and {key_b} are the same record")
    previous = _latest(rows, a, b)
    valid = valid_from.isoformat() if valid_from else ""
    if previous is not None and (previous["decision"], previous["valid_from"]) == (decision, valid):
        return Recorded(previous, (client_a, client_b), None, False, seed)
    row = {"decision_id": _next_id(rows), "record_key_a": a, "record_key_b": b,
           "decision": decision, "valid_from": valid, "decided_by": decided_by,
           "decided_on": (today or date.today()).isoformat(), "reason": reason}
    _append(seed, row)
    return Recorded(row, (client_a, client_b), previous, True, seed)


def main(key_a: str, key_b: str, decision: str, decided_by: str, reason: str,
         valid_from: date | None = None, seed: Path | None = None,
         paths: Paths | None = None) -> int:
    paths = paths or get_paths()
    try:
        result = record(key_a, key_b, decision, decided_by, reason, valid_from,
                        database=paths.serving, seed=seed or SEED)
    except DecisionRefused as exc:
        print(f"tiering decide: {exc}", file=sys.stderr)
        return 1
    except duckdb.IOException as exc:
        print(f"tiering decide: cannot read {paths.serving}: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0
