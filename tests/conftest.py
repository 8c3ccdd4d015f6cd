"""Shared test set-up.

`make test` runs the suite on pytest-xdist workers (one test file per worker, `--dist loadfile`,
so a module's fixtures are built once). A worker's `__main__` is execnet's, with neither a spec
nor a file; when pyspark is installed (after `make test-spark`), Great Expectations' import of
`pyspark.sql.connect` takes that for a doctest run and calls `sys.exit(0)` (pyspark's
`check_dependencies`), which would fail every test that imports GX. Importing GX once here, with
the worker's `__main__` briefly given a file name, caches its pyspark probe for the session.

The files are handed to the workers longest first (`--no-loadscope-reorder` keeps the order
collected here; xdist would otherwise order them by their number of tests): a long file that
starts last keeps one worker busy while the other idles.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

# The files whose fixtures build warehouses, longest first (setup + calls, seconds, from
# `pytest --durations=0` under `make test`, 2026-12-06): test_pipeline 419, incremental staging
# 324, dynamics 207, identity 133, tiering 126, staging 62, generic tests 56, quality 45,
# variants 40; every other file under 25. Handing them out in this order (longest processing
# time first) ended the two workers' schedule at 739 s instead of 779 s, replayed from those
# durations. A file not named keeps its place after them.
LONGEST_FIRST = ("test_pipeline.py", "test_incremental_staging.py", "test_dynamics.py",
                 "test_identity.py", "test_tiering.py", "test_staging.py",
                 "test_generic_tests.py", "test_quality.py", "test_variants.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a file


def _import_great_expectations_under_a_named_main() -> None:
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or hasattr(main, "__file__"):
        return  # a normal interpreter: nothing to work around
    if importlib.util.find_spec("pyspark") is None:
        return
    main.__file__ = "<pytest-xdist worker>"
    try:
        import great_expectations  # noqa: F401
    finally:
        del main.__file__


_import_great_expectations_under_a_named_main()
