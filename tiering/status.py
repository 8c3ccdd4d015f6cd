"""`tiering status`: what state a home is in, read-only, in a second.

For the data engineer on call: which months the landing zone holds complete, what ingestion made
of the deliveries (rejected ones with why), how far the build database's tier history reaches,
what is published, what the next `tiering refresh` would do, how many pairs of records wait
for a data steward (identity_review_queue, as published) and how many of their decisions the
seed holds, whether a run holds the home now, and the last alerts. It opens nothing for
writing and takes no lock: it can run beside a refresh (the build database is then reported
busy, not waited for).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from orchestration.deliveries import complete_deliveries, complete_periods
from orchestration.state import last_refresh, ops_database, refresh_reason, tier_history
from tiering.config import PROJECT_DIR, Paths, get_paths
from tiering.contract import DEPARTMENTS
from tiering.decide import SEED, DecisionRefused, read_decisions
from tiering.ingest import store
from tiering.ingest.landing import MANIFEST, scan_landing, unread_folders
from tiering.runlock import current_holder

LABEL = 18


def _line(label: str, text: str) -> str:
    return f"  {label + ':':<{LABEL}} {text}"


def _months(periods: list[date]) -> str:
    if not periods:
        return "none"
    return f"{periods[0]:%Y-%m} … {periods[-1]:%Y-%m} ({len(periods)})"


def _landing(paths: Paths) -> list[str]:
    complete = complete_periods(paths.landing)
    lines = [_line("landing zone", f"{paths.landing}: complete months {_months(complete)}")]
    delivered: dict[date, set[str]] = {}
    for delivery in complete_deliveries(paths.landing):
        delivered.setdefault(delivery.period, set()).add(delivery.department)
    newer = sorted(p for p in delivered if not complete or p > complete[-1])
    if newer:
        waiting = ", ".join(d for d in DEPARTMENTS if d not in delivered[newer[-1]])
        lines.append(_line("incomplete", f"{newer[-1]:%Y-%m} waits for {waiting}"))
    lines += [_line("being delivered", f"{d.department}/{d.extract_date}: no {MANIFEST} yet")
              for d in scan_landing(paths.landing) if not d.is_complete]
    lines += [_line("not read", folder) for folder in unread_folders(paths.landing)]
    return lines


def _ingestion(paths: Paths) -> list[str]:
    log = store.read_log(paths).to_pylist()
    if not log:
        return [_line("ingestion", "nothing ingested yet")]
    counts = {status: sum(r["status"] == status for r in log)
              for status in ("loaded", "rejected", "pending")}
    lines = [_line("ingestion", f"{len(log)} deliveries: {counts['loaded']} loaded, "
                                f"{counts['rejected']} rejected, {counts['pending']} pending")]
    for row in log:
        if row["status"] == "rejected":
            lines.append(_line("rejected", f"{row['department']}/{row['extract_date']}: "
                                           f"{row['message']}"))
    return lines


def _history(paths: Paths) -> str:
    if not paths.warehouse.exists():
        return _line("build database", f"{paths.warehouse}: not built yet")
    history = tier_history(paths)
    if history.busy:
        return _line("build database", "busy: a run is writing it")
    if history.last is None:
        return _line("build database", "no tier history yet")
    return _line("build database", f"tier history {history.first:%Y-%m} … {history.last:%Y-%m} "
                                   f"({history.periods} periods)")


def _published(paths: Paths) -> list[str]:
    state = last_refresh(paths)
    lines = [_line("published", "nothing yet" if state is None or not paths.serving.exists()
                   else f"as of {state['as_of_date']}, finished {state.get('finished_at', '?')} "
                        f"(run {state.get('run_id', '?')}): {paths.serving}")]
    complete = complete_periods(paths.landing)
    if not complete:
        lines.append(_line("next refresh", "nothing to refresh: no complete month"))
    elif (reason := refresh_reason(paths, complete[-1])) is None:
        lines.append(_line("next refresh", f"nothing to do ({complete[-1]} is published from "
                                           "the same deliveries and code)"))
    else:
        lines.append(_line("next refresh", f"would refresh as of {complete[-1]}: {reason}"))
    return lines


def _identity_review(paths: Paths) -> list[str]:
    """The data stewards' worklist as published (docs/identity.md, "Data stewards' review
    queue"), from the serving copy, which is never locked, and their decisions: how many the
    seed holds, and whether the published version honours them (the warning test
    identity_decisions_honoured, in its quality results)."""
    if not paths.serving.exists():
        return []
    try:
        with duckdb.connect(str(paths.serving), read_only=True) as con:
            rows = con.execute("select review_reason, count(*) from marts.identity_review_queue "
                               "group by review_reason order by min(review_priority)").fetchall()
            try:
                honoured = con.execute("""
                    select success, observed from main.quality_results
                    where version = (select max(version) from main.quality_results)
                      and expectation like 'identity_decisions_honoured%'""").fetchone()
            except duckdb.Error:
                honoured = None  # no quality results in this file
    except duckdb.Error:
        return []  # a serving copy published before the queue existed
    total = sum(count for _, count in rows)
    if not total:
        lines = [_line("identity review", "nothing to settle (identity_review_queue is empty)")]
    else:
        detail = ", ".join(f"{count} {reason}" for reason, count in rows)
        lines = [_line("identity review", f"{total} pairs of records to settle ({detail}) in "
                                          "identity_review_queue; settle one with `tiering "
                                          "decide A B same|different`")]
    try:
        decided = len(read_decisions())
    except DecisionRefused as exc:  # a seed whose header was edited away: say so
        return [*lines, _line("decisions", str(exc))]
    said = f"{decided} in {SEED.relative_to(PROJECT_DIR)}"
    if honoured is not None and not honoured[0]:
        said += (f"; {honoured[1]} not honoured by the published version (a mistyped key, or "
                 "a `different` linked through a third record: identity_decisions_honoured in "
                 "the report)")
    elif honoured is not None and decided:
        said += "; the published version honours them all"
    return [*lines, _line("decisions", said)]


def _alerts(paths: Paths, last: int = 3) -> list[str]:
    database = ops_database(paths)
    if not database.exists():
        return []
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            rows = con.execute("select alerted_at, job_name, as_of_date, message "
                               "from pipeline_alerts order by alerted_at desc limit ?",
                               [last]).fetchall()
    except duckdb.Error:
        return []
    return [_line("alert", f"{at:%Y-%m-%d %H:%M} UTC {job} as of {as_of}: "
                           f"{' '.join(str(message).split())[:300]}")
            for at, job, as_of, message in rows]


def describe(paths: Paths) -> str:
    holder = current_holder(paths)
    lines = [f"Tiering home {paths.home}",
             _line("running now", holder or "nothing"),
             *_landing(paths), *_ingestion(paths), _history(paths), *_published(paths),
             *_identity_review(paths), *_alerts(paths)]
    return "\n".join(lines)


def main() -> int:
    paths = get_paths()
    if not Path(paths.home).exists():
        print(f"tiering: {paths.home} does not exist (set TIERING_HOME)")
        return 1
    print(describe(paths))
    return 0
