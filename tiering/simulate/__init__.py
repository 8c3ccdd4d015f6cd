"""`tiering simulate`: monthly department deliveries exactly as the raw extract contract says
(../shared/contracts/raw_extracts.md), with its mess at documented rates, plus the ground truth.

    from tiering.simulate import simulate
    simulate(out=landing, truth=truth_dir, clients=300, months=3, start="2024-11", seed=7)

See docs/simulator.md for what is modelled and every rate.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tiering.contract import DEPARTMENTS, ENTITIES, entities_of
from tiering.simulate.rates import Rates, as_dict, load_rates, with_overrides
from tiering.simulate.uscc import is_valid_uscc, org_check_char, uscc_check_char
from tiering.simulate.world import LAG, NEVER, build_world, rng_for

__all__ = ["Rates", "simulate", "main", "uscc_check_char", "org_check_char", "is_valid_uscc"]


def _departments():
    from tiering.simulate import departments as d

    return {cls.name: cls for cls in d.ALL}


# departments split over two processes with about equal work; each rebuilds the (deterministic)
# world from the seed, so the files do not depend on how many processes wrote them
GROUPS = (("crm", "risk", "service"), ("finance", "projects", "external"))


def simulate(out: Path | str, truth: Path | str, clients: int = 2000, months: int = 24,
             start: str = "2024-11", seed: int = 1, rates: Rates | dict | None = None,
             verbose: bool = False, workers: int | None = None) -> dict[str, int]:
    """Write `months` monthly deliveries of every department under `out` and the ground truth
    under `truth`. Returns rows written per department/entity (all months). `workers`: processes
    to use (default: 2 when the machine has 2 cores or more and the run is big enough)."""
    out, truth = Path(out), Path(truth)
    if isinstance(rates, dict):
        rates = with_overrides(Rates(), rates)
    rates = rates or Rates()
    if clients < 1 or months < 1:
        raise ValueError("clients and months must be positive")
    np.datetime64(start, "M")  # fail early on a bad start month
    if workers is None:
        workers = 2 if (os.cpu_count() or 1) >= 2 and clients * months >= 200_000 else 1
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    job = dict(out=str(out), seed=seed, clients=clients, months=months, start=start,
               rates=as_dict(rates), verbose=verbose)
    if workers > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            other = pool.submit(_write_departments, departments=GROUPS[1], **job)
            totals, truths, world = _write_departments(departments=GROUPS[0], keep_world=True,
                                                       **job)
            more, more_truths, _ = other.result()
        totals.update(more)
        truths += more_truths
    else:
        totals, truths, world = _write_departments(departments=DEPARTMENTS, keep_world=True,
                                                   **job)
    _write_truth(truth, world, truths)
    totals = {f"{e.department}/{e.name}": totals[f"{e.department}/{e.name}"] for e in ENTITIES}
    if verbose:
        print(f"done: {time.perf_counter() - t0:.1f}s, {sum(totals.values()):,} rows")
    return totals


def _write_departments(out: str, seed: int, clients: int, months: int, start: str,
                       rates: dict, verbose: bool, departments: tuple[str, ...],
                       keep_world: bool = False):
    """Build the world and the given departments, write all their monthly deliveries."""
    from tiering.simulate.writers import write_entity, write_manifest

    t0 = time.perf_counter()
    rates_ = Rates(**rates)
    world = build_world(seed, clients, months, start, rates_)
    classes = _departments()
    depts = {}
    if "finance" in departments:  # finance ties receipts to its customers' projects
        depts["projects"] = classes["projects"](world, rates_, seed)
    for name in departments:
        if name not in depts:
            kwargs = {"projects": depts["projects"]} if name == "finance" else {}
            depts[name] = classes[name](world, rates_, seed, **kwargs)
    if verbose:
        print(f"{'+'.join(departments)}: world and records {time.perf_counter() - t0:.1f}s",
              flush=True)
    ends = world.month_end_days
    totals: dict[str, int] = {}
    root = Path(out)
    for m in range(months):
        extract_date = str(np.datetime64(int(ends[m]), "D"))
        for dept_name in departments:
            tables = depts[dept_name].delivery(m)
            folder = root / dept_name / extract_date
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            files = {}
            for ent in entities_of(dept_name):
                rng = rng_for(seed, "broken", dept_name, ent.name, m)
                files[ent.file_name] = write_entity(folder, ent, tables[ent.name], rng,
                                                    rates_.broken_row)
                key = f"{dept_name}/{ent.name}"
                totals[key] = totals.get(key, 0) + files[ent.file_name]["rows"]
            write_manifest(folder, dept_name, extract_date, files)  # last: completes it
        if verbose:
            print(f"{'+'.join(departments)}: {extract_date} {time.perf_counter() - t0:.1f}s",
                  flush=True)
    truths = [t for name in departments for t in depts[name].truth()]
    return totals, truths, (world if keep_world else None)


def _write_truth(truth: Path, world, truths: list[pa.Table]) -> None:
    from tiering.simulate.departments import company_ids

    truth.mkdir(parents=True, exist_ok=True)
    order = {(e.department, e.name): i for i, e in enumerate(ENTITIES)}
    records = pa.concat_tables(sorted(truths, key=lambda t: order[(t["department"][0].as_py(),
                                                                     t["entity"][0].as_py())]
                                      if t.num_rows else -1))
    pq.write_table(records, truth / "source_records.parquet", compression="zstd")

    n, months = world.n, world.months
    idx = np.arange(n)
    renamed = world.former_s1 >= 0
    month_end = (world.start + np.arange(1, months + 1)).astype("datetime64[D]") - 1

    def month_date(m: np.ndarray) -> pa.Array:
        """Month-end date of month index m (may be negative); null for NEVER."""
        ok = m < NEVER
        dates = ((world.start + np.where(ok, m, 0) + 1).astype("datetime64[D]") - 1)
        return pa.array(dates, pa.date32(), mask=~ok)

    from tiering.simulate import vocab

    companies = pa.table({
        "company_id": company_ids(idx),
        "name": world.true_names(),
        "former_name": _former(world),
        "uscc": pa.array(world.uscc).cast(pa.string()),
        "group_id": pa.array(np.where(world.group_id >= 0, world.group_id, 0), pa.int64(),
                             mask=world.group_id < 0),
        "twin_id": pa.array(np.where(world.twin_id >= 0, world.twin_id, 0), pa.int64(),
                            mask=world.twin_id < 0),
        "province": pa.array([r[0] for r in vocab.REGIONS]).take(pa.array(world.region)),
        "city": pa.array([r[1] for r in vocab.REGIONS]).take(pa.array(world.region)),
        "industry": pa.array([i[0] for i in vocab.INDUSTRIES]).take(pa.array(world.industry)),
        "size": world.size, "growth": world.growth, "credit_start": world.credit0,
        "influence": world.influence, "loyalty": world.loyalty, "leverage": world.leverage,
        "is_renamed": renamed,
        "renamed_month": month_date(np.where(renamed, world.rename_m, NEVER)),
        "created_month": month_date(world.created_m),
        "churn_month": month_date(world.churn_m),
        "default_month": month_date(world.default_m),
    })
    pq.write_table(companies, truth / "companies.parquet", compression="zstd")

    # latent_monthly: one row per company per month from the month it exists to its default
    pd = world.pd_month[:, LAG:]
    pd12 = 1.0 - (1.0 - pd.astype(np.float64)) ** 12
    mm = np.arange(months)[None, :]
    keep = (world.created_m[:, None] <= mm) & (mm <= world.default_m[:, None])
    rows, cols = np.nonzero(keep)
    latent = pa.table({
        "company_id": company_ids(rows),
        "period_date": pa.array(month_end[cols], pa.date32()),
        "credit_quality": pa.array(world.credit[rows, cols + LAG].astype(np.float64)),
        "pd_12m": pa.array(pd12[rows, cols]),
    })
    pq.write_table(latent, truth / "latent_monthly.parquet", compression="zstd")

    d = np.flatnonzero(world.default_m < NEVER)
    defaults = pa.table({"company_id": company_ids(d),
                         "period_date": pa.array(month_end[world.default_m[d]], pa.date32())})
    pq.write_table(defaults, truth / "defaults.parquet", compression="zstd")


def _former(world) -> pa.Array:
    from tiering.simulate import text

    return text.null_where(world.former_s1 < 0, world.true_names(former=True))


def main(args: argparse.Namespace) -> int:
    try:
        rates = load_rates(getattr(args, "rates", None))
    except (ValueError, OSError) as exc:
        print(f"tiering simulate: bad --rates: {exc}")
        return 2
    totals = simulate(args.out, args.truth, clients=args.clients, months=args.months,
                      start=args.start, seed=args.seed, rates=rates, verbose=True)
    print(json.dumps(totals, indent=2))
    print(f"landing zone: {args.out}\nground truth: {args.truth}")
    return 0
