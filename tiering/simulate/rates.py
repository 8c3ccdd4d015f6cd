"""Every rate the simulator uses, with its default. `tiering simulate --rates file.json` overrides
any of them by name (docs/simulator.md explains each)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class Rates:
    # --- department coverage: share of companies each department knows (bigger companies are
    # more likely to be covered; the shares hold on average)
    coverage_crm: float = 0.90
    coverage_finance: float = 0.60
    coverage_risk: float = 0.45
    coverage_projects: float = 0.25
    coverage_service: float = 0.50
    coverage_external: float = 0.40

    # --- the population of companies
    new_company_share: float = 0.30  # companies that first appear during the simulated months
    group_share: float = 0.08  # companies in a parent/subsidiary group (same stem)
    brand_twin_share: float = 0.02  # companies in a same-brand pair in two cities
    bracket_name_share: float = 0.08  # registered names with the region in brackets
    rename_share: float = 0.05  # companies renamed (before or during the simulated months)
    churn_monthly: float = 0.004  # monthly hazard that a client stops doing business
    deregistered_share: float = 0.02  # registry status 吊销/注销 (plus most defaulted companies)

    # --- credit dynamics
    credit_drift_sd: float = 0.15  # monthly random-walk step of the latent credit quality
    default_monthly_base: float = 0.002  # monthly default probability at average credit

    # --- duplicate records inside one department
    crm_duplicate: float = 0.03  # same company under a second crm_id
    finance_duplicate: float = 0.01  # same company under a second customer_code

    # --- name mess (probabilities per record; projects and service are scaled up, finance down)
    name_width: float = 0.04  # half-width brackets / full-width space
    name_region_bracket: float = 0.04  # 中鼎经纬（北京）实业发展有限公司
    name_legal_form: float = 0.05  # 有限公司 <-> 有限责任公司
    name_short: float = 0.04  # stem only: 中鼎经纬
    name_space: float = 0.03  # stray space
    name_typo: float = 0.02  # one wrong character
    name_traditional: float = 0.015  # traditional characters
    name_former_if_renamed: float = 0.6  # records of renamed companies still under the old name
    name_mess_scale_crm: float = 1.0
    name_mess_scale_finance: float = 0.4
    name_mess_scale_risk: float = 0.6
    name_mess_scale_projects: float = 2.5
    name_mess_scale_service: float = 2.0

    # --- USCC / tax id mess
    uscc_blank_crm: float = 0.40
    uscc_blank_risk: float = 0.05
    uscc_blank_finance: float = 0.02
    uscc_lower: float = 0.02
    uscc_format: float = 0.04  # spaces or dashes
    uscc_transposed: float = 0.015  # adjacent pair swapped: fails the check character
    uscc_legacy: float = 0.02  # 15-digit legacy tax registration number
    uscc_legacy_finance: float = 0.08
    uscc_other: float = 0.005  # a valid USCC of another company

    # --- phones
    mobile_share: float = 0.6  # companies whose contact phone is a mobile
    company_mentioned_null: float = 0.6  # tickets without company_mentioned

    # --- values
    amount_wan_unit: float = 0.15  # receipts in 万元 instead of 元
    thousands_separator: float = 0.4
    reversal: float = 0.015  # 冲销 rows reversing an earlier receipt
    correction: float = 0.005  # incremental keys re-delivered later with a changed value
    future_date: float = 0.002  # impossible dates after the extract date
    negative_balance: float = 0.002  # impossible negative outstanding balances
    statements_share: float = 0.7  # finance customers that file statements

    # --- rows broken beyond repair (per CSV / JSON Lines file)
    broken_row: float = 0.0005


def load_rates(path: Path | None) -> Rates:
    """Defaults, overridden by a JSON object of {name: value}; unknown names are an error."""
    if path is None:
        return Rates()
    overrides = json.loads(Path(path).read_text(encoding="utf-8"))
    return with_overrides(Rates(), overrides)


def with_overrides(rates: Rates, overrides: dict[str, float]) -> Rates:
    known = {f.name for f in fields(Rates)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown rate(s): {', '.join(unknown)}")
    for name, value in overrides.items():
        if not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"rate {name} must be a non-negative number, got {value!r}")
    return replace(rates, **{k: float(v) for k, v in overrides.items()})


def as_dict(rates: Rates) -> dict[str, float]:
    return asdict(rates)
