"""The refresh report: `$TIERING_HOME/reports/<as-of>/report.html` and `report.xlsx`.

Read from the serving copy (read-only), so the report shows exactly what BI sees. Charts are inline
SVG written here (text is rendered by the reader's browser, so Chinese labels need no fonts on this
machine). A section whose mart is not published yet says so instead of failing.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tiering.config import Paths, duckdb_config, get_paths
from tiering.xlsx import Rows, write_workbook

TIERS = ["S", "A", "B", "C", "D"]
TIER_NAMES = {"S": "S 战略", "A": "A 核心", "B": "B 重要", "C": "C 一般", "D": "D 观察",
              "NR": "未分级"}
TIER_COLORS = {"S": "#1b5e20", "A": "#43a047", "B": "#fbc02d", "C": "#fb8c00", "D": "#c62828"}
DIMENSIONS = {"value_score": "价值贡献", "credit_score": "资信与偿债", "risk_tolerance_score": "风险承受",
              "influence_score": "市场影响力", "potential_score": "合作潜力", "loyalty_score": "忠诚度",
              "composite_score": "综合得分"}
EXCEL_MAX_ROWS = 50_000
EXCEL_TABLES = ("client_tiers_current", "dim_clients", "long_tail_clients", "project_partner_fit",
                "credit_exposure_alerts", "tier_review_queue", "tier_migrations",
                "tier_performance", "tier_overrides")
GUARDRAIL_NAMES = {"registry_revoked": "吊销/注销", "live_default": "违约", "credit_floor": "资信底线",
                   "delinquency": "严重逾期"}
SECTIONS = ("等级分布（按期）", "等级迁移热力图", "帕累托曲线与长尾", "各等级维度画像",
            "分级有效性（违约表现）", "护栏（风险上限）", "复核队列概况", "数据质量概况")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


class Serving:
    def __init__(self, path: Path):
        if not path.exists():
            raise FileNotFoundError(f"no serving database at {path}: nothing has been published")
        self.con = duckdb.connect(str(path), read_only=True, config=duckdb_config())
        self.tables = {f"{s}.{t}" for s, t in self.con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}

    def has(self, table: str) -> bool:
        return table in self.tables

    def columns(self, table: str) -> list[str]:
        schema, name = table.split(".")
        return [c for (c,) in self.con.execute(
            "select column_name from information_schema.columns where table_schema = ? and "
            "table_name = ? order by ordinal_position", [schema, name]).fetchall()]

    def df(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def close(self) -> None:
        self.con.close()


# --------------------------------------------------------------------------------- SVG charts

def svg_stacked_bars(frame: pd.DataFrame, x: str, title: str) -> str:
    """One stacked bar per row of `frame` (columns S..D as shares 0-1)."""
    width, height, left, bottom = 760, 280, 50, 40
    n = max(len(frame), 1)
    bar = (width - left - 20) / n
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
             f'aria-label="{_e(title)}"><text x="{left}" y="16" font-size="14">{_e(title)}</text>']
    plot_h = height - bottom - 30
    for i, (_, row) in enumerate(frame.iterrows()):
        y = 30 + plot_h
        for tier in TIERS:
            share = float(row.get(tier, 0) or 0)
            h = share * plot_h
            y -= h
            parts.append(f'<rect x="{left + i * bar + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" '
                         f'height="{h:.1f}" fill="{TIER_COLORS[tier]}"><title>{_e(row[x])} '
                         f'{TIER_NAMES[tier]}: {share:.1%}</title></rect>')
        if n <= 12 or i % max(n // 12, 1) == 0:
            parts.append(f'<text x="{left + i * bar + bar / 2:.1f}" y="{height - 22}" '
                         f'font-size="10" text-anchor="middle">{_e(str(row[x])[:7])}</text>')
    for k, tier in enumerate(TIERS):
        parts.append(f'<rect x="{left + k * 90}" y="{height - 14}" width="10" height="10" '
                     f'fill="{TIER_COLORS[tier]}"/><text x="{left + k * 90 + 14}" '
                     f'y="{height - 5}" font-size="11">{TIER_NAMES[tier]}</text>')
    parts.append(f'<text x="{left - 6}" y="34" font-size="10" text-anchor="end">100%</text>'
                 f'<text x="{left - 6}" y="{30 + plot_h}" font-size="10" text-anchor="end">0%</text>')
    return "".join(parts) + "</svg>"


def svg_heatmap(matrix: pd.DataFrame, title: str) -> str:
    """Rows: from-tier, columns: to-tier (S..D, and NR 'no tier' when the matrix has it), cells:
    the rate 0-1 of the row with the count."""
    columns = TIERS + [c for c in matrix.columns if c not in TIERS]
    cell, left, top = 64, 80, 50
    size = left + cell * len(columns) + 20
    parts = [f'<svg viewBox="0 0 {size} {top + cell * len(TIERS) + 20}" width="{size}" '
             f'role="img" aria-label="{_e(title)}"><text x="0" y="16" font-size="14">'
             f'{_e(title)}</text><text x="{left}" y="36" font-size="11">本期 →</text>']
    for j, tier in enumerate(columns):
        parts.append(f'<text x="{left + j * cell + cell / 2}" y="{top - 2}" font-size="11" '
                     f'text-anchor="middle">{TIER_NAMES.get(tier, tier)}</text>')
    for i, src in enumerate(TIERS):
        parts.append(f'<text x="{left - 6}" y="{top + i * cell + cell / 2 + 4}" font-size="11" '
                     f'text-anchor="end">{TIER_NAMES[src]}</text>')
        for j, dst in enumerate(columns):
            count = int(matrix.loc[src, dst]) if src in matrix.index and dst in matrix.columns else 0
            total = int(matrix.loc[src].sum()) if src in matrix.index else 0
            rate = count / total if total else 0.0
            shade = int(255 - 200 * rate)
            parts.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 2}" '
                         f'height="{cell - 2}" fill="rgb({shade},{shade},255)"><title>'
                         f'{TIER_NAMES[src]} → {TIER_NAMES.get(dst, dst)}: {count}（{rate:.1%}）'
                         f'</title></rect>'
                         f'<text x="{left + j * cell + cell / 2}" y="{top + i * cell + cell / 2}" '
                         f'font-size="11" text-anchor="middle" fill="{"#fff" if rate > .5 else "#000"}">'
                         f'{rate:.0%}</text><text x="{left + j * cell + cell / 2}" '
                         f'y="{top + i * cell + cell / 2 + 14}" font-size="9" text-anchor="middle" '
                         f'fill="{"#fff" if rate > .5 else "#555"}">{count}</text>')
    return "".join(parts) + "</svg>"


def svg_pareto(curve: pd.DataFrame, tail_start: float | None, title: str) -> str:
    """x: share of clients (ranked by income), y: cumulative income share; tail shaded."""
    width, height, left, bottom, top = 760, 300, 50, 40, 30
    pw, ph = width - left - 20, height - top - bottom
    pts = " ".join(f"{left + x * pw:.1f},{top + (1 - y) * ph:.1f}"
                   for x, y in zip(curve["client_share"], curve["cumulative_income_share"]))
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
             f'aria-label="{_e(title)}"><text x="{left}" y="16" font-size="14">{_e(title)}</text>']
    if tail_start is not None:
        parts.append(f'<rect x="{left + tail_start * pw:.1f}" y="{top}" '
                     f'width="{(1 - tail_start) * pw:.1f}" height="{ph}" fill="#fff3e0"/>'
                     f'<text x="{left + tail_start * pw + 6:.1f}" y="{top + 14}" font-size="11" '
                     f'fill="#e65100">长尾客户（{1 - tail_start:.0%} 的客户）</text>')
    parts.append(f'<polyline points="{left},{top + ph} {pts}" fill="none" stroke="#1565c0" '
                 f'stroke-width="2"/><line x1="{left}" y1="{top + ph}" x2="{left + pw}" '
                 f'y2="{top + ph}" stroke="#999"/><line x1="{left}" y1="{top}" x2="{left}" '
                 f'y2="{top + ph}" stroke="#999"/>')
    for k in range(0, 11, 2):
        parts.append(f'<text x="{left + k / 10 * pw:.1f}" y="{top + ph + 14}" font-size="10" '
                     f'text-anchor="middle">{k * 10}%</text><text x="{left - 4}" '
                     f'y="{top + (1 - k / 10) * ph + 4:.1f}" font-size="10" text-anchor="end">'
                     f'{k * 10}%</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" font-size="11" text-anchor="middle">'
                 f'客户占比（按近12个月收入从高到低）</text>')
    return "".join(parts) + "</svg>"


def svg_profile(profile: pd.DataFrame, title: str) -> str:
    """Grouped horizontal bars: per tier, the mean of each dimension score (0-100)."""
    dims = [c for c in DIMENSIONS if c in profile.columns]
    row_h, left, width = 13, 150, 760
    height = 30 + len(profile) * (len(dims) * row_h + 14)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
             f'aria-label="{_e(title)}"><text x="0" y="16" font-size="14">{_e(title)}</text>']
    y = 30
    for _, row in profile.iterrows():
        tier = row["tier_code"]
        parts.append(f'<text x="0" y="{y + 10}" font-size="12" font-weight="bold">'
                     f'{_e(TIER_NAMES.get(tier, tier))}</text>')
        for d in dims:
            value = float(row[d]) if pd.notna(row[d]) else 0.0
            parts.append(f'<text x="{left - 6}" y="{y + 10}" font-size="10" text-anchor="end">'
                         f'{DIMENSIONS[d]}</text><rect x="{left}" y="{y + 2}" '
                         f'width="{value / 100 * (width - left - 60):.1f}" height="{row_h - 3}" '
                         f'fill="{TIER_COLORS.get(tier, "#777")}"/><text x="'
                         f'{left + value / 100 * (width - left - 60) + 4:.1f}" y="{y + 10}" '
                         f'font-size="10">{value:.1f}</text>')
            y += row_h
        y += 14
    return "".join(parts) + "</svg>"


def svg_rate_bars(rates: pd.Series, title: str) -> str:
    """One bar per tier (S..D): a realised default rate (0-1), the value written above it."""
    width, height, left, bottom, top = 520, 220, 50, 30, 30
    plot_h = height - top - bottom
    highest = max(float(rates.max()) if len(rates) else 0.0, 0.01)
    bar = (width - left - 20) / len(TIERS)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
             f'aria-label="{_e(title)}"><text x="0" y="16" font-size="14">{_e(title)}</text>']
    for i, tier in enumerate(TIERS):
        x = left + i * bar
        rate = rates.get(tier)
        if rate is not None and pd.notna(rate):
            h = float(rate) / highest * plot_h
            parts.append(f'<rect x="{x + 8:.1f}" y="{top + plot_h - h:.1f}" '
                         f'width="{bar - 16:.1f}" height="{h:.1f}" fill="{TIER_COLORS[tier]}"/>'
                         f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                         f'font-size="11" text-anchor="middle">{float(rate):.2%}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 10}" font-size="11" '
                     f'text-anchor="middle">{TIER_NAMES[tier]}</text>')
    return "".join(parts) + "</svg>"


def _cell(value: object) -> str:
    """A table cell as a reader expects it: a date without 00:00:00, a count without .0, other
    numbers to 4 decimals at most, nothing for a missing value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (pd.Timestamp, datetime)):
        return (f"{value:%Y-%m-%d}" if (value.hour, value.minute, value.second) == (0, 0, 0)
                else f"{value:%Y-%m-%d %H:%M}")
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(round(float(value), 4))
    return str(value)


