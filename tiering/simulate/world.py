"""The true world: companies, their groups and names, latent traits and the monthly credit walk
with realised defaults. Departments only ever see this through their own noisy records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tiering.simulate import text, vocab
from tiering.simulate.rates import Rates
from tiering.simulate.uscc import generate_usccs

LAG = 6  # months of credit history simulated before the first delivery (for lagged signals)
NEVER = 10**6


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def rng_for(seed: int, *stream: int | str) -> np.random.Generator:
    """An independent, reproducible stream per component (order of use does not matter)."""
    words = [seed] + [s if isinstance(s, int) else int.from_bytes(s.encode()[:8], "little")
                      for s in stream]
    return np.random.default_rng(words)


@dataclass
class World:
    n: int
    months: int
    start: np.datetime64  # first month, datetime64[M]
    # names (token indices) and identity
    region: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    industry: np.ndarray
    legal: np.ndarray
    bracketed: np.ndarray
    former_s1: np.ndarray  # -1 when never renamed
    former_s2: np.ndarray
    rename_m: np.ndarray  # month index of the rename (may be negative), NEVER if none
    group_id: np.ndarray  # -1 when not in a group
    twin_id: np.ndarray  # -1 when not in a same-brand pair
    uscc: np.ndarray  # bytes S18
    # phones: main contact phone; group members share a switchboard landline
    is_mobile: np.ndarray
    mobile: np.ndarray
    local: np.ndarray
    # latent traits
    size_z: np.ndarray
    size: np.ndarray
    growth: np.ndarray
    credit0: np.ndarray
    influence: np.ndarray
    loyalty: np.ndarray
    leverage: np.ndarray
    # time
    created_m: np.ndarray  # month index the company becomes a client (negative: before start)
    churn_m: np.ndarray  # month index it stops doing business, NEVER if not
    default_m: np.ndarray  # month index of its default, NEVER if none
    credit: np.ndarray  # (n, LAG + months) float32, column LAG + m is month m
    pd_month: np.ndarray  # (n, LAG + months) float32

    @property
    def month_end_days(self) -> np.ndarray:
        """Days since epoch of each delivery month's last day."""
        first_next = (self.start + np.arange(1, self.months + 1)).astype("datetime64[D]")
        return text.days_of(first_next) - 1

    @property
    def month_start_days(self) -> np.ndarray:
        return text.days_of((self.start + np.arange(self.months)).astype("datetime64[D]"))

    def credit_at(self, m: int | np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        col = np.clip(np.asarray(m) + LAG, 0, LAG + self.months - 1)
        rows = np.arange(self.n) if idx is None else idx
        return self.credit[rows, col]

    def names(self, idx: np.ndarray, mess: np.ndarray, pick: np.ndarray,
              use_former: np.ndarray | None = None) -> pa.Array:
        s1, s2 = self.s1[idx], self.s2[idx]
        if use_former is not None:
            s1 = np.where(use_former, self.former_s1[idx], s1)
            s2 = np.where(use_former, self.former_s2[idx], s2)
        return text.render_names(self.region[idx], s1, s2, self.industry[idx], self.legal[idx],
                                 self.bracketed[idx], mess, pick)

    def true_names(self, idx: np.ndarray | None = None, former: bool = False) -> pa.Array:
        idx = np.arange(self.n) if idx is None else idx
        zero = np.zeros(len(idx), dtype=np.int64)
        use = (self.former_s1[idx] >= 0) if former else None
        return self.names(idx, zero, zero.astype(float), use)


def _assign_structure(rng: np.random.Generator, n: int, rates: Rates) -> dict[str, np.ndarray]:
    n_stem, n_ind, n_reg = len(vocab.STEM_WORDS), len(vocab.INDUSTRIES), len(vocab.REGIONS)
    region = rng.integers(0, n_reg, n)
    s1 = rng.integers(0, n_stem, n)
    s2 = rng.integers(0, n_stem, n)
    s2 = np.where(s2 == s1, (s2 + 1) % n_stem, s2)
    industry = rng.integers(0, n_ind, n)
    legal = rng.choice(3, n, p=[0.55, 0.30, 0.15])
    group_id = np.full(n, -1, dtype=np.int64)
    twin_id = np.full(n, -1, dtype=np.int64)

    order = rng.permutation(n)
    # groups: blocks of 2..5 consecutive companies in a random order share stem and region
    n_grouped = int(n * rates.group_share)
    sizes = rng.integers(2, 6, max(1, n_grouped // 3 + 1))
    ends = np.cumsum(sizes)
    sizes = sizes[ends <= n_grouped]
    if len(sizes):
        members = order[: sizes.sum()]
        gid = np.repeat(np.arange(len(sizes)), sizes)
        rank = np.arange(len(members)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        parent = members[rank == 0][gid]
        group_id[members] = gid
        region[members] = region[parent]
        s1[members], s2[members] = s1[parent], s2[parent]
        industry[members] = (industry[parent] + rank * 7) % n_ind  # distinct industry words
        legal[members] = np.where(rank == 0, 3, legal[members])  # parent: 集团有限公司
    used = int(sizes.sum()) if len(sizes) else 0
    # same brand in two cities: pairs with stem and industry equal, region different
    n_pairs = int(n * rates.brand_twin_share) // 2
    pairs = order[used: used + 2 * n_pairs].reshape(-1, 2)
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        twin_id[a] = twin_id[b] = np.arange(len(pairs))
        s1[b], s2[b], industry[b] = s1[a], s2[a], industry[a]
        region[b] = (region[a] + 1 + rng.integers(0, n_reg - 1, len(pairs))) % n_reg
    free = (group_id < 0) & (twin_id < 0)

    # distinct registered names: redraw stems of free companies whose name is taken
    for _ in range(50):
        key = ((region * n_stem + s1) * n_stem + s2) * n_ind + industry
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False  # the first holder keeps it
        # structured companies keep their names: if one of them collides, the free one moves
        redraw = dup & free
        taken_by_struct = np.isin(key, key[~free]) & free
        redraw |= taken_by_struct
        if not redraw.any():
            break
        k = int(redraw.sum())
        s1[redraw] = rng.integers(0, n_stem, k)
        s2[redraw] = (s1[redraw] + rng.integers(1, n_stem, k)) % n_stem
        industry[redraw] = rng.integers(0, n_ind, k)
        del counts
    return dict(region=region, s1=s1, s2=s2, industry=industry, legal=legal,
                group_id=group_id, twin_id=twin_id)


def build_world(seed: int, n: int, months: int, start: str, rates: Rates) -> World:
    rng = rng_for(seed, "world")
    st = _assign_structure(rng, n, rates)
    n_stem = len(vocab.STEM_WORDS)

    bracketed = rng.random(n) < rates.bracket_name_share
    renamed = rng.random(n) < rates.rename_share
    former_s1 = np.where(renamed, rng.integers(0, n_stem, n), -1)
    former_s2 = np.where(renamed, (former_s1 + rng.integers(1, n_stem, n)) % n_stem, -1)
    rename_m = np.where(renamed, rng.integers(-12, months, n), NEVER)

    admin = np.array([r[2] for r in vocab.REGIONS], dtype="S6")[st["region"]]
    uscc = generate_usccs(rng, admin)

    # latent traits
    size_z = rng.standard_normal(n)
    size = np.exp(1.75 * size_z)
    growth = rng.standard_normal(n)
    credit0 = 0.35 * size_z + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    influence = 0.6 * size_z + 0.8 * rng.standard_normal(n)
    loyalty = rng.standard_normal(n)
    leverage = np.clip(sigmoid(0.2 - 0.8 * credit0 + 0.5 * rng.standard_normal(n)), 0.05, 0.97)

    is_mobile = rng.random(n) < rates.mobile_share
    mobile = rng.choice(np.array([130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 152, 157,
                                  158, 159, 177, 180, 186, 187, 188, 189]), n) * 10**8 \
        + rng.integers(0, 10**8, n)
    local = rng.integers(2 * 10**7, 9 * 10**7, n)
    grouped = st["group_id"] >= 0
    if grouped.any():  # group switchboard: every member shares the parent's landline
        gids = st["group_id"][grouped]
        first_member = np.full(gids.max() + 1, -1)
        members = np.flatnonzero(grouped)
        first_member[gids[::-1]] = members[::-1]
        is_mobile[grouped] = False
        local[grouped] = local[first_member[gids]]

    # time: when each company becomes a client, churns, defaults
    new = rng.random(n) < rates.new_company_share
    created_m = np.where(new, rng.integers(0, months, n), -rng.integers(1, 97, n))
    churn_h = sigmoid(logit(rates.churn_monthly) - 0.8 * loyalty)
    churn_after = rng.geometric(churn_h)
    churn_m = np.maximum(created_m, 0) + churn_after
    churn_m = np.where(churn_m < months, churn_m, NEVER)

    total = LAG + months
    credit = np.empty((n, total), dtype=np.float32)
    credit[:, 0] = credit0
    drift = 0.01 * growth
    steps = rng.standard_normal((n, total - 1)).astype(np.float32) * rates.credit_drift_sd
    credit[:, 1:] = credit0[:, None] + np.cumsum(steps + drift[:, None].astype(np.float32),
                                                 axis=1)
    pd_month = sigmoid(logit(rates.default_monthly_base) - 1.1 * credit).astype(np.float32)
    default_m = np.full(n, NEVER, dtype=np.int64)
    u = rng.random((n, months))
    for m in range(months):
        alive = (created_m <= m) & (default_m == NEVER)
        hit = alive & (u[:, m] < pd_month[:, LAG + m])
        default_m[hit] = m
    defaulted = default_m < NEVER
    if defaulted.any():  # after a default the credit quality collapses and stays there
        cols = np.arange(total)[None, :]
        after = (cols >= (default_m[:, None] + LAG)) & defaulted[:, None]
        credit[after] = np.minimum(credit[after], -3.5)
        pd_month[after] = 1.0

    return World(n=n, months=months, start=np.datetime64(start, "M"), bracketed=bracketed,
                 former_s1=former_s1, former_s2=former_s2, rename_m=rename_m, uscc=uscc,
                 is_mobile=is_mobile, mobile=mobile, local=local, size_z=size_z, size=size,
                 growth=growth, credit0=credit0, influence=influence, loyalty=loyalty,
                 leverage=leverage, created_m=created_m, churn_m=churn_m, default_m=default_m,
                 credit=credit, pd_month=pd_month, **st)


def covered(world: World, seed: int, department: str, share: float) -> np.ndarray:
    """Indices of the companies a department knows: exactly `share` of them, bigger companies
    more likely."""
    rng = rng_for(seed, "coverage", department)
    score = 0.7 * world.size_z + rng.standard_normal(world.n)
    k = int(round(share * world.n))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.argpartition(-score, k - 1)[:k]) if k < world.n else np.arange(world.n)
