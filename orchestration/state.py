"""Small operational state under $TIERING_HOME: the last successful refresh and the alert table.

- `$TIERING_HOME/state/last_refresh.json`: as-of date, landing-zone fingerprint and code digest
  of the last refresh that published and reported; a refresh with the same as-of date, the same
  complete deliveries and the same code has nothing to do.
- `$TIERING_HOME/ops.duckdb`, table `pipeline_alerts`: one row per failed run (written by the
  run-failure sensor in `tiering serve`, and by `tiering refresh` / `tiering backfill`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from orchestration.deliveries import fingerprint
from tiering.config import PROJECT_DIR, Paths

log = logging.getLogger("tiering.alerts")


#: What a refresh runs: the dbt project, the Python packages, the GX suites and the profiles.
CODE_PATHS = ("models", "macros", "seeds", "snapshots", "tests/dbt", "tiering", "orchestration",
              "expectations", "dbt_project.yml", "profiles.yml")


def code_digest() -> str:
    """A digest of every file a refresh runs (names and contents): a release, or a changed
    seed, model or threshold, changes it."""
    digest = hashlib.sha256()
    for rel in CODE_PATHS:
        root = PROJECT_DIR / rel
        files = [root] if root.is_file() else sorted(
            f for f in root.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
        for f in files:
            digest.update(str(f.relative_to(PROJECT_DIR)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def _state_file(paths: Paths) -> Path:
    return paths.state / "last_refresh.json"


def ops_database(paths: Paths) -> Path:
    return paths.home / "ops.duckdb"


def record_refresh(paths: Paths, as_of: date, run_id: str) -> None:
    state = {
        "as_of_date": as_of.isoformat(),
        "fingerprint": fingerprint(paths.landing, as_of),
        "code": code_digest(),
        "run_id": run_id,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_state(_state_file(paths), state)


def write_state(target: Path, state: dict) -> None:
    """A state file as JSON, replaced atomically (a reader never sees half of it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".tmp")
    temp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(temp, target)


def last_refresh(paths: Paths) -> dict | None:
    try:
        return json.loads(_state_file(paths).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def nothing_to_do(paths: Paths, as_of: date) -> bool:
    """Same as-of already published and reported, no delivery up to it changed since, the same
    code, and the build database's tier history still reaching it: after a release (or a
    changed seed) the next refresh publishes what the new code makes of the same deliveries, and
    after a backfill or restate that deleted months and then failed, it builds them again. A
    state written before the code digest counts as changed."""
    return refresh_reason(paths, as_of) is None


def refresh_reason(paths: Paths, as_of: date) -> str | None:
    """Why a refresh as of `as_of` has something to do (None: nothing), in words."""
    state = last_refresh(paths)
    if state is None or not paths.serving.exists():
        return "nothing is published yet"
    if state["as_of_date"] != as_of.isoformat():
        return f"the published period is {state['as_of_date']}"
    if state["fingerprint"] != fingerprint(paths.landing, as_of):
        return "a delivery up to it arrived, was re-delivered or vanished since it was published"
    if state.get("code") != code_digest():
        return "the code, a seed or an expectation suite changed since it was published"
    if not history_reaches(paths, as_of):
        return "the build database's tier history no longer reaches it"
    return None


@dataclass(frozen=True)
class TierHistory:
    """What `marts.client_tiers` of the build database holds: its first and last period and how
    many (None and 0 when not built or empty); `busy` when another process writes the database
    and it cannot be read now."""
    first: date | None = None
    last: date | None = None
    periods: int = 0
    busy: bool = False


def tier_history(paths: Paths) -> TierHistory:
    """The build database's tier history, read-only (the one place that reads it for the
    command line, `tiering status` and "nothing to do")."""
    if not paths.warehouse.exists():
        return TierHistory()
    try:
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            first, last, periods = con.execute(
                "select min(period_date), max(period_date), count(distinct period_date) "
                "from marts.client_tiers").fetchall()[0]
    except duckdb.CatalogException:
        return TierHistory()
    except duckdb.Error:  # "Could not set lock": a run is writing it
        return TierHistory(busy=True)
    return TierHistory(first, last, periods)


def history_reaches(paths: Paths, as_of: date) -> bool:
    """Whether the tier history holds a period on or after `as_of`. True when it cannot tell
    because another process writes the database (that run is the one building it)."""
    history = tier_history(paths)
    return history.busy or (history.last is not None and history.last >= as_of)


def record_alert(paths: Paths, *, run_id: str, job_name: str, as_of: str | None,
                 message: str) -> None:
    """Append to ops.duckdb pipeline_alerts, log it, and POST it to $TIERING_ALERT_WEBHOOK if set."""
    alerted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    paths.home.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(ops_database(paths))) as con:
        con.execute(
            "create table if not exists pipeline_alerts (alerted_at timestamp, run_id varchar, "
            "job_name varchar, as_of_date varchar, message varchar)"
        )
        con.execute("insert into pipeline_alerts values (?, ?, ?, ?, ?)",
                    [alerted_at, run_id, job_name, as_of, message])
    log.error("ALERT run %s of %s (as of %s) failed: %s", run_id, job_name, as_of, message)
    webhook = os.environ.get("TIERING_ALERT_WEBHOOK")
    if webhook:
        body = json.dumps({"text": f"tiering {job_name} as of {as_of} failed: {message}",
                           "run_id": run_id}).encode()
        request = urllib.request.Request(webhook, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError as error:  # an unreachable webhook must not hide the alert itself
            log.error("alert webhook %s failed: %s", webhook, error)


def step_failure_text(event, limit: int = 1500) -> str:
    """`<step>: <message>` of a STEP_FAILURE event, with the root cause rather than Dagster's
    'Execution of step ... failed' wrapper."""
    error = event.step_failure_data.error if event.step_failure_data else None
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    text = messages[-1] if messages else "unknown error"
    marker = "Errors parsed from dbt logs:"
    if marker in text:  # dbt: the errors, not the (very long) command line
        text = "dbt build failed: " + " ".join(text.split(marker, 1)[1].split())
    return f"{event.step_key}: {text[:limit]}"
