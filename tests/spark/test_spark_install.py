"""Installing the `spark` extra on top of the main environment keeps every pin of
requirements.lock and adds only the pins of requirements-spark.lock (make test-spark)."""

from __future__ import annotations

from importlib import metadata

from tiering.config import PROJECT_DIR


def pins(lock: str) -> dict[str, str]:
    lines = (PROJECT_DIR / lock).read_text().splitlines()
    return {name.lower(): version for name, version in
            (line.split("#")[0].strip().split("==") for line in lines
             if "==" in line.split("#")[0])}


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_main_pins_unchanged_by_the_spark_extra():
    moved = {name: (version, installed(name)) for name, version in pins("requirements.lock").items()
             if installed(name) not in (None, version)}  # the lock also pins optional packages
    assert not moved, f"pinned in requirements.lock, installed otherwise: {moved}"


def test_spark_pins_installed():
    spark = pins("requirements-spark.lock")
    assert {"dbt-spark", "pyspark"} <= set(spark)
    assert {name: installed(name) for name in spark} == spark
    assert not set(spark) & set(pins("requirements.lock"))