def html_table(frame: pd.DataFrame, max_rows: int = 30) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.head(max_rows).itertuples(index=False))
    more = f"<p class=note>（共 {len(frame)} 行，仅显示前 {max_rows} 行）</p>" if len(frame) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _missing(table: str) -> str:
    return f'<p class="missing">本节所需的数据表 <code>{_e(table)}</code> 尚未发布，暂无内容。</p>'


# ------------------------------------------------------------------------------------ sections

def section_distribution(db: Serving, period: date) -> str:
    if not db.has("marts.client_tiers"):
        return _missing("marts.client_tiers")
    frame = db.df("""select period_date, tier_code, count(*) as clients from marts.client_tiers
        where profile_code = 'default' and period_date <= ? group by all order by 1""", [period])
    if frame.empty:
        return "<p>没有截至本期的分级记录。</p>"
    wide = frame.pivot_table(index="period_date", columns="tier_code", values="clients",
                             fill_value=0)
    counts = wide.reindex(columns=TIERS, fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0).reset_index()
    shares["period_date"] = shares["period_date"].astype(str)
    table = counts.reset_index().rename(columns={"period_date": "期间"})
    table["period_total"] = counts.sum(axis=1).values
    return (svg_stacked_bars(shares, "period_date", "各期等级占比（默认权重方案）")
            + html_table(table.rename(columns=TIER_NAMES | {"period_total": "合计"}), 36))


def _migration_matrices(db: Serving, period: date) -> list[tuple[str, pd.DataFrame]]:
    """(title, from × to counts) from marts.tier_migrations (default profile, latest period up to
    the as-of date; one matrix per horizon)."""
    latest = db.con.execute("select max(period_date) from marts.tier_migrations where "
                            "profile_code = 'default' and period_date <= ?", [period]).fetchone()[0]
    if latest is None:
        return []
    frame = db.df("""select horizon_months, from_period_date, from_tier_code, to_tier_code,
            sum(client_count) as clients
        from marts.tier_migrations
        where profile_code = 'default' and period_date = ?
        group by all order by horizon_months""", [latest])
    matrices = []
    for (horizon, from_period), cells in frame.groupby(["horizon_months", "from_period_date"]):
        matrix = cells.pivot_table(index="from_tier_code", columns="to_tier_code",
                                   values="clients", aggfunc="sum", fill_value=0)
        extra = [c for c in matrix.columns if c not in TIERS]
        matrix = matrix.reindex(index=TIERS, columns=TIERS + extra, fill_value=0)
        span = "相邻两期" if int(horizon) == 1 else f"间隔 {int(horizon)} 个月"
        matrices.append((f"等级迁移（{span}）：{pd.Timestamp(from_period).date()} → {latest}"
                         "（行：上期，列：本期）", matrix))
    return matrices


def _migration_from_tiers(db: Serving, period: date) -> list[tuple[str, pd.DataFrame]]:
    periods = [p for (p,) in db.con.execute(
        "select distinct period_date from marts.client_tiers where period_date <= ? "
        "order by 1 desc limit 2", [period]).fetchall()]
    if len(periods) < 2:
        return []
    frame = db.df("""select prev.tier_code as from_tier, cur.tier_code as to_tier,
            count(*) as clients
        from marts.client_tiers cur join marts.client_tiers prev
          on cur.client_key = prev.client_key and cur.profile_code = prev.profile_code
        where cur.profile_code = 'default' and cur.period_date = ? and prev.period_date = ?
        group by all""", [periods[0], periods[1]])
    matrix = frame.pivot_table(index="from_tier", columns="to_tier", values="clients",
                               fill_value=0).reindex(index=TIERS, columns=TIERS, fill_value=0)
    return [(f"等级迁移：{periods[1]} → {periods[0]}（行：上期，列：本期）", matrix)]


def section_migrations(db: Serving, period: date) -> str:
    """From `tier_migrations` (the dynamics mart) when published, else from `client_tiers`."""
    if db.has("marts.tier_migrations"):
        matrices = _migration_matrices(db, period)
    elif db.has("marts.client_tiers"):
        matrices = _migration_from_tiers(db, period)
    else:
        return _missing("marts.tier_migrations")
    if not matrices:
        return "<p>只有一期分级记录，尚无迁移。</p>"
    parts = []
    for title, matrix in matrices:
        stayed = sum(int(matrix.loc[t, t]) for t in TIERS if t in matrix.columns)
        total = int(matrix.values.sum())
        parts.append(svg_heatmap(matrix, title) + f"<p>上期已分级的客户 {total} 户，其中等级变动 "
                     f"{total - stayed} 户。</p>")
    return "".join(parts)


