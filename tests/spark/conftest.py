"""The Spark parity suite runs only through `make test-spark` (TIERING_TEST_SPARK=1): it needs the
`spark` extra and Java 17, and takes minutes; `make test` skips it."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TIERING_TEST_SPARK") == "1":
        return
    skip = pytest.mark.skip(reason="Spark parity suite: run `make test-spark`")
    for item in items:
        if "tests/spark/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)
