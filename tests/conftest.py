"""Shared test set-up.

`make test` runs the suite on pytest-xdist workers (one test file per worker, `--dist loadfile`,
so a module's fixtures are built once). A worker's `__main__` is execnet's, with neither a spec
nor a file; when pyspark is installed (after `make test-spark`), Great Expectations' import of
`pyspark.sql.connect` takes that for a doctest run and calls `sys.exit(0)` (pyspark's
`check_dependencies`), which would fail every test that imports GX. Importing GX once here, with
the worker's `__main__` briefly given a file name, caches its pyspark probe for the session.
"""

from __future__ import annotations

import importlib.util
import sys


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
