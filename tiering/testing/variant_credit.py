"""A credit world for the variant deliveries (tiering/testing/variants.py, `credit_world=True`):
latent credit health and growth per company, realised defaults, and the risk, registry, finance
values they show through, so that tier quality (default rate by tier, the PD's discrimination,
rising stars) can be measured on deliveries `tiering simulate` did not write
(`benchmarks/bench_tiering.py --generator variants`, docs/robustness.md).

Written from the contract and general credit practice, not from tiering/simulate. Its own
shapes: a company's health h follows a slow mean-reverting walk (h' = 0.99 h + N(0, 0.12)),
its 12-month PD is 1 / (1 + exp(3.3 + 1.25 h)) (3.6 % at h = 0, 26 % at h = -1.5 below the
mean), and only companies with a credit relationship (a risk department profile) can default:
a 违约 event in the month of default, an internal rating of D, 90+ days past due and the watch
list after it, often a revoked registration a few months later. Before it the health shows,
each with its own noise, in the internal rating (re-rated now and then), past-due days, the
watch list, other risk events (逾期 诉讼 展期 重组 行政处罚), the bureau score, litigation and
penalty counts, and the financial statements (leverage, liquidity, margins, cash flow,
interest). A company's growth g shows in its revenue by fiscal year and its fee income over
the months.

Truth it adds (the simulator's file formats, so that benchmarks/bench_tiering.py scores it):
  defaults.parquet        company_id, period_date (month end of the default)
  latent_monthly.parquet  company_id, period_date, health, pd_12m (up to the default month)
  companies.parquet       + health (at the first month), growth
The latent paths come from their own random stream, so they depend on the seed and the world
only; the deliveries around them differ from those of the same seed without the credit world
(their random draws shift), so identity figures are quoted without it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")
OTHER_EVENTS = ("逾期", "诉讼", "展期", "重组", "行政处罚")


def pd_12m(health: float) -> float:
    """The true probability of default within 12 months at a given health."""
    return 1.0 / (1.0 + math.exp(3.3 + 1.25 * health))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method: small rates only)."""
    k, p, threshold = 0, 1.0, 2.718281828459045 ** -lam
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


@dataclass
class CreditPath:
    """One company's latent credit over the generated months."""
    health: list[float]
    growth: float
    default_month: int | None = None
    revoked_from: int | None = None
    rating: dict[int, int] = field(default_factory=dict)  # month -> rating index (0 = AAA)

    def defaulted_by(self, month: int) -> bool:
        return self.default_month is not None and self.default_month <= month


class CreditWorld:
    def __init__(self, companies: list, months: int, seed: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + 17)
        self.paths: dict[str, CreditPath] = {}
        for c in companies:
            rng = self.rng
            h = [rng.gauss(0.0, 0.85)]
            for _ in range(months - 1):
                h.append(0.99 * h[-1] + rng.gauss(0.0, 0.12))
            path = CreditPath(h, rng.gauss(0.0, 1.0))
            first = c.first_month.get("risk")
            if first is not None:  # a credit relationship: it can default from then on
                for month in range(first, months):
                    hazard = 1.0 - (1.0 - pd_12m(h[month])) ** (1 / 12)
                    if rng.random() < hazard:
                        path.default_month = month
                        if rng.random() < 0.4:
                            path.revoked_from = month + rng.randint(2, 6)
                        break
            if path.revoked_from is None and rng.random() < 0.005:
                path.revoked_from = rng.randrange(months)  # revoked for other reasons
            self.paths[c.id] = path

    # --- risk department
    def rating(self, company_id: str, month: int) -> str:
        path = self.paths[company_id]
        if path.defaulted_by(month):
            return RATINGS[9]
        previous = path.rating.get(month - 1)
        if previous is None or self.rng.random() < 0.15:  # rated, or re-rated
            previous = min(8, max(0, round(3.2 - 1.5 * path.health[month]
                                           + self.rng.gauss(0.0, 0.9))))
        path.rating[month] = previous
        return RATINGS[previous]

    def overdue_days(self, company_id: str, month: int) -> int:
        path = self.paths[company_id]
        if path.defaulted_by(month):
            return 90 + 30 * (month - path.default_month) + self.rng.randint(1, 29)
        h = path.health[month]
        if self.rng.random() >= _sigmoid(-2.0 - 1.3 * h):
            return 0
        bucket = min(3, max(0, round(1.0 - h + self.rng.gauss(0.0, 1.0))))
        return (5, 15, 30, 60)[bucket] + self.rng.randint(0, 4)

    def on_watchlist(self, company_id: str, month: int) -> bool:
        path = self.paths[company_id]
        if path.defaulted_by(month):
            return True
        return self.rng.random() < _sigmoid(-3.0 - 1.5 * path.health[month])

    def events(self, company_id: str, month: int) -> list[str]:
        """The risk events of the month: 违约 in the month of default, others by health."""
        path = self.paths[company_id]
        if path.default_month == month:
            return ["违约"]
        if path.defaulted_by(month):
            return ["诉讼"] if self.rng.random() < 0.2 else []
        h = path.health[month]
        weights = (3.0, 2.0, 1.0, 1.0 if h < -0.5 else 0.3, 1.0)
        return [self.rng.choices(OTHER_EVENTS, weights)[0]
                for _ in range(poisson(self.rng, 0.04 * math.exp(-0.8 * h)))]

    # --- registry and bureau
    def registration_status(self, company_id: str, month: int, usual: str) -> str:
        path = self.paths[company_id]
        if path.revoked_from is not None and month >= path.revoked_from:
            return "吊销"
        return usual if usual != "吊销" else "存续"

    def bureau_score(self, company_id: str, month: int) -> int:
        h = self.paths[company_id].health[month]
        return int(min(900, max(350, round(650 + 80 * h + self.rng.gauss(0.0, 50.0)))))

    def registry_count(self, company_id: str, month: int, column: str) -> int:
        h = self.paths[company_id].health[month]
        lam = 0.3 * math.exp(-0.9 * h) if column.startswith("litigation") else \
            0.15 * math.exp(-0.7 * h)
        return poisson(self.rng, lam)

    # --- finance
    def statement(self, company_id: str, year: int, year_end_month: int, years_since: int,
                  base: float, seed: int) -> dict[str, float]:
        """One fiscal year's statement (万元), the same in every delivery that carries it: the
        health of the year's last month (`year_end_month`, clipped to the generated months),
        the revenue grown by `years_since` years of the company's growth."""
        path = self.paths[company_id]
        rng = random.Random(f"{seed}|{company_id}|{year}")
        h = path.health[min(len(path.health) - 1, max(0, year_end_month))]
        revenue = base * rng.uniform(0.8, 1.5) * math.exp(0.15 * path.growth * years_since)
        assets = base * rng.uniform(1.5, 4.0)
        leverage = min(0.95, max(0.1, 0.55 - 0.12 * h + rng.gauss(0.0, 0.1)))
        current_assets = assets * rng.uniform(0.25, 0.5)
        current_ratio = max(0.3, 1.3 + 0.3 * h + rng.gauss(0.0, 0.2))
        liabilities = assets * leverage
        return {
            "revenue": revenue,
            "net_profit": revenue * (0.04 + 0.04 * h + rng.gauss(0.0, 0.03)),
            "total_assets": assets,
            "total_liabilities": liabilities,
            "current_assets": current_assets,
            "current_liabilities": min(liabilities, current_assets / current_ratio),
            "operating_cash_flow": revenue * (0.05 + 0.05 * h + rng.gauss(0.0, 0.05)),
            "interest_expense": liabilities * max(0.01, 0.05 + rng.gauss(0.0, 0.01)),
        }

    def income_factor(self, company_id: str, month: int) -> float:
        """How a company's fee income has grown (or shrunk) by the month."""
        path = self.paths[company_id]
        factor = math.exp(0.25 * path.growth * month / 12)
        return factor * (0.3 if path.defaulted_by(month) else 1.0)

    # --- truth
    def defaults(self, month_ends: list) -> list[tuple[str, str]]:
        return [(company_id, month_ends[p.default_month].isoformat())
                for company_id, p in self.paths.items() if p.default_month is not None]

    def latent_monthly(self, month_ends: list) -> list[tuple]:
        rows = []
        for company_id, path in self.paths.items():
            last = path.default_month if path.default_month is not None else len(month_ends) - 1
            for month in range(last + 1):
                rows.append((company_id, month_ends[month].isoformat(), path.health[month],
                             pd_12m(path.health[month])))
        return rows
