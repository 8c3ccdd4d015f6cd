"""Paths and settings, all from environment variables (no branching on environments).

TIERING_HOME         root of everything the pipeline writes (default ./data)
TIERING_LANDING_DIR  where departments deliver (default $TIERING_HOME/landing)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent



@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def landing(self) -> Path:
        env = os.environ.get("TIERING_LANDING_DIR")
        return Path(env) if env else self.home / "landing"

    @property
    def raw(self) -> Path:
        """Engine-neutral raw layer: Parquet per department/entity/delivery."""
        return self.home / "raw"

    @property
    def quarantine(self) -> Path:
        return self.raw / "_quarantine"

    @property
    def ingestion_log(self) -> Path:
        return self.raw / "_ingestion_log"

    @property
    def warehouse(self) -> Path:
        """The build database: the pipeline's alone."""
        return self.home / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        """The published copy BI reads (read-only, atomically replaced)."""
        return self.home / "serving.duckdb"

    @property
    def exports(self) -> Path:
        return self.home / "exports"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def state(self) -> Path:
        return self.home / "state"


def get_paths() -> Paths:
    home = Path(os.environ.get("TIERING_HOME", PROJECT_DIR / "data")).resolve()
    return Paths(home=home)


def duckdb_config() -> dict[str, str]:
    """Settings of the DuckDB connections the Python steps open (publish, the GX gates' reads,
    the risk model, the report): a memory limit of their own, TIERING_DUCKDB_PYTHON_MEMORY
    (default 4GB). Without one DuckDB takes 80% of the machine's RAM: at 1M clients the
    refresh's process tree reached 19 GB, with it 12.8 GB (docs/operations.md, "Process
    settings"). dbt's connection has its own limit, TIERING_DUCKDB_MEMORY (profiles.yml); the
    two never run at once."""
    return {"memory_limit": os.environ.get("TIERING_DUCKDB_PYTHON_MEMORY", "4GB")}


def release_memory() -> None:
    """Give the memory a finished Python step freed back to the OS before dbt starts.

    The refresh runs ingestion, the gates, the risk model, publish and the report in one
    process, between dbt steps that take their own TIERING_DUCKDB_MEMORY. Freed memory stays
    with the allocators (pyarrow's pool, glibc's arenas) unless returned: at 1M clients the
    refresh process held 2.7 GB while dbt ran (docs/benchmarks.md, "Where the memory goes").

    What survives the collection (imported modules: Dagster, dbt, GX, scikit-learn; the run's
    own machinery) is frozen: later collections, this one's and Python's automatic ones, scan
    only what the steps after it allocate. A full collection over the ~550,000 objects those
    imports create took 0.3 s, once per step. `run_job` unfreezes when its run ends, so nothing
    frozen outlives the run."""
    import ctypes
    import gc

    gc.collect()
    gc.freeze()
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass
