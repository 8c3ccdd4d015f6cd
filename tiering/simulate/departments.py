"""The six departments: each keeps its own records of the companies it knows (with its own
typing habits and mess) and delivers them month by month as the contract says.

Every department object builds its static records once (vectorised), then `delivery(m)` returns
`{entity name: pa.Table}` for month m, all columns in contract order. Identity-bearing records are
reported to the ground truth through `truth()`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiering.contract import entity
from tiering.simulate import text, vocab
from tiering.simulate.rates import Rates
from tiering.simulate.text import NAME_MESS, cat, fmt_date, int_str, take, where
from tiering.simulate.world import NEVER, World, covered, rng_for, sigmoid

MONTH_SECONDS = 86400


def join_codes(*codes: np.ndarray) -> np.ndarray:
    """Combine per-field mess codes: 'clean' parts drop out; nothing left is 'clean'."""
    out = np.full(len(codes[0]), "", dtype=object)
    for c in codes:
        c = np.asarray(c, dtype=object)
        part = c != "clean"
        sep = np.where((out != "") & part, "+", "")
        out = np.where(part, out + sep + c, out)
    return np.where(out == "", "clean", out).astype(object)


def persons(rng: np.random.Generator, n: int) -> pa.Array:
    """Chinese personal names: surname + one or two given characters."""
    sur = take([s for s, _ in vocab.SURNAMES], rng.integers(0, len(vocab.SURNAMES), n))
    g1 = take(vocab.GIVEN_CHARS, rng.integers(0, len(vocab.GIVEN_CHARS), n))
    g2 = take(vocab.GIVEN_CHARS, rng.integers(0, len(vocab.GIVEN_CHARS), n))
    return where(rng.random(n) < 0.6, cat(sur, g1, g2), cat(sur, g1))


def month_seconds(world: World, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random local time inside month index m (m may be negative: before the first month)."""
    m = np.asarray(m, dtype=np.int64)
    first = text.days_of((world.start + m).astype("datetime64[D]"))
    last = text.days_of((world.start + m + 1).astype("datetime64[D]"))
    day = first + (rng.random(len(m)) * (last - first)).astype(np.int64)
    return day * 86400 + rng.integers(8 * 3600, 19 * 3600, len(m))


def record_ids(rng: np.random.Generator, prefix: str, n: int, digits: int) -> pa.Array:
    """Distinct random identifiers `prefix` + digits (wider if the space is too small)."""
    space = 10**digits - 1
    while n > space:
        digits += 1
        space = 10**digits - 1
    nums = rng.choice(space, size=n, replace=False) + 1 if n else np.empty(0, np.int64)
    return cat(prefix, int_str(nums, digits)) if n else pa.array([], pa.string())


class IdentityRecords:
    """The identifying fields of one department's records of companies (name and USCC), with
    the mess applied and recorded."""

    def __init__(self, world: World, rng: np.random.Generator, company: np.ndarray,
                 created_m: np.ndarray, rates: Rates, name_scale: float,
                 uscc_blank: float | None, uscc_legacy: float):
        n = len(company)
        self.company = company
        self.created_m = created_m
        probs = np.array([rates.name_width, rates.name_region_bracket, rates.name_legal_form,
                          rates.name_short, rates.name_space, rates.name_typo,
                          rates.name_traditional]) * name_scale
        probs = np.concatenate([[max(0.0, 1 - probs.sum())], probs])
        mess = rng.choice(len(probs), n, p=probs / probs.sum())
        pick = rng.random(n)
        stale = (world.former_s1[company] >= 0) & (world.rename_m[company] > created_m) \
            & (rng.random(n) < rates.name_former_if_renamed)
        self.name = world.names(company, mess, pick, stale)
        name_code = np.where(stale, "former", np.asarray(NAME_MESS, dtype=object)[mess])
        name_code = np.where(stale & (mess > 0),
                             "former+" + np.asarray(NAME_MESS, dtype=object)[mess], name_code)
        self.name_code = name_code.astype(object)
        if uscc_blank is None:
            self.uscc, self.uscc_code = None, np.full(n, "clean", dtype=object)
        else:
            self.uscc, self.uscc_code = uscc_mess(world, rng, company, rates, uscc_blank,
                                                  uscc_legacy)

    @property
    def mess(self) -> np.ndarray:
        return join_codes(self.name_code, self.uscc_code)


USCC_MESS = ("clean", "uscc_blank", "uscc_lower", "uscc_format", "uscc_transposed",
             "uscc_legacy", "uscc_other")


def uscc_mess(world: World, rng: np.random.Generator, company: np.ndarray, rates: Rates,
              blank: float, legacy: float) -> tuple[pa.Array, np.ndarray]:
    n = len(company)
    probs = np.array([blank, rates.uscc_lower, rates.uscc_format, rates.uscc_transposed,
                      legacy, rates.uscc_other])
    probs = np.concatenate([[max(0.0, 1 - probs.sum())], probs])
    kind = rng.choice(len(probs), n, p=probs / probs.sum())
    codes = world.uscc[company].view(np.uint8).reshape(n, 18).copy()
    # transposed pair: swap the first differing adjacent pair at or after a random position
    tr = np.flatnonzero(kind == 4)
    if len(tr):
        c = codes[tr]
        diff = c[:, :16] != c[:, 1:17]
        order = (rng.integers(0, 16, len(tr))[:, None] + np.arange(16)) % 16
        first = np.argmax(np.take_along_axis(diff, order, axis=1), axis=1)
        pos = order[np.arange(len(tr)), first]
        rows = np.arange(len(tr))
        a, b = c[rows, pos].copy(), c[rows, pos + 1].copy()
        c[rows, pos], c[rows, pos + 1] = b, a
        codes[tr] = c
    other = np.flatnonzero(kind == 6)
    if len(other):
        donor = (company[other] + rng.integers(1, max(2, world.n), len(other))) % world.n
        codes[other] = world.uscc[donor].view(np.uint8).reshape(len(other), 18)
    full = pa.array(codes.view("S18").ravel()).cast(pa.string())
    legacy_text = pc.utf8_slice_codeunits(full, 2, 17)
    sep = where(rng.random(n) < 0.5, "-", " ")
    parts = [pc.utf8_slice_codeunits(full, i, i + 4) for i in (0, 4, 8, 12)]
    spaced = where(rng.random(n) < 0.7,
                   cat(parts[0], sep, parts[1], sep, parts[2], sep, parts[3], sep,
                       pc.utf8_slice_codeunits(full, 16, 18)),
                   cat(" ", full, " "))
    out = full
    out = where(kind == 2, pc.utf8_lower(full), out)
    out = where(kind == 3, spaced, out)
    out = where(kind == 5, legacy_text, out)
    out = text.null_where(kind == 1, out)
    return out, np.asarray(USCC_MESS, dtype=object)[kind]


