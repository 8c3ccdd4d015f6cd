"""What the landing zone holds: complete deliveries and complete periods.

Pure helpers over the folder layout of the delivery contract
(`<landing>/<department>/<extract_date>/_manifest.json`); the sensor, the schedules and
`tiering refresh` all decide "what is there to do" with these, so they agree.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tiering.contract import DEPARTMENTS

MANIFEST = "_manifest.json"


@dataclass(frozen=True, order=True)
class Delivery:
    extract_date: date
    department: str
    manifest: Path

    @property
    def period(self) -> date:
        return month_end(self.extract_date)


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def month_end_of(year_month: str) -> date:
    """'2025-03' -> 2025-03-31."""
    year, month = (int(part) for part in year_month.split("-"))
    return month_end(date(year, month, 1))


def month_ends(start: str, end: str) -> list[date]:
    """Every month end from 'YYYY-MM' to 'YYYY-MM', inclusive, in order."""
    first, last = month_end_of(start), month_end_of(end)
    if first > last:
        raise ValueError(f"--from {start} is after --to {end}")
    ends: list[date] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        ends.append(month_end(date(year, month, 1)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def complete_deliveries(landing: Path, as_of: date | None = None) -> list[Delivery]:
    """Deliveries whose manifest exists (a folder without one is still being written)."""
    found: list[Delivery] = []
    for department in DEPARTMENTS:
        for manifest in (landing / department).glob(f"*/{MANIFEST}"):
            try:
                extract_date = date.fromisoformat(manifest.parent.name)
            except ValueError:
                continue  # not a delivery folder
            if as_of is None or extract_date <= as_of:
                found.append(Delivery(extract_date, department, manifest))
    return sorted(found)


def complete_periods(landing: Path, as_of: date | None = None) -> list[date]:
    """Month ends for which every department has a complete delivery, oldest first."""
    by_period: dict[date, set[str]] = {}
    for delivery in complete_deliveries(landing, as_of):
        by_period.setdefault(delivery.period, set()).add(delivery.department)
    return sorted(p for p, departments in by_period.items() if departments >= set(DEPARTMENTS))


def latest_complete_period(landing: Path) -> date | None:
    periods = complete_periods(landing)
    return periods[-1] if periods else None


def fingerprint(landing: Path, as_of: date) -> str:
    """Changes whenever a complete delivery up to `as_of` appears, vanishes or is re-delivered."""
    digest = hashlib.sha256()
    for delivery in complete_deliveries(landing, as_of):
        stat = delivery.manifest.stat()
        digest.update(f"{delivery.manifest.relative_to(landing)}|{stat.st_mtime_ns}|"
                      f"{stat.st_size}\n".encode())
    return digest.hexdigest()
