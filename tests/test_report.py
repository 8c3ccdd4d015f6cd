"""The refresh report (tiering.report) from a published serving copy."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import duckdb
import openpyxl
import pytest

from pub_fixtures import build_home
from tiering.publish import publish
from tiering.report import SECTIONS, generate, main

AS_OF = date(2026, 10, 31)
RESULTS = [SimpleNamespace(suite="marts.client_tiers", expectation="expect_x(a)", success=True,
                           blocking=True, observed=None, message=""),
           SimpleNamespace(suite="marts.long_tail_clients", expectation="input_exists",
                           success=True, blocking=False, observed=None,
                           message="skipped: table marts.long_tail_clients does not exist yet")]


def test_report_has_every_section_and_inline_svg(tmp_path, monkeypatch):
    paths = build_home(tmp_path / "home", AS_OF, periods=[date(2026, 8, 31), date(2026, 9, 30), AS_OF])
    publish(paths, AS_OF, RESULTS)
    path = generate(paths, AS_OF)
    assert path == paths.reports / "2026-10-31" / "report.html"
    page = path.read_text(encoding="utf-8")
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert page.count("<svg") >= 4 and "<img" not in page  # charts are inline SVG text
    assert "S 战略" in page and "长尾客户" in page
    assert "尚未发布" in page  # tier_review_queue is not there yet: the section says so
    assert "skipped: table marts.long_tail_clients" in page
    assert not re.search(r"1[3-9][0-9]{9}", page)
    book = openpyxl.load_workbook(path.with_suffix(".xlsx"), read_only=True)
    assert {"client_tiers_current", "dim_clients", "long_tail_clients", "说明"} <= set(book.sheetnames)
    assert book["dim_clients"].max_row == 201
    # the CLI entry point regenerates the latest published period
    monkeypatch.setenv("TIERING_HOME", str(paths.home))
    assert main(None) == 0


def test_report_without_serving_copy_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERING_HOME", str(tmp_path / "empty"))
    assert main(None) == 1
    assert "nothing has been published" in capsys.readouterr().err


def test_report_with_only_some_marts(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("drop table marts.long_tail_clients; drop table marts.client_tiers")
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    assert page.count('class="missing"') >= 4
