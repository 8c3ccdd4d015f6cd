"""The refresh report (tiering.report) from a published serving copy."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import duckdb
import openpyxl
import pytest

from pub_fixtures import build_home, write_dynamics_marts
from tiering.publish import publish
from tiering.report import SECTIONS, generate, main
from tiering.xlsx import column_letters, write_workbook

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
    # cells as a reader expects them: dates without a time, counts without ".0"
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert "2026-10-31" in cells
    assert not [c for c in cells if c.endswith(" 00:00:00") or re.fullmatch(r"\d+\.0", c)]
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


def test_report_reads_the_dynamics_marts_when_published(tmp_path):
    previous = date(2026, 9, 30)
    paths = build_home(tmp_path / "home", AS_OF, periods=[previous, AS_OF])
    write_dynamics_marts(paths, AS_OF, previous)
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    migrations = page.split("<h2>等级迁移热力图</h2>")[1].split("<h2>")[0]
    assert "相邻两期" in migrations and "未分级" in migrations  # tier_migrations, NR column
    assert "上期已分级的客户 195 户，其中等级变动 45 户" in migrations  # 5 × (30 + 4 × 2 + 1)
    queue = page.split("<h2>复核队列概况</h2>")[1].split("<h2>")[0]
    assert "待复核记录共 12 条，涉及客户 12 户" in queue
    assert "违约事件" in queue and "定期复核" in queue and "最紧急的 20 条" in queue
    performance = page.split("<h2>分级有效性（违约表现）</h2>")[1].split("<h2>")[0]
    assert "2026-09-30（12个月观察窗口已结束）：违约率从 D 到 S 逐级下降" in performance
    assert "10.00%" in performance and "4.00%" in performance and "<svg" in performance
    assert "已结束观察窗口的 1 期合计：逐级下降" in performance
    assert "各期监测指标" in performance  # marts.tier_performance's rows
    book = openpyxl.load_workbook(paths.reports / AS_OF.isoformat() / "report.xlsx")
    assert book["tier_migrations"].max_row == 1 + 5 * 6
    assert book["tier_review_queue"].max_row == 13


def test_report_says_when_default_rates_do_not_fall_by_tier(tmp_path):
    previous = date(2026, 9, 30)
    paths = build_home(tmp_path / "home", AS_OF, periods=[previous, AS_OF])
    write_dynamics_marts(paths, AS_OF, previous)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("delete from marts.tier_performance_by_tier where is_outcome_window_complete")
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    performance = page.split("<h2>分级有效性（违约表现）</h2>")[1].split("<h2>")[0]
    # no closed window left: the period watched longest, said to be open
    assert "观察窗口未结束，已观察 0 个月" in performance
    with duckdb.connect(str(paths.warehouse)) as con:  # B defaults more than C: not monotone
        con.execute("update marts.tier_performance_by_tier set default_count = case tier_code "
                    "when 'B' then 20 when 'C' then 8 else 0 end, "
                    "outcome_months_observed = 12, is_outcome_window_complete = true")
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    performance = page.split("<h2>分级有效性（违约表现）</h2>")[1].split("<h2>")[0]
    assert "违约率从 D 到 S <b>未能逐级下降</b>" in performance
    # the inversion with its counts, and whether it is beyond chance (one-sided Fisher: p 0.015)
    assert "B 重要 10.00%（20/200）高于 C 一般 4.00%（8/200），单侧 Fisher 精确检验 p = 0.015" \
        in performance and "差异显著" in performance
    # pooled over the closed periods: counts shown, no test (a client counts in every period)
    assert "1 期合计：<b>未能逐级下降</b>：B 重要 10.00%（20/200）高于 C 一般 4.00%（8/200）；" \
        in performance and "D 观察 0.00%（0/100）（同一客户在各期重复计入" in performance
    with duckdb.connect(str(paths.warehouse)) as con:  # S's one default of 50 above A's none of 100
        con.execute("update marts.tier_performance_by_tier set default_count = case tier_code "
                    "when 'S' then 1 when 'B' then 4 when 'C' then 8 when 'D' then 10 else 0 end")
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    performance = page.split("<h2>分级有效性（违约表现）</h2>")[1].split("<h2>")[0]
    assert "S 战略 2.00%（1/50）高于 A 核心 0.00%（0/100），单侧 Fisher 精确检验 p = 0.333" \
        in performance
    assert "差异不显著（p ≥ 0.05），违约样本太少" in performance and "差异显著" not in performance


def test_report_lists_the_clients_a_guardrail_capped(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF, periods=[date(2026, 9, 30), AS_OF])
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("""alter table marts.client_tiers add column band_tier_code varchar;
            alter table marts.client_tiers add column guardrail_code varchar;
            alter table marts.client_tiers add column is_guardrail_binding boolean;
            alter table marts.client_tiers add column reason_label_1 varchar;
            update marts.client_tiers set band_tier_code = tier_code, guardrail_code = 'none',
                is_guardrail_binding = false, reason_label_1 = '价值贡献突出'""")
        top, low = con.execute("""select client_key from marts.client_tiers
            where profile_code = 'default' and period_date = ? order by composite_score desc""",
                               [AS_OF]).fetchall()[0:2]
        # the best-scored client seriously past due: its band's tier, capped at C
        con.execute("""update marts.client_tiers set guardrail_code = 'delinquency',
                tier_code = 'C', is_guardrail_binding = true,
                reason_label_1 = '近6个月曾严重逾期（60天以上），最高为一般级'
            where client_key = ? and period_date = ?""", [top[0], AS_OF])
        # a guardrail that applies without binding, and one in the period before (not counted)
        con.execute("""update marts.client_tiers set guardrail_code = 'credit_floor',
                reason_label_1 = '资信低于底线，最高为一般级'
            where client_key = ? and period_date = ? and profile_code = 'default'""",
                    [low[0], AS_OF])
        con.execute("""update marts.client_tiers set guardrail_code = 'live_default',
                tier_code = 'D', is_guardrail_binding = true
            where client_key = ? and period_date = date '2026-09-30'""", [low[0]])
        band = con.execute("""select band_tier_code from marts.client_tiers
            where client_key = ? and period_date = ? and profile_code = 'default'""",
                           [top[0], AS_OF]).fetchone()[0]
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    section = page.split("<h2>护栏（风险上限）</h2>")[1].split("<h2>")[0]
    assert "本期共有 2 户客户触发护栏，其中 1 户的等级因护栏低于" in section
    assert "<td>严重逾期</td><td>近6个月曾严重逾期（60天以上），最高为一般级</td><td>1</td><td>1</td>" \
        in section
    assert "<td>资信底线</td><td>资信低于底线，最高为一般级</td><td>1</td><td>0</td>" in section
    assert "违约" not in section.replace("违约概率", "")  # the period before is not this period's
    listed = section.split("<h3>")[1]
    assert top[0] in listed and low[0] not in listed
    assert f"<td>{band}</td><td>C</td><td>严重逾期</td>" in listed


def test_report_lists_rising_stars_by_growth(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("""alter table marts.long_tail_clients add column growth_percentile double;
            alter table marts.long_tail_clients add column tail_growth_rank bigint;
            update marts.long_tail_clients set is_rising_star = false""")
        first, second = con.execute("""select client_key from marts.long_tail_clients
            where pareto_segment = 'tail' order by client_key limit 2""").fetchall()
        # the faster grower has the lower potential: the list follows growth
        con.execute("""update marts.long_tail_clients set is_rising_star = true,
                growth_percentile = 99.87, tail_growth_rank = 1, potential_score = 40
            where client_key = ?""", [second[0]])
        con.execute("""update marts.long_tail_clients set is_rising_star = true,
                growth_percentile = 91.26, tail_growth_rank = 2, potential_score = 95
            where client_key = ?""", [first[0]])
    publish(paths, AS_OF, RESULTS)
    page = generate(paths, AS_OF).read_text(encoding="utf-8")
    listed = page.split("<h3>长尾新星（增长最快的前 15 户）</h3>")[1].split("</table>")[0]
    assert "其中长尾新星 2 户" in page
    assert listed.index(second[0]) < listed.index(first[0])
    assert "<td>99.9</td>" in listed and "<td>91.3</td>" in listed


def test_xlsx_writer_keeps_types_and_text(tmp_path):
    target = tmp_path / "book.xlsx"
    rows = [["甲 & <乙>", 12, 3.5, Decimal("1234.50"), True, None, date(2026, 10, 31),
             datetime(2026, 10, 31, 8, 30, tzinfo=timezone.utc), "bad\x01char", float("nan")]]
    header = [f"c{i}" for i in range(len(rows[0]))]
    write_workbook(target, [("表/一:[x]", header, rows), ("empty", ["only"], [])])
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["表_一__x_", "empty"]
    sheet = book["表_一__x_"]
    assert [c.value for c in sheet[1]] == header
    assert [c.value for c in sheet[2]] == [
        "甲 & <乙>", 12, 3.5, 1234.5, True, None, datetime(2026, 10, 31),
        datetime(2026, 10, 31, 8, 30), "badchar", None]
    assert sheet["G2"].number_format == "yyyy-mm-dd"
    assert book["empty"].max_row == 1
    assert [column_letters(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_xlsx_record_batches_write_what_rows_write(tmp_path):
    """A sheet from record batches (the report's path) holds the values the value-by-value path
    writes, for every type the marts use: the same query written both ways and read back."""
    con = duckdb.connect()
    con.execute("set timezone = 'Asia/Shanghai'")
    con.execute("create type tier as enum ('S', 'A')")
    query = """
        select * from (values
            ('甲 & <乙>' , 12, 3.5::double, 1234.50::decimal(20, 2), true, date '2026-10-31',
             timestamp '2026-10-31 08:30:00.25', timestamptz '2026-10-31 08:30:00+00',
             'bad' || chr(1) || 'char', 'nan'::double, 'S'::tier, [1, 2], 0.1::float,
             repeat('长', 40000), 1e-7::double, ''),
            (null, null, null, null, null, null, null, null, null, 'inf'::double, null, null,
             null, null, null, null),
            ('x', -3, -0.0::double, -0.01::decimal(20, 2), false, date '1900-03-01',
             timestamp '1970-01-01 00:00:00', timestamptz '1999-12-31 23:59:59+08', '<>',
             2.0::double, 'A'::tier, [], 2.5::float, 'y', 1e20::double, 'z')
        ) t(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15)"""
    header = [d[0] for d in con.execute(query).description]
    rows = con.execute(query).fetchall()
    write_workbook(tmp_path / "rows.xlsx", [("t", header, rows)])
    batches = con.sql(query).to_arrow_reader(2)  # two batches: numbering continues
    write_workbook(tmp_path / "arrow.xlsx", [("t", header, batches), ("notes", ["n"], [["x"]])])
    by_rows = [[c.value for c in r] for r in openpyxl.load_workbook(tmp_path / "rows.xlsx")["t"]]
    book = openpyxl.load_workbook(tmp_path / "arrow.xlsx")
    by_arrow = [[c.value for c in r] for r in book["t"]]
    assert by_arrow == by_rows
    assert by_arrow[1][:9] == ["甲 & <乙>", 12, 3.5, 1234.5, True, datetime(2026, 10, 31),
                               datetime(2026, 10, 31, 8, 30, 0, 250000),
                               datetime(2026, 10, 31, 16, 30), "badchar"]
    assert by_arrow[2] == [None] * 16 and by_arrow[3][1] == -3
    assert len(by_arrow[1][13]) == 32_767 and by_arrow[1][11] == "[1, 2]"
    assert [c.number_format for c in book["t"][2]][5:7] == ["yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"]
    assert [[c.value for c in r] for r in book["notes"]] == [["n"], ["x"]]