def section_pareto(db: Serving, period: date) -> str:
    if not db.has("marts.long_tail_clients"):
        return _missing("marts.long_tail_clients")
    latest = db.con.execute("select max(period_date) from marts.long_tail_clients "
                            "where period_date <= ?", [period]).fetchone()[0]
    if latest is None:
        return "<p>本期没有长尾分析结果。</p>"
    curve = db.df("""select income_rank, cumulative_income_share, pareto_segment
        from marts.long_tail_clients where period_date = ? order by income_rank""", [latest])
    n = len(curve)
    curve["client_share"] = curve["income_rank"] / max(n, 1)
    if n > 500:  # enough points for the eye; keeps the page small at a million clients
        curve = curve.iloc[::max(n // 500, 1)]
    tail = db.con.execute("""select min(income_rank), count(*),
            sum(case when is_rising_star then 1 else 0 end)
        from marts.long_tail_clients where period_date = ? and pareto_segment = 'tail'""",
                          [latest]).fetchone()
    tail_start = (tail[0] - 1) / n if tail[0] else None
    head_share = db.con.execute("""select max(cumulative_income_share) from
        marts.long_tail_clients where period_date = ? and pareto_segment = 'head'""",
                                [latest]).fetchone()[0]
    available = db.columns("marts.long_tail_clients")
    cols = [c for c in ("client_key", "tier_code", "growth_percentile", "potential_score",
                        "rising_star_reason") if c in available]
    order = "tail_growth_rank" if "tail_growth_rank" in available else "potential_score desc"
    shown = [f"round({c}, 1) as {c}" if c in ("growth_percentile", "potential_score") else c
             for c in cols]
    stars = db.df(f"""select {', '.join(shown)} from marts.long_tail_clients
        where period_date = ? and is_rising_star order by {order} limit 15""",
                  [latest])
    text = (f"<p>{latest}：头部 {n - (tail[1] or 0)} 户贡献 {float(head_share or 0):.1%} 的收入；"
            f"长尾 {tail[1] or 0} 户，其中长尾新星 {tail[2] or 0} 户。</p>")
    return (svg_pareto(curve, tail_start, "帕累托曲线（累计收入占比）") + text
            + "<h3>长尾新星（增长最快的前 15 户）</h3>" + html_table(stars, 15))


def section_profile(db: Serving, period: date) -> str:
    if not db.has("marts.client_tiers"):
        return _missing("marts.client_tiers")
    available = [c for c in DIMENSIONS if c in db.columns("marts.client_tiers")]
    frame = db.df(f"""select tier_code, count(*) as clients,
            {', '.join(f'avg({c}) as {c}' for c in available)}
        from marts.client_tiers where profile_code = 'default'
          and period_date = (select max(period_date) from marts.client_tiers where period_date <= ?)
        group by tier_code""", [period])
    frame["order"] = frame["tier_code"].map({t: i for i, t in enumerate(TIERS)})
    frame = frame.sort_values("order").drop(columns="order")
    shown = frame.rename(columns=DIMENSIONS | {"tier_code": "等级", "clients": "客户数"}).round(1)
    return svg_profile(frame, "各等级平均维度得分（0–100）") + html_table(shown)


def _is_monotone(rates: pd.Series) -> bool:
    """The realised rate never falls from a tier to the next worse one (tiers with clients)."""
    known = [float(rates[t]) for t in TIERS if t in rates.index and pd.notna(rates[t])]
    return all(worse >= better for better, worse in zip(known, known[1:]))


# An inversion (a better tier defaulting more than the next worse one) is called significant when
# a one-sided Fisher exact test on the two tiers' counts gives p below this.
INVERSION_SIGNIFICANCE = 0.05


def inversion_p_value(better: tuple[int, int], worse: tuple[int, int]) -> float:
    """One-sided Fisher exact test of (clients, defaults) pairs: the chance, were both tiers one
    population, that the better tier would show at least its defaults."""
    from scipy.stats import hypergeom

    (n_better, d_better), (n_worse, d_worse) = better, worse
    return float(hypergeom.sf(d_better - 1, n_better + n_worse, d_better + d_worse, n_better))


def describe_inversions(counts: pd.DataFrame, *, test: bool = True) -> str:
    """The pairs of neighbouring tiers (tiers with clients) whose default rates are inverted, as
    a reader sees them: rates with their counts, and (test=True) whether the gap is beyond chance.
    `counts`: client_count and default_count indexed by tier code."""
    known = [t for t in TIERS if t in counts.index and counts.loc[t, "client_count"] > 0]
    parts, significant = [], []
    for better, worse in zip(known, known[1:]):
        pairs = [(int(counts.loc[t, "client_count"]), int(counts.loc[t, "default_count"]))
                 for t in (better, worse)]
        (n_b, d_b), (n_w, d_w) = pairs
        if d_b * n_w <= d_w * n_b:
            continue
        text = (f"{TIER_NAMES[better]} {d_b / n_b:.2%}（{d_b}/{n_b}）高于 "
                f"{TIER_NAMES[worse]} {d_w / n_w:.2%}（{d_w}/{n_w}）")
        if test:
            p = inversion_p_value(pairs[0], pairs[1])
            significant.append(p < INVERSION_SIGNIFICANCE)
            text += f"，单侧 Fisher 精确检验 p = {p:.3f}"
        parts.append(text)
    if not parts:
        return ""
    out = "；".join(parts)
    if test:
        out += ("。差异显著，需复核分级规则与违约模型" if any(significant) else
                f"。差异不显著（p ≥ {INVERSION_SIGNIFICANCE}），违约样本太少，尚不能说明分级失效")
    return out


def section_performance(db: Serving, period: date) -> str:
    """Realised default rate by tier of the performing obligors over the monitoring's outcome
    window (12 months unless the dynamics seed says otherwise; the monitoring marts, default
    profile): the latest period whose window has closed, and all closed periods pooled;
    then the monitoring's figures per period."""
    if not db.has("marts.tier_performance_by_tier"):
        return _missing("marts.tier_performance_by_tier")
    frame = db.df("""select period_date, tier_code, client_count, default_count,
            outcome_months_observed, is_outcome_window_complete
        from marts.tier_performance_by_tier
        where profile_code = 'default' and period_date <= ?""", [period])
    if frame.empty:
        return "<p>尚无可评估的违约表现：需要有授信档案、处于正常履约状态的客户。</p>"
    closed = frame[frame["is_outcome_window_complete"].astype(bool)]
    # the window's length (monitoring_outcome_months, seed tiering_dynamics_parameters): what a
    # closed period has observed
    window = int(closed["outcome_months_observed"].max()) if len(closed) else None
    if len(closed):
        shown_period = closed["period_date"].max()
        label = f"{pd.Timestamp(shown_period).date()}（{window}个月观察窗口已结束）"
    else:  # no window closed yet: the period that has been watched longest
        shown_period = frame.sort_values(["outcome_months_observed", "period_date"],
                                         ascending=[False, True])["period_date"].iloc[0]
        months = int(frame.loc[frame["period_date"] == shown_period,
                               "outcome_months_observed"].max())
        label = f"{pd.Timestamp(shown_period).date()}（观察窗口未结束，已观察 {months} 个月）"
    latest = frame[frame["period_date"] == shown_period].groupby("tier_code")[
        ["client_count", "default_count"]].sum().reindex(TIERS)
    latest["rate"] = latest["default_count"] / latest["client_count"]
    monotone = _is_monotone(latest["rate"])
    table = pd.DataFrame({"等级": [TIER_NAMES[t] for t in TIERS],
                          "正常履约的授信客户": latest["client_count"].fillna(0).astype(int).values,
                          "观察窗口内违约": latest["default_count"].fillna(0).astype(int).values,
                          "违约率": [f"{r:.2%}" if pd.notna(r) else "—" for r in latest["rate"]]})
    verdict = "逐级下降" if monotone else (
        f"<b>未能逐级下降</b>：{describe_inversions(latest.fillna(0))}")
    text = (f"<p>{label}：违约率从 D 到 S {verdict}。"
            "口径：该期有授信档案且无在途违约的客户，违约 = 其后观察窗口"
            f"{f'（{window}个月）' if window else ''}内的违约事件。</p>")
    if len(closed):
        pooled = closed.groupby("tier_code")[["client_count", "default_count"]].sum().reindex(
            TIERS)
        pooled_rate = pooled["default_count"] / pooled["client_count"]
        table["已结束各期合计违约率"] = [f"{r:.2%}" if pd.notna(r) else "—" for r in pooled_rate]
        # a client counts in every closed period it was a performing obligor in, so the pooled
        # counts are not independent draws: the gaps are shown with their counts, not tested
        pooled_verdict = "逐级下降" if _is_monotone(pooled_rate) else (
            f"<b>未能逐级下降</b>：{describe_inversions(pooled.fillna(0), test=False)}"
            "（同一客户在各期重复计入，次数不等于户数）")
        text += (f"<p>已结束观察窗口的 {closed['period_date'].nunique()} 期合计："
                 f"{pooled_verdict}。</p>")
    out = svg_rate_bars(latest["rate"], f"各等级违约率：{label}") + text + html_table(table)
    if db.has("marts.tier_performance"):
        cols = db.columns("marts.tier_performance")
        shown = [c for c in ("period_date", "cohort_client_count", "default_count",
                             "default_rate", "auc_composite", "auc_credit", "psi_band",
                             "is_default_rate_monotone", "is_outcome_window_complete")
                 if c in cols]
        series = db.df(f"select {', '.join(shown)} from marts.tier_performance "
                       "where profile_code = 'default' and period_date <= ? "
                       "order by period_date desc limit 24", [period])
        formats = {"period_date": lambda v: pd.Timestamp(v).date(),
                   "cohort_client_count": int, "default_count": int,
                   "default_rate": lambda v: f"{float(v):.2%}",
                   "auc_composite": lambda v: round(float(v), 3),
                   "auc_credit": lambda v: round(float(v), 3),
                   "is_default_rate_monotone": lambda v: "是" if v else "否",
                   "is_outcome_window_complete": lambda v: "是" if v else "否"}
        series = pd.DataFrame({c: ["—" if pd.isna(v) else formats.get(c, str)(v)
                                   for v in series[c]] for c in series.columns})
        out += "<h3>各期监测指标（最近 24 期）</h3>" + html_table(series.rename(columns={
            "period_date": "期间", "cohort_client_count": "授信客户", "default_count": "违约",
            "default_rate": "违约率", "auc_composite": "综合得分AUC",
            "auc_credit": "资信得分AUC", "psi_band": "稳定性（PSI）",
            "is_default_rate_monotone": "违约率逐级单调",
            "is_outcome_window_complete": "观察窗口已结束"}), 24)
    return out


def section_guardrails(db: Serving, period: date) -> str:
    """The guardrails of the period (default profile): how many clients each caps, and the
    clients a guardrail moved below the tier their score gives, strongest score first."""
    if not db.has("marts.client_tiers"):
        return _missing("marts.client_tiers")
    cols = db.columns("marts.client_tiers")
    if not {"guardrail_code", "band_tier_code"} <= set(cols):
        return '<p class="missing">client_tiers 没有护栏列（guardrail_code）。</p>'
    label = "reason_label_1" if "reason_label_1" in cols else "guardrail_code"
    binding = ("is_guardrail_binding" if "is_guardrail_binding" in cols
               else "tier_code <> band_tier_code")
    latest = ("(select max(period_date) from marts.client_tiers "
              "where profile_code = 'default' and period_date <= ?)")
    counts = db.df(f"""select guardrail_code,
            min(case when guardrail_code <> 'none' then {label} end) as label,
            count(*) as clients, count(*) filter (where {binding}) as binding
        from marts.client_tiers
        where profile_code = 'default' and period_date = {latest}
        group by 1 order by 1""", [period])
    if counts.empty:
        return "<p>没有截至本期的分级记录。</p>"
    guarded = counts[counts.guardrail_code != "none"]
    text = (f"<p>本期共有 {int(guarded.clients.sum())} 户客户触发护栏，其中 "
            f"{int(guarded.binding.sum())} 户的等级因护栏低于其综合得分对应的等级"
            "（护栏即时生效，不受稳定规则约束；默认权重方案）。</p>")
    table = guarded.replace({"guardrail_code": GUARDRAIL_NAMES}).rename(columns={"guardrail_code": "护栏", "label": "说明",
                                    "clients": "客户数", "binding": "因护栏下调"})
    names = ("left join marts.dim_clients as clients using (client_key)"
             if db.has("marts.dim_clients")
             and "registered_name" in db.columns("marts.dim_clients") else "")
    shown = ", ".join(c for c in (
        "client_key", "clients.registered_name" if names else None, "composite_score",
        "band_tier_code", "tier_code", "guardrail_code",
        "credit_score" if "credit_score" in cols else None,
        "pd_12m" if "pd_12m" in cols else None) if c)
    top = db.df(f"""select {shown} from marts.client_tiers {names}
        where profile_code = 'default' and period_date = {latest} and {binding}
        order by composite_score desc, client_key limit 20""", [period])
    return (text + html_table(table, 10) + "<h3>因护栏下调的客户（按综合得分，前 20 户）</h3>"
            + html_table(top.replace({"guardrail_code": GUARDRAIL_NAMES}).rename(columns={
                "client_key": "客户", "registered_name": "名称", "composite_score": "综合得分",
                "band_tier_code": "得分对应等级", "tier_code": "等级", "guardrail_code": "护栏",
                "credit_score": "资信得分", "pd_12m": "违约概率"}), 20))


def section_review_queue(db: Serving, period: date) -> str:
    if not db.has("marts.tier_review_queue"):
        return _missing("marts.tier_review_queue")
    cols = db.columns("marts.tier_review_queue")
    reason = ("trigger_label" if "trigger_label" in cols else None) or next(
        (c for c in cols if "reason" in c and "label" not in c), None) or next(
        (c for c in cols if "reason" in c), None)
    total = db.con.execute("select count(*) from marts.tier_review_queue").fetchone()[0]
    text = f"<p>待复核记录共 {total} 条"
    if "client_key" in cols:
        clients = db.con.execute(
            "select count(distinct client_key) from marts.tier_review_queue").fetchone()[0]
        text += f"，涉及客户 {clients} 户"
    text += "。</p>"
    if reason is None:
        return text
    due = ", min(due_date) as first_due_date" if "due_date" in cols else ""
    overdue = (", sum(case when due_date < ? then 1 else 0 end) as overdue"
               if "due_date" in cols else "")
    by_reason = db.df(f"select {reason} as reason, count(*) as clients{due}{overdue} "
                      f"from marts.tier_review_queue group by 1 order by 2 desc",
                      [period] if overdue else None)
    out = text + html_table(by_reason.rename(columns={
        "reason": "复核原因", "clients": "数量", "first_due_date": "最早到期",
        "overdue": "已逾期（截至本期）"}))
    if "tier_code" in cols:
        by_tier = db.df("select tier_code, count(*) as items from marts.tier_review_queue "
                        "group by 1 order by 1")
        out += "<h3>按等级</h3>" + html_table(by_tier.rename(
            columns={"tier_code": "等级", "items": "数量"}))
    shown = [c for c in ("priority", "client_key", "registered_name", "tier_code", reason,
                         "trigger_detail", "trigger_date", "due_date") if c in cols]
    order = [c for c in ("priority", "due_date") if c in cols] or [shown[0]]
    top = db.df(f"select {', '.join(dict.fromkeys(shown))} from marts.tier_review_queue "
                f"order by {', '.join(order)} limit 20")
    return out + "<h3>最紧急的 20 条</h3>" + html_table(top, 20)


def section_quality(db: Serving, period: date) -> str:
    if not db.has("main.quality_results"):
        return _missing("main.quality_results")
    version, run, passed, published_at = db.con.execute(
        "select version, checks_run, checks_passed, published_at from main.publish_log "
        "order by version desc limit 1").fetchone()
    per_suite = db.df("""select suite, count(*) as expectations,
            count(*) filter (where success) as passed,
            count(*) filter (where not success and blocking) as blocking_failed,
            count(*) filter (where message like 'skipped:%') as skipped
        from main.quality_results where version = ? group by suite order by suite""", [version])
    problems = db.df("""select suite, expectation, case when blocking then '阻断' else '警告' end
            as severity, message from main.quality_results
        where version = ? and (not success or message like 'skipped:%') order by suite""",
                     [version])
    text = (f"<p>发布版本 {version}（{published_at:%Y-%m-%d %H:%M} UTC）：共运行 {run} 项数据质量检查，"
            f"通过 {passed} 项。详细原因见 Great Expectations Data Docs。</p>")
    return text + html_table(per_suite, 50) + (
        "<h3>未通过或跳过的检查</h3>" + html_table(problems, 50) if len(problems) else "")


CSS = """body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
margin:2em;color:#222;max-width:900px}table{border-collapse:collapse;margin:.5em 0;font-size:12px}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f5f5f5}
.missing{color:#999;font-style:italic}.note{color:#777;font-size:11px}h2{border-bottom:2px solid #1565c0}"""


def render_html(db: Serving, as_of: date) -> str:
    builders = (section_distribution, section_migrations, section_pareto, section_profile,
                section_performance, section_guardrails, section_review_queue, section_quality)
    body = []
    for title, build in zip(SECTIONS, builders):
        try:
            content = build(db, as_of)
        except duckdb.Error as exc:  # a mart with unexpected columns must not sink the report
            content = f'<p class="missing">本节生成失败：{_e(str(exc).splitlines()[0])}</p>'
        body.append(f"<section><h2>{_e(title)}</h2>{content}</section>")
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>客户分级刷新报告 '
            f"{as_of}</title><style>{CSS}</style></head><body><h1>客户分级刷新报告（截至 {as_of}）</h1>"
            f"<p class=note>生成于 {generated}，数据来自已发布的 serving.duckdb。</p>"
            + "".join(body) + "</body></html>")


def write_excel(db: Serving, target: Path, as_of: date | None = None) -> None:
    """One sheet per main mart (per-period marts: the latest period up to `as_of`), at most
    EXCEL_MAX_ROWS rows each, and a 说明 sheet saying what each sheet holds."""
    notes: list[tuple[str, str]] = []

    def sheets() -> Iterator[tuple[str, list[str], Rows]]:
        for name in EXCEL_TABLES:
            table = f"marts.{name}"
            if not db.has(table):
                notes.append((name, "尚未发布"))
                continue
            where, params = "", []
            if as_of is not None and "period_date" in db.columns(table):
                where = (f" where period_date = (select max(period_date) from {table} "
                         "where period_date <= ?)")
                params = [as_of]
            total = db.con.execute(f"select count(*) from {table}{where}", params).fetchone()[0]
            batches = db.con.cursor().sql(  # read a column at a time (tiering/xlsx.py)
                f"select * from {table}{where} limit {EXCEL_MAX_ROWS}", params=params,
            ).to_arrow_reader(10_000)
            yield name, batches.schema.names, batches
            notes.append((name, f"{min(total, EXCEL_MAX_ROWS)} / {total} 行"
                          + ("（最新一期）" if where else "")
                          + ("（已截断，完整数据见 Parquet 导出）" if total > EXCEL_MAX_ROWS else "")))
        yield "说明", ["数据表", "说明"], notes

    write_workbook(target, sheets())


def latest_published_period(paths: Paths) -> date:
    db = Serving(paths.serving)
    try:
        value = db.con.execute("select as_of_period from main.publish_log "
                               "order by version desc limit 1").fetchone()
    finally:
        db.close()
    if not value:
        raise FileNotFoundError(f"{paths.serving} has no publish_log entry")
    return value[0]


def generate(paths: Paths, as_of: date) -> Path:
    """Write reports/<as-of>/report.html and report.xlsx; returns the HTML path. Files are
    replaced atomically, so a failed run leaves the previous report as it was."""
    db = Serving(paths.serving)
    folder = paths.reports / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    html_path, xlsx_path = folder / "report.html", folder / "report.xlsx"
    tmp_html = folder / f".report.html.{os.getpid()}.tmp"
    tmp_xlsx = folder / f".report.{os.getpid()}.tmp.xlsx"
    try:
        tmp_html.write_text(render_html(db, as_of), encoding="utf-8")
        write_excel(db, tmp_xlsx, as_of)
        os.replace(tmp_xlsx, xlsx_path)
        os.replace(tmp_html, html_path)
    finally:
        db.close()
        tmp_html.unlink(missing_ok=True)
        tmp_xlsx.unlink(missing_ok=True)
    return html_path


def main(as_of: date | None = None) -> int:
    """`tiering report [--as-of]`: regenerate the report (default: the latest published period)."""
    import sys

    paths = get_paths()
    try:
        target = as_of or latest_published_period(paths)
        path = generate(paths, target)
    except FileNotFoundError as exc:
        print(f"tiering report: {exc}", file=sys.stderr)
        return 1
    print(f"report: {path}\n        {path.with_suffix('.xlsx')}")
    return 0