def _record_created(world: World, rng: np.random.Generator, company: np.ndarray,
                    max_delay: int = 3) -> np.ndarray:
    return world.created_m[company] + rng.integers(0, max_delay + 1, len(company))


def _with_duplicates(rng: np.random.Generator, company: np.ndarray, created: np.ndarray,
                     rate: float, months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second records of the same company, entered later by someone else."""
    k = int(round(rate * len(company)))
    dup = rng.choice(len(company), size=k, replace=False) if k else np.empty(0, np.int64)
    later = created[dup] + rng.integers(1, max(2, months), k)
    comp = np.concatenate([company, company[dup]])
    crt = np.concatenate([created, later])
    is_dup = np.concatenate([np.zeros(len(company), bool), np.ones(k, bool)])
    return comp, crt, is_dup


class Department:
    name: str = ""

    def __init__(self, world: World, rates: Rates, seed: int):
        self.world, self.rates, self.seed = world, rates, seed

    def rng(self, *stream: int | str) -> np.random.Generator:
        return rng_for(self.seed, self.name, *stream)

    def table(self, entity_name: str, columns: dict[str, pa.Array]) -> pa.Table:
        cols = entity(self.name, entity_name).columns
        return pa.table({c: columns[c] for c in cols})

    def delivery(self, m: int) -> dict[str, pa.Table]:
        raise NotImplementedError

    def truth(self) -> list[pa.Table]:
        return []


def truth_table(department: str, entity_name: str, record_id: pa.Array, company: np.ndarray,
                mess: np.ndarray) -> pa.Table:
    n = len(record_id)
    return pa.table({
        "department": pa.array(np.full(n, department, dtype=object), pa.string()),
        "entity": pa.array(np.full(n, entity_name, dtype=object), pa.string()),
        "record_id": record_id,
        "company_id": company_ids(company),
        "mess": pa.array(np.asarray(mess, dtype=object), pa.string()),
    })


def company_ids(idx: np.ndarray) -> pa.Array:
    return cat("C", int_str(np.asarray(idx) + 1, 7))


def region_text(region: np.ndarray, rng: np.random.Generator) -> tuple[pa.Array, pa.Array]:
    """Province and city as typed: 北京 or 北京市, 广东 or 广东省."""
    prov = take([r[0] for r in vocab.REGIONS], region)
    city = take([r[1] for r in vocab.REGIONS], region)
    muni = np.isin(region, [i for i, r in enumerate(vocab.REGIONS) if r[0] in
                            vocab.MUNICIPALITIES])
    suffix_p = rng.random(len(region)) < 0.4
    suffix_c = rng.random(len(region)) < 0.5
    prov = where(suffix_p, cat(prov, where(muni, "市", "省")), prov)
    city = where(suffix_c, cat(city, "市"), city)
    return prov, city


# ==================================================================== crm
class Crm(Department):
    name = "crm"

    def __init__(self, world: World, rates: Rates, seed: int):
        super().__init__(world, rates, seed)
        rng = self.rng("records")
        comp = covered(world, seed, "crm", rates.coverage_crm)
        created = _record_created(world, rng, comp)
        comp, created, _ = _with_duplicates(rng, comp, created, rates.crm_duplicate, world.months)
        keep = created < world.months
        comp, created = comp[keep], created[keep]
        ids = record_ids(rng, "CRM", len(comp), 6)
        order = np.argsort(np.asarray(ids.to_numpy(zero_copy_only=False)), kind="stable")
        comp, created, ids = comp[order], created[order], ids.take(pa.array(order))
        n = len(comp)
        self.comp, self.created, self.ids = comp, created, ids
        self.ident = IdentityRecords(world, rng, comp, created, rates, rates.name_mess_scale_crm,
                                     rates.uscc_blank_crm, rates.uscc_legacy)
        w = world
        style = rng.integers(0, 5, n)
        own_mobile = rng.random(n) < 0.25  # the contact's own mobile instead of the company line
        mobile = np.where(own_mobile, w.mobile[comp] + rng.integers(1, 999, n), w.mobile[comp])
        self.phone = text.fmt_phone(w.is_mobile[comp] | own_mobile, mobile, w.region[comp],
                                    w.local[comp], style)
        self.contact = persons(rng, n)
        pinyin = take([p for _, p in vocab.SURNAMES], rng.integers(0, len(vocab.SURNAMES), n))
        email = cat(pinyin, int_str(rng.integers(10, 9999, n)), "@",
                    take(vocab.EMAIL_DOMAINS, rng.integers(0, len(vocab.EMAIL_DOMAINS), n)))
        self.email = text.null_where(rng.random(n) < 0.25, email)
        self.province, self.city = region_text(w.region[comp], rng)
        ind_text = take([i[2] for i in vocab.INDUSTRIES], w.industry[comp])
        self.industry = text.null_where(rng.random(n) < 0.05, ind_text)
        platform = np.isin(w.industry[comp], [2, 12, 19])
        ctype = rng.choice(5, n, p=[0.62, 0.15, 0.05, 0.10, 0.08])
        ctype = np.where(platform & (rng.random(n) < 0.5), 2, ctype)
        self.client_type = take(("民营企业", "国有企业", "地方政府平台", "外资企业", "事业单位"), ctype)
        managers = np.array([f"{s}{g}" for s, _ in vocab.SURNAMES[:12]
                             for g in vocab.GIVEN_CHARS[:4]], dtype=object)
        self.manager = take(tuple(managers), rng.integers(0, len(managers), n))
        assoc = (w.influence[comp] + 0.5 * rng.standard_normal(n)) > 0.9
        self.assoc = text.null_where(rng.random(n) < 0.2, where(assoc, "是", "否"))
        listed = (w.size_z[comp] + w.influence[comp] + 0.3 * rng.standard_normal(n)) > 2.6
        self.listed = text.null_where(rng.random(n) < 0.15, where(listed, "Y", "N"))
        self.created_s = month_seconds(w, created, rng)
        self.created_text = text.fmt_datetime(self.created_s)
        self.updated_text = self.created_text

    def delivery(self, m: int) -> dict[str, pa.Table]:
        rng = self.rng("month", m)
        n = len(self.comp)
        upd = np.flatnonzero((rng.random(n) < 0.08) & (self.created < m))
        if len(upd):  # re-format only the records touched this month
            new = text.fmt_datetime(month_seconds(self.world, np.full(len(upd), m), rng))
            pick = np.arange(n)
            pick[upd] = n + np.arange(len(upd))
            self.updated_text = pa.concat_arrays([self.updated_text, new]).take(pa.array(pick))
        vis = pa.array(self.created <= m)
        cols = {
            "crm_id": self.ids, "client_name": self.ident.name, "uscc": self.ident.uscc,
            "contact_name": self.contact, "contact_phone": self.phone, "email": self.email,
            "province": self.province, "city": self.city, "industry": self.industry,
            "client_type": self.client_type, "account_manager": self.manager,
            "association_member": self.assoc, "listed": self.listed,
            "created_at": self.created_text, "updated_at": self.updated_text,
        }
        return {"clients": self.table("clients", cols).filter(vis)}

    def truth(self) -> list[pa.Table]:
        return [truth_table("crm", "clients", self.ids, self.comp, self.ident.mess)]


# ==================================================================== projects
class Projects(Department):
    name = "projects"

    def __init__(self, world: World, rates: Rates, seed: int):
        super().__init__(world, rates, seed)
        rng = self.rng("records")
        w = world
        n_proj = max(10, int(0.06 * w.n))
        self.p_created = np.where(rng.random(n_proj) < 0.6, -rng.integers(1, 37, n_proj),
                                  rng.integers(0, w.months, n_proj))
        keep = self.p_created < w.months
        n_proj = int(keep.sum())
        self.p_created = np.sort(self.p_created[keep])
        year = (w.start + self.p_created).astype("datetime64[Y]").astype(np.int64) + 1970
        self.code = cat("XM", int_str(year), int_str(np.arange(1, n_proj + 1), 6))
        self.p_region = rng.integers(0, len(vocab.REGIONS), n_proj)
        ptype = rng.integers(0, len(vocab.PROJECT_TYPES), n_proj)
        suffixes = [(t, s) for t in vocab.PROJECT_TYPES for s in vocab.PROJECT_SUFFIX[t]]
        pick = rng.random(n_proj)
        lo = np.array([sum(len(vocab.PROJECT_SUFFIX[t]) for t in vocab.PROJECT_TYPES[:i])
                       for i in range(len(vocab.PROJECT_TYPES))])
        cnt = np.array([len(vocab.PROJECT_SUFFIX[t]) for t in vocab.PROJECT_TYPES])
        suffix = take([s for _, s in suffixes], lo[ptype] + (pick * cnt[ptype]).astype(int))
        self.p_name = cat(take([r[1] for r in vocab.REGIONS], self.p_region),
                          take(vocab.STEM_WORDS, rng.integers(0, len(vocab.STEM_WORDS), n_proj)),
                          suffix)
        self.p_type = take(vocab.PROJECT_TYPES, ptype)
        self.province, self.city = region_text(self.p_region, rng)
        self.investment = np.round(np.exp(rng.normal(1.0, 1.0, n_proj)), 2)  # 亿元
        self.need = np.round(self.investment * 1e4 * rng.uniform(0.1, 0.5, n_proj), 2)  # 万元
        self.risk = take(("低", "中", "高"), rng.choice(3, n_proj, p=[0.4, 0.45, 0.15]))
        created_day = text.days_of((w.start + self.p_created).astype("datetime64[D]"))
        self.start_day = created_day + rng.integers(0, 180, n_proj)
        self.end_day = self.start_day + rng.integers(365, 4 * 365, n_proj)
        self.stop_m = np.where(rng.random(n_proj) < 0.05, rng.integers(0, w.months, n_proj),
                               NEVER)
        style = rng.choice(5, n_proj, p=[0.4, 0.1, 0.2, 0.15, 0.15])
        self.start_text = fmt_date(self.start_day, style)
        self.end_text = fmt_date(self.end_day, style)

        # participations: companies the project department knows take part in projects
        comp = covered(w, seed, "projects", rates.coverage_projects)
        k = np.clip(1 + rng.poisson(0.6 * np.exp(0.4 * w.size_z[comp]
                                                + 0.3 * w.influence[comp])), 1, 8)
        pc_comp = np.repeat(comp, k)
        m = len(pc_comp)
        proj = rng.integers(0, n_proj, m)
        role_i = rng.choice(5, m, p=[0.35, 0.2, 0.2, 0.15, 0.1])
        role = take(("借款人", "投资方", "总包方", "担保方", "运营方"), role_i)
        ident = IdentityRecords(w, rng, pc_comp, np.maximum(self.p_created[proj],
                                                            w.created_m[pc_comp]),
                                rates, rates.name_mess_scale_projects, None, 0.0)
        key = cat(self.code.take(pa.array(proj)), "|", ident.name, "|", role)
        first = pa.table({"k": key, "i": np.arange(m)}).group_by("k", use_threads=False) \
            .aggregate([("i", "min")])["i_min"].to_numpy()
        first = np.sort(first)
        order = first[np.lexsort((first, proj[first]))]  # by project, then as generated
        self.pt_comp, self.pt_proj = pc_comp[order], proj[order]
        self.pt_role, self.pt_name = role.take(pa.array(order)), ident.name.take(pa.array(order))
        self.pt_key, self.pt_mess = key.take(pa.array(order)), ident.mess[order]
        share = rng.uniform(0.05, 0.6, len(order))
        self.committed = np.round(self.need[self.pt_proj] * share, 2)
        quality = w.credit0[self.pt_comp] + 0.5 * w.loyalty[self.pt_comp] \
            + 0.7 * rng.standard_normal(len(order))
        self.perf = np.digitize(quality, [-1.0, 0.0, 1.0])  # 差 中 良 优
        self.on_time = quality + 0.5 * rng.standard_normal(len(order)) > -0.5
        # a project each company takes part in (for receipts tied to a project), -1 if none
        self.company_project = np.full(w.n, -1, dtype=np.int64)
        self.company_project[self.pt_comp[::-1]] = self.pt_proj[::-1]

    def delivery(self, m: int) -> dict[str, pa.Table]:
        w = self.world
        end = int(w.month_end_days[m])
        vis = self.p_created <= m
        status = np.where(end < self.start_day, 0, np.where(end < self.end_day, 1, 2))
        status = np.where(self.stop_m <= m, 3, status)
        projects = self.table("projects", {
            "project_code": self.code, "project_name": self.p_name, "project_type": self.p_type,
            "province": self.province, "city": self.city,
            "total_investment": text.fmt_decimal(self.investment, 2),
            "financing_need": text.fmt_decimal(self.need, 2), "risk_level": self.risk,
            "status": take(("储备", "在建", "已完工", "已终止"), status),
            "start_date": self.start_text, "planned_end_date": self.end_text,
        }).filter(pa.array(vis))
        p = self.pt_proj
        progress = np.clip((end - self.start_day[p]) / (self.end_day[p] - self.start_day[p]), 0, 1)
        pstat = status[p]
        perf = take(("差", "中", "良", "优"), self.perf)
        on_time = where(self.on_time, "是", "否")
        parts = self.table("participations", {
            "project_code": self.code.take(pa.array(p)), "partner_name": self.pt_name,
            "role": self.pt_role,
            "committed_amount": text.fmt_decimal(self.committed, 2),
            "contributed_amount": text.fmt_decimal(np.round(self.committed * progress, 2), 2),
            "performance_rating": text.null_where(pstat == 0, perf),
            "delivered_on_time": text.null_where(pstat != 2, on_time),
        }).filter(pa.array(vis[p]))
        return {"projects": projects, "participations": parts}

    def truth(self) -> list[pa.Table]:
        return [truth_table("projects", "participations", self.pt_key, self.pt_comp,
                            self.pt_mess)]


# ==================================================================== finance
FEE_TYPES = ("利息收入", "融资服务费", "咨询服务费", "担保费")


class Finance(Department):
    name = "finance"

    def __init__(self, world: World, rates: Rates, seed: int, projects: Projects | None = None):
        super().__init__(world, rates, seed)
        rng = self.rng("records")
        w = world
        base = covered(w, seed, "finance", rates.coverage_finance)
        created = _record_created(w, rng, base)
        comp, created, is_dup = _with_duplicates(rng, base, created, rates.finance_duplicate,
                                                 w.months)
        keep = created < w.months
        comp, created, is_dup = comp[keep], created[keep], is_dup[keep]
        ids = record_ids(rng, "F", len(comp), 7)
        order = np.argsort(ids.to_numpy(zero_copy_only=False), kind="stable")
        self.comp, self.created, self.is_dup = comp[order], created[order], is_dup[order]
        self.ids = ids.take(pa.array(order))
        self.ident = IdentityRecords(w, rng, self.comp, self.created, rates,
                                     rates.name_mess_scale_finance, rates.uscc_blank_finance,
                                     rates.uscc_legacy_finance)
        # receipts are booked on the company's main record, sometimes on its duplicate
        self.main_rec = np.full(w.n, -1, dtype=np.int64)
        prim = np.flatnonzero(~self.is_dup)
        self.main_rec[self.comp[prim]] = prim
        self.dup_rec = np.full(w.n, -1, dtype=np.int64)
        dups = np.flatnonzero(self.is_dup)
        self.dup_rec[self.comp[dups]] = dups
        self.company_project = projects.company_project if projects is not None else \
            np.full(w.n, -1)
        self.project_codes = projects.code if projects is not None else pa.array([], pa.string())
        self.prev_receipts: pa.Table | None = None
        self.prev_raw: dict[str, np.ndarray] | None = None
        # statements: per company and fiscal year, size and leverage with noise
        self.st_rec = prim[rng.random(len(prim)) < rates.statements_share]
        sc = self.comp[self.st_rec]
        self.first_fy = int(w.start.astype("datetime64[Y]").astype(int) + 1970) - 3
        n_fy = w.months // 12 + 5
        fy = np.arange(n_fy)[None, :]
        ns = len(sc)
        rev = 5000 * w.size[sc, None] ** 0.9 * np.exp(0.08 * w.growth[sc, None] * fy) \
            * np.exp(0.15 * rng.standard_normal((ns, n_fy)))
        assets = rev * rng.uniform(0.8, 3.0, ns)[:, None]
        lev = np.clip(w.leverage[sc, None] + 0.03 * rng.standard_normal((ns, n_fy)), 0.02, 1.2)
        margin = 0.06 + 0.04 * w.credit0[sc, None] + 0.03 * rng.standard_normal((ns, n_fy))
        self.st = {
            "revenue": rev, "net_profit": rev * margin, "total_assets": assets,
            "total_liabilities": assets * lev,
            "current_assets": assets * rng.uniform(0.3, 0.7, (ns, n_fy)),
            "current_liabilities": assets * lev * rng.uniform(0.3, 0.8, (ns, n_fy)),
            "operating_cash_flow": rev * (margin + 0.05 * rng.standard_normal((ns, n_fy))),
            "interest_expense": assets * lev * rng.uniform(0.03, 0.07, (ns, n_fy)),
        }
        self.audited = (w.size_z[sc] + 0.8 * rng.standard_normal(ns)) > -0.3

    def delivery(self, m: int) -> dict[str, pa.Table]:
        w, r = self.world, self.rates
        rng = self.rng("month", m)
        vis = self.created <= m
        customers = self.table("customers", {
            "customer_code": self.ids, "customer_name": self.ident.name,
            "tax_id": self.ident.uscc}).filter(pa.array(vis))
        return {"customers": customers, "receipts": self._receipts(m, rng),
                "statements": self._statements(m)}

    def _receipts(self, m: int, rng: np.random.Generator) -> pa.Table:
        w, r = self.world, self.rates
        active = np.flatnonzero((self.main_rec >= 0) & (w.created_m <= m) & (w.churn_m > m)
                                & (w.default_m >= m))
        active = active[self.created[self.main_rec[active]] <= m]
        trend = np.exp(0.02 * w.growth[active] * m)
        lam = np.clip(0.35 * w.size[active] ** 0.45, 0.05, 12) * trend
        fee = 6000 * w.size[active] * trend * (1 + 0.3 * (w.loyalty[active] > 0))
        count = rng.poisson(lam)
        comp = np.repeat(active, count)
        n = len(comp)
        per = np.repeat(fee / lam, count) * rng.lognormal(-0.125, 0.5, n)
        rec = self.main_rec[comp]
        has_dup = self.dup_rec[comp] >= 0
        use_dup = has_dup & (rng.random(n) < 0.2)
        use_dup &= self.created[np.where(has_dup, self.dup_rec[comp], 0)] <= m
        rec = np.where(use_dup, self.dup_rec[comp], rec)
        first, last = int(w.month_start_days[m]), int(w.month_end_days[m])
        day = rng.integers(first, last + 1, n)
        future = rng.random(n) < r.future_date
        day = np.where(future, last + rng.integers(30, 400, n), day)
        fee_type = rng.choice(4, n, p=[0.35, 0.35, 0.15, 0.15])
        proj = self.company_project[comp]
        tied = (proj >= 0) & (rng.random(n) < 0.4)
        amount = np.round(per, 2)
        # reversals: an earlier receipt of the month booked back, same customer and project
        rev = np.flatnonzero(rng.random(n) < r.reversal)
        rows = np.concatenate([np.arange(n), rev])
        sign = np.concatenate([np.ones(n), -np.ones(len(rev))])
        day = np.concatenate([day, np.minimum(day[rev] + rng.integers(0, 10, len(rev)), last)])
        ftype = np.concatenate([fee_type, np.full(len(rev), 4)])
        raw = {"rec": rec[rows], "day": day, "amount": amount[rows] * sign, "ftype": ftype,
               "proj": np.where(tied, proj, -1)[rows]}
        order = np.lexsort((np.arange(len(rows)), raw["day"]))
        raw = {k: v[order] for k, v in raw.items()}
        nr = len(order)
        ym = int_str(np.full(nr, int(str(w.start + m).replace("-", ""))))
        raw["voucher"] = cat("V", ym, int_str(np.arange(1, nr + 1), 6))
        table = self._receipt_table(raw, rng)
        # corrections: some of last month's vouchers re-delivered with a changed amount
        if self.prev_raw is not None and len(self.prev_raw["rec"]):
            pr = self.prev_raw
            pick = np.flatnonzero((rng.random(len(pr["rec"])) < r.correction) & (pr["ftype"] < 4))
            if len(pick):
                fixed = {k: (v.take(pa.array(pick)) if isinstance(v, pa.Array) else v[pick])
                         for k, v in pr.items()}
                fixed["amount"] = np.round(fixed["amount"] * rng.uniform(0.8, 1.2, len(pick)), 2)
                table = pa.concat_tables([table, self._receipt_table(fixed, rng)])
        self.prev_raw = raw
        return table

    def _receipt_table(self, raw: dict, rng: np.random.Generator) -> pa.Table:
        r = self.rates
        n = len(raw["rec"])
        wan = rng.random(n) < r.amount_wan_unit
        sep = rng.random(n) < r.thousands_separator
        amount = where(wan, text.fmt_decimal(raw["amount"] / 1e4, 6, sep),
                       text.fmt_decimal(raw["amount"], 2, sep))
        proj = raw["proj"]
        codes = self.project_codes.take(pa.array(np.where(proj >= 0, proj, 0))) \
            if len(self.project_codes) else pa.nulls(n, pa.string())
        return self.table("receipts", {
            "voucher_no": raw["voucher"], "customer_code": self.ids.take(pa.array(raw["rec"])),
            "receipt_date": fmt_date(raw["day"], 1), "amount": amount,
            "unit": where(wan, "万元", "元"), "fee_type": take(FEE_TYPES + ("冲销",), raw["ftype"]),
            "project_code": text.null_where(proj < 0, codes)})

    def _statements(self, m: int) -> pa.Table:
        w = self.world
        month = w.start + m
        year = int(month.astype("datetime64[Y]").astype(int)) + 1970
        mon = int(month.astype(int) % 12) + 1
        latest = year - 1 if mon >= 5 else year - 2  # statements of FY y arrive by April y+1
        vis = self.created[self.st_rec] <= m
        recs = np.flatnonzero(vis)
        fys = np.array([latest - 1, latest])
        rows = np.repeat(recs, len(fys))
        fy = np.tile(fys, len(recs))
        col = fy - self.first_fy
        cols = {"customer_code": self.ids.take(pa.array(self.st_rec[rows])),
                "fiscal_year": int_str(fy),
                "audited": where(self.audited[rows], "是", "否")}
        for name, values in self.st.items():
            cols[name] = text.fmt_decimal(values[rows, col], 2)
        return self.table("statements", cols)

    def truth(self) -> list[pa.Table]:
        return [truth_table("finance", "customers", self.ids, self.comp, self.ident.mess)]


# ==================================================================== risk
RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")
RATING_CUTS = np.array([-2.4, -1.8, -1.2, -0.6, 0.0, 0.6, 1.2, 1.8])  # C .. AAA
EVENT_TYPES = ("逾期", "违约", "诉讼", "重组", "展期", "行政处罚")
EVENT_NOTES = ("贷款本息逾期未还", "发生实质性违约", "涉及合同纠纷诉讼", "债务重组方案已提交",
               "申请贷款展期", "受到行政处罚")


class Risk(Department):
    name = "risk"

    def __init__(self, world: World, rates: Rates, seed: int):
        super().__init__(world, rates, seed)
        rng = self.rng("records")
        w = world
        comp = covered(w, seed, "risk", rates.coverage_risk)
        created = _record_created(w, rng, comp)
        keep = created < w.months
        comp, created = comp[keep], created[keep]
        ids = record_ids(rng, "R", len(comp), 8)
        order = np.argsort(ids.to_numpy(zero_copy_only=False), kind="stable")
        self.comp, self.created, self.ids = comp[order], created[order], ids.take(pa.array(order))
        n = len(self.comp)
        self.ident = IdentityRecords(w, rng, self.comp, self.created, rates,
                                     rates.name_mess_scale_risk, rates.uscc_blank_risk,
                                     rates.uscc_legacy)
        c = self.comp
        self.limit = np.round(2e6 * w.size[c] * (1 + 0.3 * np.tanh(w.credit0[c])), -4)
        g = rng.random(n) + 0.15 * np.tanh(-w.credit0[c])
        self.guarantee = np.digitize(g, [0.3, 0.6, 0.85])  # 信用 保证 抵押 质押
        self.collateral = np.where(self.guarantee >= 2, self.limit * rng.uniform(0.8, 1.6, n), 0)
        self.review_offset = rng.integers(0, 6, n)
        self.noise = rng.standard_normal((n, w.months + 1)).astype(np.float32)
        self.prev_events: pa.Table | None = None
        self.event_comp: list[np.ndarray] = []

    def delivery(self, m: int) -> dict[str, pa.Table]:
        w, r = self.world, self.rates
        rng = self.rng("month", m)
        c = self.comp
        n = len(c)
        vis = (self.created <= m) & (w.churn_m[c] > m)
        defaulted = w.default_m[c] <= m
        review = m - ((m - self.review_offset) % 6)  # last rating review (may be before start)
        cr_review = w.credit_at(review - 2, c) + 0.45 * self.noise[np.arange(n),
                                                                   np.clip(review, 0, m)]
        rating = 8 - np.digitize(cr_review, RATING_CUTS)
        rating = np.where(defaulted & (w.default_m[c] <= review), 9, rating)
        rating_day = (w.start + review).astype("datetime64[D]")
        rating_day = text.days_of(rating_day) + (self.review_offset * 3) % 27
        cm = w.credit_at(m, c)
        cprev = w.credit_at(m - 1, c)
        util = np.clip(sigmoid(0.3 - 0.6 * cm + 0.3 * rng.standard_normal(n)), 0, 1)
        balance = np.round(self.limit * util, 2)
        balance = np.where(rng.random(n) < r.negative_balance, -balance - 1000, balance)
        stress = cm + 0.6 * rng.standard_normal(n)
        overdue = np.where(stress < -1.3, np.clip(np.round(20 * np.exp(-stress - 1.3)), 1, 720), 0)
        overdue = np.where(defaulted, np.maximum(overdue, 90), overdue).astype(np.int64)
        watch = ((cprev + 0.5 * rng.standard_normal(n)) < -1.5) | defaulted
        profiles = pa.table({
            "risk_client_no": self.ids, "uscc": self.ident.uscc, "client_name": self.ident.name,
            "internal_rating": take(RATINGS, rating),
            "rating_date": fmt_date(rating_day),
            "credit_limit": pa.array(self.limit), "outstanding_balance": pa.array(balance),
            "collateral_value": pa.array(np.round(self.collateral, 2)),
            "max_overdue_days": pa.array(overdue),
            "guarantee_type": take(("信用", "保证", "抵押", "质押"), self.guarantee),
            "on_watchlist": pa.array(watch),
        }).filter(pa.array(vis))
        return {"credit_profiles": profiles, "risk_events": self._events(m, rng, vis)}

    def _events(self, m: int, rng: np.random.Generator, vis: np.ndarray) -> pa.Table:
        w, r = self.world, self.rates
        recs = np.flatnonzero(vis)
        c = self.comp[recs]
        lam = np.clip(0.02 * np.exp(-1.2 * w.credit_at(m, c)), 0, 2)
        count = rng.poisson(lam)
        ev_rec = np.repeat(recs, count)
        k = len(ev_rec)
        etype = rng.choice([0, 2, 3, 4, 5], k, p=[0.45, 0.2, 0.1, 0.15, 0.1])
        defaults = recs[w.default_m[c] == m]  # realised defaults: a 违约 event
        ev_rec = np.concatenate([ev_rec, defaults])
        etype = np.concatenate([etype, np.ones(len(defaults), dtype=np.int64)])
        k = len(ev_rec)
        first, last = int(w.month_start_days[m]), int(w.month_end_days[m])
        day = rng.integers(first, last + 1, k)
        day = np.where(rng.random(k) < r.future_date, last + rng.integers(30, 400, k), day)
        order = np.lexsort((np.arange(k), day))
        ev_rec, etype, day = ev_rec[order], etype[order], day[order]
        amount = np.round(self.limit[ev_rec] * rng.uniform(0.05, 0.8, k), 2)
        severity = np.clip(np.array([2, 3, 2, 2, 1, 1])[etype] + rng.integers(-1, 2, k), 1, 3)
        severity = np.where(etype == 1, 3, severity)
        ym = int(str(w.start + m).replace("-", ""))
        table = pa.table({
            "event_id": cat("E", int_str(np.full(k, ym)), int_str(np.arange(1, k + 1), 6)),
            "risk_client_no": self.ids.take(pa.array(ev_rec)),
            "event_date": fmt_date(day), "event_type": take(EVENT_TYPES, etype),
            "amount": pa.array(amount, mask=rng.random(k) < 0.3),
            "severity": pa.array(severity.astype(np.int64)),
            "note": take(EVENT_NOTES, etype),
        })
        out = table
        if self.prev_events is not None and self.prev_events.num_rows:
            pick = np.flatnonzero(rng.random(self.prev_events.num_rows) < r.correction)
            if len(pick):
                fixed = self.prev_events.take(pa.array(pick))
                sev = np.clip(fixed["severity"].to_numpy() + 1, 1, 3)
                fixed = fixed.set_column(fixed.schema.get_field_index("severity"), "severity",
                                         pa.array(sev.astype(np.int64)))
                out = pa.concat_tables([table, fixed])
        self.prev_events = table
        return out

    def truth(self) -> list[pa.Table]:
        # a profile opened after its company stopped doing business is never delivered
        seen = self.created < self.world.churn_m[self.comp]
        return [truth_table("risk", "credit_profiles", self.ids.filter(pa.array(seen)),
                            self.comp[seen], np.asarray(self.ident.mess)[seen])]


# ==================================================================== service
CHANNELS = ("电话", "微信", "邮件", "现场")
CATEGORIES = ("咨询", "投诉", "表扬", "催办", "建议")


class Service(Department):
    name = "service"

    def __init__(self, world: World, rates: Rates, seed: int):
        super().__init__(world, rates, seed)
        self.comp = covered(world, seed, "service", rates.coverage_service)
        self.prev_open: pa.Table | None = None
        self.truths: list[pa.Table] = []

    def delivery(self, m: int) -> dict[str, pa.Table]:
        w, r = self.world, self.rates
        rng = self.rng("month", m)
        c = self.comp[(w.created_m[self.comp] <= m) & (w.churn_m[self.comp] > m)]
        lam = 0.08 + 0.25 * sigmoid(w.size_z[c])
        comp = np.repeat(c, rng.poisson(lam))
        n = len(comp)
        opened = np.sort(month_seconds(w, np.full(n, m), rng))
        comp = comp[rng.permutation(n)] if n else comp  # order by time, companies random
        closed = opened + np.round(rng.exponential(2 * 86400, n)).astype(np.int64) + 600
        still_open = (rng.random(n) < 0.1) | (closed > (int(w.month_end_days[m]) + 1) * 86400)
        other_phone = rng.random(n) < 0.2  # the caller's own mobile
        style = rng.integers(0, 5, n)
        mobile = np.where(other_phone, 13900000000 + rng.integers(0, 10**8, n), w.mobile[comp])
        phone = text.fmt_phone(w.is_mobile[comp] | other_phone, mobile, w.region[comp],
                               w.local[comp], style)
        mention = rng.random(n) >= r.company_mentioned_null
        ident = IdentityRecords(w, rng, comp, np.full(n, m), r, r.name_mess_scale_service,
                                None, 0.0)
        p_complaint = sigmoid(-1.6 - 0.9 * w.loyalty[comp])
        p_praise = sigmoid(-2.2 + 0.7 * w.loyalty[comp])
        u = rng.random(n)
        category = np.where(u < p_complaint, 1, np.where(u < p_complaint + p_praise, 2,
                                                         rng.choice([0, 3, 4], n,
                                                                    p=[0.6, 0.25, 0.15])))
        sat = np.clip(np.round(3.4 + 0.8 * w.loyalty[comp] - 1.0 * (category == 1)
                               + 0.8 * rng.standard_normal(n)), 1, 5).astype(np.int64)
        ym = int(str(w.start + m).replace("-", ""))
        ids = cat("T", int_str(np.full(n, ym)), int_str(np.arange(1, n + 1), 6))
        table = pa.table({
            "ticket_id": ids, "opened_at": text.fmt_datetime(opened, "T", "+08:00"),
            "closed_at": text.null_where(still_open, text.fmt_datetime(closed, "T", "+08:00")),
            "caller_phone": phone, "caller_name": persons(rng, n),
            "company_mentioned": text.null_where(~mention, ident.name),
            "channel": take(CHANNELS, rng.choice(4, n, p=[0.5, 0.3, 0.1, 0.1])),
            "category": take(CATEGORIES, category),
            "satisfaction": pa.array(sat, mask=rng.random(n) < 0.3),
        })
        mess = join_codes(np.where(mention, ident.name_code, "no_name"),
                          np.where(other_phone, "other_phone", "clean"))
        self.truths.append(truth_table("service", "tickets", ids, comp, mess))
        out = table
        # corrections: tickets left open last month re-delivered, now closed
        if self.prev_open is not None and self.prev_open.num_rows:
            k = self.prev_open.num_rows
            opened_prev = self.prev_open["_opened_s"].to_numpy()
            closed_prev = np.maximum(opened_prev + 3600,
                                     int(w.month_start_days[m]) * 86400
                                     + rng.integers(3600, 20 * 86400, k))
            fixed = self.prev_open.drop_columns(["_opened_s"])
            fixed = fixed.set_column(fixed.schema.get_field_index("closed_at"), "closed_at",
                                     text.fmt_datetime(closed_prev, "T", "+08:00"))
            out = pa.concat_tables([table, fixed])
        keep = pa.array(still_open & (rng.random(n) < 0.7))
        self.prev_open = table.append_column("_opened_s", pa.array(opened)).filter(keep)
        return {"tickets": out}

    def truth(self) -> list[pa.Table]:
        return self.truths


# ==================================================================== external
BOARDS = ("主板", "创业板", "科创板", "北交所")
ASSOCIATIONS = ("中国建筑业协会", "中国房地产业协会", "中国投资协会", "中国光伏行业协会",
                "中国物流与采购联合会", "中国医院协会", "中国企业联合会", "全国工商联",
                "中国城市科学研究会", "中国环境保护产业协会")


class External(Department):
    name = "external"

    def __init__(self, world: World, rates: Rates, seed: int):
        super().__init__(world, rates, seed)
        rng = self.rng("records")
        w = world
        comp = covered(w, seed, "external", rates.coverage_external)
        created = _record_created(w, rng, comp, 2)
        keep = created < w.months
        self.comp, self.created = comp[keep], created[keep]
        c = self.comp
        n = len(c)
        self.uscc = pa.array(w.uscc[c]).cast(pa.string())
        self.current = w.true_names(c)
        self.former = w.true_names(c, former=True)
        self.legal_rep = persons(rng, n)
        self.capital = np.round(1000 * np.exp(0.8 * w.size_z[c] + 0.4 * w.influence[c]
                                              + 0.4 * rng.standard_normal(n)), 2)
        created_day = text.days_of((w.start + w.created_m[c]).astype("datetime64[D]"))
        self.established = created_day - rng.integers(180, 20 * 365, n)
        self.base_status = rng.integers(0, 2, n)  # 存续 / 在业
        dereg = rng.random(n) < rates.deregistered_share
        self.dereg_m = np.where(dereg, rng.integers(-6, w.months, n), NEVER)
        after_default = np.where(w.default_m[c] < NEVER, w.default_m[c] + rng.integers(3, 12, n),
                                 NEVER)
        after_default = np.where(rng.random(n) < 0.5, after_default, NEVER)
        self.dereg_m = np.minimum(self.dereg_m, after_default)
        self.dereg_kind = rng.integers(2, 4, n)  # 吊销 / 注销
        self.moved = rng.random(n) < 0.005
        listed = (w.size_z[c] + w.influence[c] + 0.3 * rng.standard_normal(n)) > 2.6
        self.board = np.where(listed, rng.choice(4, n, p=[0.55, 0.2, 0.15, 0.1]), -1)
        n_assoc = np.clip(rng.poisson(0.5 * np.exp(0.6 * w.influence[c])), 0, 4)
        self.assoc_offsets = np.concatenate([[0], np.cumsum(n_assoc)]).astype(np.int32)
        start = rng.integers(0, len(ASSOCIATIONS), n)
        flat_pos = np.arange(n_assoc.sum()) - np.repeat(self.assoc_offsets[:-1], n_assoc)
        self.assoc_values = take(ASSOCIATIONS, (np.repeat(start, n_assoc) + flat_pos)
                                 % len(ASSOCIATIONS))
        codes = [i[1] for i in vocab.INDUSTRIES]
        self.industry_code = take(codes, w.industry[c])
        self.province = take([r[0] for r in vocab.REGIONS], w.region[c])
        self.city = take([r[1] for r in vocab.REGIONS], w.region[c])

    def delivery(self, m: int) -> dict[str, pa.Table]:
        w = self.world
        rng = self.rng("month", m)
        c = self.comp
        n = len(c)
        renamed_by_now = w.rename_m[c] <= m
        name = pc.if_else(pa.array(renamed_by_now | (w.former_s1[c] < 0)), self.current,
                          self.former)
        former_off = np.concatenate([[0], np.cumsum(renamed_by_now)]).astype(np.int32)
        former = pa.ListArray.from_arrays(pa.array(former_off),
                                          self.former.filter(pa.array(renamed_by_now)))
        status = np.where(self.dereg_m <= m, self.dereg_kind, self.base_status)
        status = np.where(self.moved, 4, status)
        cm = w.credit_at(m, c)
        bureau = np.clip(np.round(650 + 80 * (w.credit_at(m - 1, c)
                                              + 0.6 * rng.standard_normal(n))), 300, 950)
        table = pa.table({
            "uscc": self.uscc, "registered_name": name, "former_names": former,
            "legal_representative": self.legal_rep,
            "registered_capital": pa.array(self.capital),
            "established_date": pa.array(self.established.astype("datetime64[D]"), pa.date32()),
            "registration_status": take(("存续", "在业", "吊销", "注销", "迁出"), status),
            "industry_code": self.industry_code, "province": self.province, "city": self.city,
            "listed_board": text.null_where(self.board < 0,
                                            take(BOARDS, np.maximum(self.board, 0))),
            "association_memberships": pa.ListArray.from_arrays(pa.array(self.assoc_offsets),
                                                                self.assoc_values),
            "litigation_count_12m": pa.array(rng.poisson(0.3 * np.exp(-1.0 * cm)).astype(
                np.int32)),
            "penalty_count_12m": pa.array(rng.poisson(0.1 * np.exp(-0.6 * cm)).astype(np.int32)),
            "bureau_score": pa.array(bureau.astype(np.int32)),
        })
        return {"registry": table.filter(pa.array(self.created <= m))}

    def truth(self) -> list[pa.Table]:
        n = len(self.comp)
        return [truth_table("external", "registry", self.uscc, self.comp,
                            np.full(n, "clean", dtype=object))]


ALL = (Crm, Finance, Risk, Projects, Service, External)
