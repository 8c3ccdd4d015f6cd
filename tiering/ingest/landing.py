"""The landing zone as deliveries: `<landing>/<department>/<extract_date>/_manifest.json`."""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from tiering.contract import DEPARTMENTS
from tiering.ingest.decode import codec_of

MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class ManifestFile:
    name: str
    rows: int
    encoding: str | None


@dataclass(frozen=True, order=True)
class LandedDelivery:
    """A `<department>/<extract_date>/` folder; complete when its manifest exists."""

    department: str
    extract_date: date
    folder: Path = field(compare=False)

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    @property
    def is_complete(self) -> bool:
        return self.manifest_path.is_file()

    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_path.read_bytes()).hexdigest()


class ManifestError(ValueError):
    """The manifest cannot be read or does not describe this delivery."""


def scan_landing(landing: Path, as_of: date | None = None) -> list[LandedDelivery]:
    """Every delivery folder of a known department, oldest first; those cut after `as_of` are
    left out (nothing looks ahead). Folders whose name is not a date are not deliveries."""
    found: list[LandedDelivery] = []
    for department in DEPARTMENTS:
        base = landing / department
        if not base.is_dir():
            continue
        for folder in base.iterdir():
            if not folder.is_dir():
                continue
            try:
                extract_date = date.fromisoformat(folder.name)
            except ValueError:
                continue
            if as_of is None or extract_date <= as_of:
                found.append(LandedDelivery(department, extract_date, folder))
    return sorted(found, key=lambda d: (d.extract_date, d.department))


def unread_folders(landing: Path) -> list[str]:
    """Folders holding a `_manifest.json` that are not read as deliveries, each with why: a
    delivery folder not named by a date (`crm/2025-7-31`, `crm/2025-10-31_v2`) or a department
    folder the contract does not know (`CRM`, `sales`). Never guessed at: named, so that the
    landing zone can be fixed (they would otherwise leave a month incomplete without a word)."""
    if not landing.is_dir():
        return []
    found: list[str] = []
    for folder in sorted(landing.iterdir()):
        if not folder.is_dir():
            continue
        manifests = sorted(folder.glob(f"*/{MANIFEST}"))
        if folder.name not in DEPARTMENTS:
            if manifests:
                found.append(f"{folder.name}/: not a department of the contract "
                             f"({', '.join(DEPARTMENTS)}); {len(manifests)} delivery folder(s) "
                             "in it not read")
            continue
        for manifest in manifests:
            try:
                date.fromisoformat(manifest.parent.name)
            except ValueError:
                found.append(f"{folder.name}/{manifest.parent.name}: has a {MANIFEST} but its "
                             "name is not the extract date (YYYY-MM-DD); not read")
    return found


def read_manifest(delivery: LandedDelivery) -> dict[str, ManifestFile]:
    """The manifest's files, checked against the folder it sits in."""
    try:
        # utf-8-sig: a manifest saved with a byte order mark is still the same JSON
        manifest = json.loads(delivery.manifest_path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{MANIFEST} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f'{MANIFEST} has no "files" object')
    said = manifest.get("department", delivery.department)
    if not isinstance(said, str) or said.strip().casefold() != delivery.department:  # "CRM" is crm
        raise ManifestError(f'{MANIFEST} says department {manifest["department"]!r}, '
                            f"folder says {delivery.department!r}")
    if "extract_date" in manifest and \
            _manifest_date(manifest["extract_date"]) != delivery.extract_date:
        raise ManifestError(f'{MANIFEST} says extract_date {manifest["extract_date"]!r}, '
                            f"folder says {delivery.extract_date}")
    files: dict[str, ManifestFile] = {}
    for listed, spec in manifest["files"].items():
        name = _file_name(listed)
        rows = _manifest_rows(spec.get("rows") if isinstance(spec, dict) else None)
        if rows is None:
            raise ManifestError(f'{MANIFEST}: file {listed} has no valid "rows" count')
        if name in files:
            raise ManifestError(f"{MANIFEST} lists {name} twice")
        files[name] = ManifestFile(name, rows, spec.get("encoding"))
    return files


def _file_name(listed: str) -> str:
    """A manifest's file name relative to its folder, as some exporters write it: `./clients.csv`
    or `.\\clients.csv` is clients.csv (before 2026-12-07 such a name matched no entity and the
    delivery loaded without the file)."""
    name = str(listed).strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:].lstrip("/")
    return name


def _manifest_rows(value: object) -> int | None:
    """A row count as the contract writes it (12345), or as other exporters do: a whole float
    (12345.0) or a string of digits ("12345"). None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value >= 0 else None


def _manifest_date(value: object) -> date | None:
    """The manifest's extract date: YYYY-MM-DD as the contract writes it, or YYYY/MM/DD,
    YYYYMMDD, each maybe followed by a time (2026-10-31T00:00:00). None when it is none of them
    (the folder's date then disagrees)."""
    text = str(value).strip()
    for separator in ("T", " "):
        text = text.split(separator, 1)[0]
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def known_encoding(encoding: object) -> bool:
    """A text encoding Python can decode (the manifest's label, as codec_of reads it)."""
    if not isinstance(encoding, str):
        return False
    try:
        codecs.lookup(codec_of(encoding))
    except LookupError:
        return False
    return True
