"""Lossless raw ingestion (`tiering ingest`): landing zone deliveries to the raw layer.

`ingest(paths, as_of=None)` loads every complete delivery not yet loaded and returns an
`IngestSummary`; see docs/ingestion.md.
"""

from tiering.ingest.run import DeliveryResult, IngestSummary, ingest

__all__ = ["DeliveryResult", "IngestSummary", "ingest"]
