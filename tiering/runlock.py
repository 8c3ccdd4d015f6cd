"""One run at a time per home: `$TIERING_HOME/state/run.lock`.

DuckDB lets one process write `warehouse.duckdb`, so two runs on one home cannot both succeed:
before this lock the second one failed somewhere in the middle on DuckDB's "Could not set lock",
or took the build database between two steps of the first and made *that* one fail, and both
wrote the same log file. Now:

- `tiering refresh` and `tiering backfill` (with or without `--restate`) hold the lock
  exclusively for their whole duration (`held_by_command`); a second command, or a Dagster run,
  on the same home is refused within about a second, naming the holder, and nothing is done;
- each step of a run that Dagster launches itself (`tiering serve`: the schedules and the sensor,
  each step a process of its own) holds it shared while it runs (`step_guard`, called by the
  `tiering` resource): Dagster runs do not exclude each other here (the `warehouse_writer` pool
  does that), but a command started meanwhile is refused instead of colliding with them.

Steps of a command's own in-process run are inside its exclusive hold and take nothing. The lock
is an advisory `flock`: the kernel releases it when the process ends, however it ends, so a
killed run never leaves a stale lock behind. `docs/operations.md` ("One run at a time").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from tiering.config import Paths

EXIT_BUSY = 75  # EX_TEMPFAIL: try again later
ATTEMPTS = 5  # a hold is refused after about a second of finding the lock taken

_held_here: list[Path] = []  # the lock files this process holds exclusively


class HomeBusy(RuntimeError):
    """Another run holds the home."""


def lock_file(paths: Paths) -> Path:
    return paths.home / "state" / "run.lock"


DAGSTER_HOLDER = "a run launched by Dagster (`tiering serve` or dagster-daemon), in one of its steps"


def _holder(handle) -> str:
    """Who holds the lock: a command writes itself into the file while it holds it exclusively;
    steps hold it shared and write nothing (a killed command leaves its text behind, so the text
    counts only while the lock cannot be had shared)."""
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        return handle.read().strip() or "a `tiering` command"
    fcntl.flock(handle, fcntl.LOCK_UN)
    return DAGSTER_HOLDER


def current_holder(paths: Paths) -> str | None:
    """Who holds the home now (None when nobody does), for `tiering status`. It probes the lock
    for microseconds; a command or step starting in that instant retries (ATTEMPTS) instead of
    taking the probe for a run."""
    path = lock_file(paths)
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def _locked(paths: Paths, mode: int, refusal) -> Iterator[TextIO | None]:
    """The lock file, flock'ed in `mode` without waiting (None inside this process's own
    exclusive hold); HomeBusy with `refusal(holder)` when another process holds it."""
    path = lock_file(paths)
    if path in _held_here:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        for attempt in range(ATTEMPTS):
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == ATTEMPTS - 1:
                    raise HomeBusy(refusal(_holder(handle))) from None
                time.sleep(0.2)  # `tiering status` probes for microseconds: not a run
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def held_by_command(paths: Paths, what: str) -> Iterator[None]:
    """Hold the home exclusively while a command runs (re-entrant within the process: a backfill
    refreshing its last month does not lock itself out). Raises HomeBusy, naming the holder,
    when another process holds it."""
    def refusal(holder: str) -> str:
        return (f"another run is using {paths.home}: {holder}. Nothing was done; run this "
                "again when it has finished.")

    with _locked(paths, fcntl.LOCK_EX, refusal) as handle:
        if handle is None:
            yield
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"`tiering {what}` (PID {os.getpid()}, started "
                     f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z})\n")
        handle.flush()
        _held_here.append(lock_file(paths))
        try:
            yield
        finally:
            _held_here.remove(lock_file(paths))
            handle.seek(0)
            handle.truncate()
            handle.flush()


@contextlib.contextmanager
def step_guard(paths: Paths) -> Iterator[None]:
    """Hold the home shared for one step of a Dagster-launched run; nothing inside a command's
    own hold. Raises HomeBusy when a command holds it."""
    def refusal(holder: str) -> str:
        return f"{holder} is using {paths.home}: this run stops before touching it"

    with _locked(paths, fcntl.LOCK_SH, refusal):
        yield
