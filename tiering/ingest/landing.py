"""The landing zone as deliveries: `<landing>/<department>/<extract_date>/_manifest.json`."""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
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


def read_manifest(delivery: LandedDelivery) -> dict[str, ManifestFile]:
    """The manifest's files, checked against the folder it sits in."""
    try:
        manifest = json.loads(delivery.manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{MANIFEST} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f'{MANIFEST} has no "files" object')
    if manifest.get("department", delivery.department) != delivery.department:
        raise ManifestError(f'{MANIFEST} says department {manifest["department"]!r}, '
                            f"folder says {delivery.department!r}")
    if str(manifest.get("extract_date", delivery.extract_date)) != str(delivery.extract_date):
        raise ManifestError(f'{MANIFEST} says extract_date {manifest["extract_date"]!r}, '
                            f"folder says {delivery.extract_date}")
    files: dict[str, ManifestFile] = {}
    for name, spec in manifest["files"].items():
        rows = spec.get("rows") if isinstance(spec, dict) else None
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ManifestError(f'{MANIFEST}: file {name} has no valid "rows" count')
        files[name] = ManifestFile(name, rows, spec.get("encoding"))
    return files


def known_encoding(encoding: object) -> bool:
    """A text encoding Python can decode (the manifest's label, as codec_of reads it)."""
    if not isinstance(encoding, str):
        return False
    try:
        codecs.lookup(codec_of(encoding))
    except LookupError:
        return False
    return True
