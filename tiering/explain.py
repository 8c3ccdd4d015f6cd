"""`tiering client QUERY`: one client traced from its tier back to the rows departments delivered.

For the data engineer asked "why is this company with that one?" or "why is it tier C?": the
golden record and which department each attribute came from, every source record linked to the
client with its match rule and score and **the row as delivered** (the name, tax code and phone
as the department typed them, read from the raw layer by `source_file` and `source_row_number`),
how the client's key changed (merges and splits), its tiers (the latest period per profile with
reasons, and the default profile's history) and its open review items.

`tiering client A --vs B` (two source records) says why they are, or are not, one client: each
record as identity resolution read it (name core, region, legal form, industry word, tax code,
phone), and the pair's fate: the rule that linked or rejected it, or why it was never compared
(no blocking key in common, or two places with no tax code in common), or that they are one
client only through other records. That part reads the build database, read-only: while a run
writes it, the command says so and exits 75 (try again).

QUERY is a client key (`C9ce8fb5152fe`), a source record (`crm:CRM000123`,
`finance:F1234567`, `projects:P001|某某公司|投资方`), a USCC, or part of a registered name
(several matches are listed to choose from). A key that a merge or split retired is followed to
the key(s) that hold its records now.

Read-only and lock-free: it reads the published serving database (which a refresh replaces by
an atomic rename, never locks) and the raw layer's Parquet files, so it runs beside a refresh.
It shows what BI sees: the latest published version. The raw rows are the delivered text,
personal data unmasked (the raw layer's own access rules apply).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from tiering.config import Paths, duckdb_config, get_paths

# What each identity-bearing entity's delivered row says about who it is (raw layer columns).
EVIDENCE = {
    ("crm", "clients"): ("client_name", "uscc", "contact_phone", "city"),
    ("finance", "customers"): ("customer_name", "tax_id"),
    ("risk", "credit_profiles"): ("client_name", "uscc"),
    ("projects", "participations"): ("partner_name", "role", "project_code"),
    ("service", "tickets"): ("company_mentioned", "caller_phone", "caller_name"),
    ("external", "registry"): ("registered_name", "uscc", "city", "former_names"),
}
# dim_clients names the department of industry_section_name in industry_section_source
SOURCE_COLUMN = {"industry_section_name": "industry_section_source"}
KEY_PATTERN = re.compile(r"^C[0-9a-f]{12}$")
# A source record as identity_review_queue and the seed identity_decisions write it.
RECORD_KEY_PATTERN = re.compile(
    r"^(crm|finance|risk|projects|service|external)\|([a-z_]+)\|(.+)$")
USCC_PATTERN = re.compile(r"^[0-9A-Z]{18}$")
MAX_MATCHES = 20
RECORDS_PER_ENTITY = 20  # a client's tickets can run to hundreds: the first 20 of each entity
HISTORY_PERIODS = 24


class ClientNotFound(LookupError):
    """Nothing in the published serving database answers the query."""


@dataclass
class Resolved:
    keys: list[str]
    note: str = ""


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


class Explainer:
    def __init__(self, paths: Paths):
        self.paths = paths
        if not paths.serving.exists():
            raise FileNotFoundError(f"no serving database at {paths.serving}: nothing has been "
                                    "published yet (run `tiering refresh`)")
        self.con = duckdb.connect(str(paths.serving), read_only=True, config=duckdb_config())
        self.tables = {t for (t,) in self.con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()}

    def close(self) -> None:
        self.con.close()

    def _df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        return self.con.execute(sql, list(params)).df()

    def _has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    # ------------------------------------------------------------------------ resolving QUERY
    def resolve(self, query: str) -> Resolved:
        text = _fold(query)
        if not self._has("dim_clients", "client_source_xref"):
            raise ClientNotFound(f"{self.paths.serving} has no dim_clients / client_source_xref")
        if not self._df("select 1 from marts.dim_clients where client_key = ?", [text]).empty:
            return Resolved([text])  # a key, the unattributed tickets' C_UNATTRIBUTED included
        if KEY_PATTERN.match(text):
            return self._retired(text)
        record_key = RECORD_KEY_PATTERN.match(query.strip())
        if record_key:  # department|entity|record_id, as identity_review_queue lists records
            found = self._df("select distinct client_key from marts.client_source_xref "
                             "where department = ? and entity = ? and record_id = ?",
                             list(record_key.groups()))
            if found.empty:
                raise ClientNotFound(f"no source record {query.strip()} in client_source_xref")
            return Resolved(found["client_key"].tolist())
        if ":" in text:
            # a record id as delivered: projects' ids hold the partner name with its own
            # brackets and widths, so it is looked up unfolded
            department, record_id = re.split("[:：]", query.strip(), maxsplit=1)
            found = self._df("select distinct client_key from marts.client_source_xref "
                             "where department = ? and record_id = ?",
                             [department.strip().lower(), record_id.strip()])
            if found.empty:
                raise ClientNotFound(f"no source record {department}:{record_id} in "
                                     "client_source_xref (department:record_id, e.g. "
                                     "crm:CRM000123)")
            return Resolved(found["client_key"].tolist())
        code = re.sub(r"[\s-]", "", text).upper()
        if USCC_PATTERN.match(code):
            found = self._df("select client_key from marts.dim_clients where uscc = ?", [code])
            if not found.empty:
                return Resolved(found["client_key"].tolist())
        found = self._df(
            "select client_key, registered_name, city, uscc from marts.dim_clients "
            "where contains(registered_name, ?) order by registered_name, client_key limit ?",
            [text, MAX_MATCHES + 1])
        if found.empty:
            raise ClientNotFound(f"no client key, source record, USCC or registered name "
                                 f"matches {query!r}")
        if len(found) == 1:
            return Resolved(found["client_key"].tolist())
        listing = "\n".join(f"  {r.client_key}  {_text(r.registered_name)}  "
                            f"{_text(r.city)}  {_text(r.uscc)}".rstrip()
                            for r in found.head(MAX_MATCHES).itertuples())
        more = " (first 20)" if len(found) > MAX_MATCHES else ""
        raise ClientNotFound(f"{query!r} matches several clients{more}; ask for one by key:\n"
                             f"{listing}")

    def _retired(self, key: str) -> Resolved:
        """A key no longer in dim_clients: where its records went (client_key_changes)."""
        if self._has("client_key_changes"):
            moved = self._df("select as_of_date, new_client_key, change_type, reason "
                             "from marts.client_key_changes where old_client_key = ? "
                             "order by as_of_date desc, new_client_key", [key])
            live = [k for k in dict.fromkeys(moved["new_client_key"]) if not self._df(
                "select 1 from marts.dim_clients where client_key = ?", [k]).empty]
            if live:
                last = moved.iloc[0]
                return Resolved(live, f"{key} was retired on {last.as_of_date:%Y-%m-%d} "
                                      f"({last.change_type}: {last.reason}); its records are "
                                      f"now with {', '.join(live)}")
        raise ClientNotFound(f"no client {key} in the published dim_clients")

    # ------------------------------------------------------------------------ sections
    def golden(self, key: str) -> list[str]:
        row = self._df("select * from marts.dim_clients where client_key = ?", [key]).iloc[0]
        flags = [d for d in ("crm", "finance", "risk", "projects", "service", "external")
                 if bool(row.get(f"has_{d}"))]
        lines = [f"Client {key}  {row['registered_name'] or '(no name)'}",
                 f"  departments: {' '.join(flags) or 'none'}; {int(row['source_record_count'])}"
                 f" source records; completeness {row['completeness_score']:.2f}; first seen "
                 f"{_day(row['first_seen_date'])}, last seen {_day(row['last_seen_date'])}"]
        for column in ("registered_name", "uscc", "province", "city", "industry_code",
                       "industry_section_name", "client_type", "registration_status",
                       "listed_board", "account_manager"):
            if column not in row.index or pd.isna(row[column]):
                continue
            source = row.get(SOURCE_COLUMN.get(column, f"{column}_source"))
            origin = f"  (from {source})" if isinstance(source, str) and source else ""
            lines.append(f"  {column + ':':<22} {row[column]}{origin}")
        return lines

    def records(self, key: str) -> list[str]:
        xref = self._df("select department, entity, record_id, match_rule, match_score, "
                        "first_seen_date, last_seen_date, source_file, source_row_number "
                        "from marts.client_source_xref where client_key = ? "
                        "order by department, entity, record_id", [key])
        lines = [f"Source records ({len(xref)}): department entity record_id  rule score  "
                 "seen  |  as delivered (source file, row)"]
        shown = xref.groupby(["department", "entity"], sort=False).head(RECORDS_PER_ENTITY)
        delivered = self._delivered(shown)
        for r in shown.itertuples():
            seen = f"{_month(r.first_seen_date)}..{_month(r.last_seen_date)}"
            said = delivered.get((r.source_file, r.source_row_number), "(raw row not found)")
            lines.append(f"  {r.department:<8} {r.entity:<15} {r.record_id}  {r.match_rule} "
                         f"{r.match_score:.2f}  {seen}")
            lines.append(f"      | {said}  ({r.source_file}, row {r.source_row_number})")
        counts = xref.groupby(["department", "entity"]).size()
        lines += [f"  … and {n - RECORDS_PER_ENTITY} more {department} {entity} record(s): "
                  f"marts.client_source_xref where client_key = '{key}'"
                  for (department, entity), n in counts.items() if n > RECORDS_PER_ENTITY]
        return lines

    def _delivered(self, shown: pd.DataFrame) -> dict[tuple[str, int], str]:
        """(source_file, row) -> the identity columns as delivered, from the raw layer, for
        the xref rows shown."""
        out: dict[tuple[str, int], str] = {}
        files = shown[["department", "entity", "source_file"]].drop_duplicates()
        for department, entity, source_file in files.itertuples(index=False):
            columns = EVIDENCE.get((department, entity))
            extract = _extract_date(source_file)
            raw = self.paths.raw / department / entity / f"{extract}.parquet"
            if columns is None or extract is None or not raw.exists():
                continue
            rows = shown.loc[shown["source_file"] == source_file, "source_row_number"]
            with duckdb.connect(config=duckdb_config()) as con:
                present = set(con.execute("select * from read_parquet(?) limit 0",
                                          [str(raw)]).df().columns)
                said_columns = [c for c in columns if c in present]
                found = con.execute(
                    f"select _row_number, {', '.join(_q(c) for c in said_columns)} "
                    "from read_parquet(?) where _row_number in (select unnest(?))",
                    [str(raw), [int(n) for n in rows]]).fetchall()
            for number, *values in found:
                said = "  ".join(f"{c}={v}" for c, v in zip(said_columns, values)
                                 if v is not None and str(v).strip() != "")
                out[(source_file, number)] = said or "(no identifying value)"
        return out

    def key_changes(self, key: str) -> list[str]:
        if not self._has("client_key_changes"):
            return []
        changes = self._df("select as_of_date, old_client_key, new_client_key, change_type, "
                           "reason, moved_record_count from marts.client_key_changes "
                           "where ? in (old_client_key, new_client_key) "
                           "order by as_of_date, old_client_key", [key])
        if changes.empty:
            return ["Key changes: none (this key has held its records since they arrived)"]
        return ["Key changes:"] + [
            f"  {_day(r.as_of_date)}  {r.change_type:<6} {r.old_client_key} -> "
            f"{r.new_client_key}  {int(r.moved_record_count)} record(s)  ({r.reason})"
            for r in changes.itertuples()]

    def tiers(self, key: str) -> list[str]:
        if not self._has("client_tiers"):
            return ["Tiers: client_tiers is not published"]
        latest = self._df("select * from marts.client_tiers where client_key = ? and "
                          "period_date = (select max(period_date) from marts.client_tiers "
                          "where client_key = ?) order by profile_code = 'default' desc, "
                          "profile_code", [key, key])
        if latest.empty:
            return ["Tiers: none (the client has no tier: no tiered period holds it)"]
        period = latest["period_date"].iloc[0]
        lines = [f"Tiers as of {_day(period)} (profile: tier, composite, PD, why):"]
        for r in latest.itertuples():
            reasons = "; ".join(str(x) for x in (r.reason_label_1, r.reason_label_2,
                                                 r.reason_label_3) if isinstance(x, str) and x)
            extra = []
            if r.guardrail_code and r.guardrail_code != "none":
                extra.append(f"guardrail {r.guardrail_code}")
            if r.is_override:
                extra.append(f"override {r.override_id} ({r.override_reason}, approved by "
                             f"{r.override_approver})")
            pd_text = "n/a" if pd.isna(r.pd_12m) else f"{r.pd_12m:.2%}"
            lines.append(f"  {_pad(r.profile_code, 10)} {r.tier_code}  {r.composite_score:6.2f}  "
                         f"PD {pd_text}  {reasons}{'; ' + '; '.join(extra) if extra else ''}")
        dims = latest.iloc[0]
        lines.append("  dimension scores: " + ", ".join(
            f"{d} {dims[f'{d}_score']:.1f}" for d in ("value", "credit", "risk_tolerance",
                                                       "influence", "potential", "loyalty")
            if f"{d}_score" in dims.index and pd.notna(dims[f"{d}_score"])))
        history = self._df("select period_date, tier_code from marts.client_tiers "
                           "where client_key = ? and profile_code = 'default' "
                           "order by period_date desc limit ?", [key, HISTORY_PERIODS])
        if len(history):
            steps = [f"{_month(p)} {t}" for p, t in
                     zip(history["period_date"][::-1], history["tier_code"][::-1])]
            lines.append(f"  default tier history: {', '.join(_runs(steps))}")
        return lines

    def review(self, key: str) -> list[str]:
        if not self._has("tier_review_queue"):
            return []
        queue = self._df("select trigger_label, trigger_detail, priority, due_date "
                         "from marts.tier_review_queue where client_key = ? "
                         "order by priority, due_date", [key])
        if queue.empty:
            return ["Review queue: nothing open"]
        return ["Review queue:"] + [f"  priority {r.priority}  due {_day(r.due_date)}  "
                                    f"{r.trigger_label}: {r.trigger_detail}"
                                    for r in queue.itertuples()]

    def explain(self, key: str) -> str:
        sections = [self.golden(key), self.records(key), self.key_changes(key), self.tiers(key),
                    self.review(key)]
        return "\n\n".join("\n".join(s) for s in sections if s)


class BuildBusy(RuntimeError):
    """The build database is held by a running refresh: try again when it ends."""


RECORD_COLUMNS = ("name_raw", "name_core", "region_key", "name_legal_family",
                  "name_industry_word", "tax_code", "phone", "is_short_name")


def explain_pair(explainer: Explainer, first: str, second: str) -> str:
    """Why two source records (department:record_id) are, or are not, one client."""
    records = [source_record(explainer._df, query) for query in (first, second)]
    try:
        build = duckdb.connect(str(explainer.paths.warehouse), read_only=True,
                               config=duckdb_config())
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise BuildBusy(f"the build database {explainer.paths.warehouse} is being written by "
                            "a run; try again when it ends (tiering status)") from None
        raise
    with build:
        keys = [f"{r['department']}|{r['entity']}|{r['record_id']}" for r in records]
        lines = []
        placed_after_clustering = False  # a short name the placement of short names weighed
        for query, record, key in zip((first, second), records, keys):
            found = build.execute(
                f"select {', '.join(RECORD_COLUMNS)} from "
                "intermediate.int_identity_records_unioned where record_key = ?", [key]).df()
            lines.append(f"{query}  client {record['client_key']} ({record['match_rule']})")
            if found.empty:
                lines.append("    not in int_identity_records_unioned (a ticket or a record "
                             "newer than the build)")
                continue
            row = found.iloc[0]
            said = "  ".join(f"{c}={_text(row[c])}" for c in RECORD_COLUMNS[1:]
                             if _text(row[c]) not in ("", "False"))
            lines.append(f"    {_text(row['name_raw'])}  |  {said}")
            if bool(row["is_short_name"]):
                placement = _short_name_placement(build, key)
                lines += placement
                placed_after_clustering = placed_after_clustering or bool(placement)
        same = records[0]["client_key"] == records[1]["client_key"]
        low, high = sorted(keys)
        pair = build.execute(
            "select decided.*, rules.is_match as rule_is_match "
            "from intermediate.int_identity_pairs_decided "
            "as decided left join seeds.identity_match_rules as rules "
            "on decided.rule_match_rule = rules.match_rule "
            "where decided.record_key_a = ? and decided.record_key_b = ?", [low, high]).df()
        decided = not pair.empty and pair.iloc[0].decision_id is not None
        if decided:
            r = pair.iloc[0]
            rules = (f"the rules said {r.rule_match_rule}" if r.rule_match_rule is not None
                     else "the rules never compared them")
            lines.append(f"Data steward's decision {r.decision_id} (seed identity_decisions): "
                         f"{r.match_rule}, {'linked' if bool(r.is_match) else 'not linked'}; "
                         f"{rules}")
        if not pair.empty and pair.iloc[0].rule_match_rule is not None:
            r = pair.iloc[0]
            matched = bool(r.rule_is_match)
            verdict = ("a match" + ("" if decided else f", score {r.match_score:.2f}")
                       if matched else "not a match")
            lines.append(f"Pair compared: rule {r.rule_match_rule} ({verdict}; core similarity "
                         f"{r.core_similarity:.2f})")
            lines += _comparison(build, low, high, matched=matched, typo=_typo_flag(r),
                                 name_flags=_same_name_flags(r))
        else:
            shared = build.execute(
                "select a.block_type, a.block_value from "
                "intermediate.int_identity_block_keys_generated a join "
                "intermediate.int_identity_block_keys_generated b using (block_type, block_value) "
                "where a.record_key = ? and b.record_key = ? order by 1, 2", keys).fetchall()
            if shared:
                lines.append("Pair not compared: they share blocking key(s) "
                             f"{', '.join(f'{t}={v}' for t, v in shared)}, but sit in "
                             "conflicting places with no tax code or USCC in common: two "
                             "companies for every rule (docs/identity.md, \"Pairs in two places\")")
            elif placed_after_clustering:
                lines.append("Pair never a candidate: a short name is not compared by name; "
                             "the placement of short names (above) weighs the clients "
                             "carrying it (docs/identity.md, \"Short names\")")
            else:
                lines.append("Pair never a candidate: no blocking key in common (name core, a "
                             "one-typo key, tax code or phone; docs/identity.md, \"Blocking\")")
        if same:
            short = any(r["match_rule"].startswith("short_name") for r in records)
            lines.append("One client: " + (
                "a short name placed with a client carrying it (after clustering; how: above)"
                if short else "yes" if not pair.empty and bool(pair.iloc[0].is_match)
                else "yes, through other records of the client (a chain of matched pairs)"))
        else:
            lines.append(f"Two clients: {records[0]['client_key']} and {records[1]['client_key']}")
            lines += _review_queue_entry(build, low, high)
    return "\n".join(lines)


def _review_queue_entry(build: duckdb.DuckDBPyConnection, low: str, high: str) -> list[str]:
    """Whether the data stewards' review queue lists the pair, and why (nothing for a build
    that predates the queue)."""
    try:
        found = build.execute("select review_priority, review_reason from "
                              "marts.identity_review_queue where record_key_a = ? "
                              "and record_key_b = ?", [low, high]).fetchall()
    except duckdb.Error:
        return []
    if not found:
        return []
    priority, reason = found[0]
    return [f"In the data stewards' review queue: {reason} (priority {priority}); settle it "
            f"with: tiering decide {shlex.quote(low)} {shlex.quote(high)} same|different "
            "--by NAME --reason TEXT (docs/identity.md, \"Data stewards' review queue\")"]


# Why a short-names cluster that clients carry joins none of them
# (int_identity_short_names_placed.unplaced_reason).
UNPLACED = {
    "several_carriers": "{n} clients carry it where it may be",
    "group_name": "a client carrying it has a group's own name (…集团, …控股), whose members "
                  "carry the 字号 too",
    "both_tax_codes": "it and the client carrying it hold tax codes (they would have matched "
                      "on one)",
    "carrier_place_unknown": "it states its region, and the one client carrying it is known "
                             "in no region",
    "stem_known_elsewhere": "it states no region, and a company known only by this short name "
                            "is in another region",
    "industry_conflict": "the client it would join states another industry in CRM (its CRM "
                         "records' sections share none with the short name's)",
}
MOST_CARRIERS_SHOWN = 6


def _short_name_placement(build: duckdb.DuckDBPyConnection, key: str) -> list[str]:
    """Where the placement put a short name's cluster, and the clients it weighed
    (docs/identity.md, "Short names"); nothing when its cluster holds a full name (it was
    matched by the pair rules) or the build predates the placement's model."""
    try:
        placed = build.execute(
            "select placed.short_core, placed.region_key, placed.candidate_count, "
            "placed.attach_rule, placed.unplaced_reason, placed.carrier_record_key, "
            "carrier.client_key as carrier_client_key "
            "from intermediate.int_identity_clients_resolved as resolved "
            "join intermediate.int_identity_short_names_placed as placed "
            "on placed.cluster_label = resolved.propagated_cluster_label "
            "left join intermediate.int_identity_clients_resolved as carrier "
            "on carrier.record_key = placed.carrier_record_key "
            "where resolved.record_key = ? order by placed.carrier_record_key",
            [key]).df()
    except duckdb.Error:
        return []
    if placed.empty:
        return []
    first = placed.iloc[0]
    where = f" (region {first.region_key})" if _text(first.region_key) else ""
    count = int(first.candidate_count)
    if first.attach_rule == "short_name":
        said = "placed with the only client carrying it where it may be (short_name)"
    elif first.attach_rule == "short_name_project":
        said = ("placed, among the clients carrying it, with the only one whose finance customer "
                "has receipts tied to its project (short_name_project)")
    elif first.attach_rule == "short_name_group":
        said = ("no client carries it: joined the other short names of it in its region "
                "(short_name_group)")
    elif count == 0:
        said = "no client carries it where it may be: a client of its own"
    else:
        said = "placed nowhere: " + UNPLACED.get(first.unplaced_reason,
                                                 str(first.unplaced_reason)).format(n=count)
    lines = [f"    short name {first.short_core}{where}: {said}"]
    carriers = placed[placed.carrier_record_key.notna()]
    if not carriers.empty:
        shown = [f"{r.carrier_client_key} ({r.carrier_record_key})"
                 for r in carriers.head(MOST_CARRIERS_SHOWN).itertuples()]
        more = len(carriers) - len(shown)
        lines.append("    clients carrying it: " + ", ".join(shown)
                     + (f" and {more} more" if more > 0 else ""))
    return lines


# What the pair rules read (int_identity_pairs_compared), as a reader asks it.
COMPARISONS = (("is_same_core", "same name core"), ("core_edit_distance", "core edit distance"),
               ("is_same_region", "same region"), ("is_region_conflict", "conflicting regions"),
               ("is_place_ambiguous", "a side without region whose core two places carry"),
               ("is_legal_form_conflict", "conflicting legal forms"),
               ("is_industry_conflict", "different industry words"),
               ("is_same_tax_code", "same tax code"), ("is_same_uscc", "same USCC"),
               ("is_name_agreeing", "names agree enough for a shared code"),
               ("is_same_phone", "same phone"), ("is_former_name", "a registry former name"),
               ("is_one_short_name", "one side a short name"))


def _typo_flag(pair: Any) -> str | None:
    """What the pair rules flagged of a one-typo pair they did not take (is_typo_unconfirmed,
    is_typo_both_established of int_identity_pairs_decided), None when nothing or a build
    before the flags."""
    if not _is_true(pair.get("is_typo_unconfirmed")):
        return None
    return "established" if _is_true(pair.get("is_typo_both_established")) else "unconfirmed"


def _is_true(value: Any) -> bool:
    return value is not None and not pd.isna(value) and bool(value)


# Why the typo rule (fuzzy_core) did not take a pair one character apart, by the rules' flag.
TYPO_NOT_TAKEN = {
    "established": "both names are established (a tax code, the registry, several "
                   "departments, or more records than a slip makes), or one department that "
                   "keeps a record per customer holds both (two customers): neither looks like "
                   "a typo; left to a data steward",
    "unconfirmed": "the typo would sit one character from two names, or the supposed typo is "
                   "the better-supported name; left to a data steward",
    None: "both names are established (a tax code, the registry, several departments, or more "
          "records than a slip makes), one department that keeps a record per customer holds "
          "both, the typo would sit one character from two names, a core is short, or a side "
          "without region is known elsewhere",
}


# Why two records of one name (core) were not linked by it, by the rules' flags
# (int_identity_pairs_decided; a build before them has none of these columns).
SAME_NAME_NOT_LINKED = (
    ("is_name_shared", "two registered companies carry this name (two established tax codes), "
                       "so no record links to it by name"),
    ("is_taken_name", "one side is typed with a name now another company's: its tax code ties "
                      "it to its company's present name, and another company's code is "
                      "established for this name (rule 3)"),
    ("is_name_tax_conflict", "a tax code on one side is none of the other name's codes, or a "
                             "side without code faces a name carrying two (rule 4)"),
)


def _same_name_flags(pair: Any) -> list[str]:
    """The reasons the rules flagged for not linking a pair by its name."""
    return [text for column, text in SAME_NAME_NOT_LINKED if _is_true(pair.get(column))]


def _comparison(build: duckdb.DuckDBPyConnection, low: str, high: str,
                matched: bool, typo: str | None = None,
                name_flags: Sequence[str] = ()) -> list[str]:
    try:
        found = build.execute("select * from intermediate.int_identity_pairs_compared "
                              "where record_key_a = ? and record_key_b = ?", [low, high]).df()
    except duckdb.Error:
        return []
    if found.empty:
        return []
    row = found.iloc[0]
    said = []
    for column, label in COMPARISONS:
        if column not in row.index or pd.isna(row[column]):
            continue
        value = row[column]
        if isinstance(value, (bool, np.bool_)):
            said.append(f"{label} {'yes' if value else 'no'}")
        else:
            said.append(f"{label} {int(value)}")
    lines = ["    " + "; ".join(said[i:i + 4]) for i in range(0, len(said), 4)]
    if not matched and row.get("core_edit_distance") == 1 \
            and not bool(row.get("is_region_conflict")):
        lines.append("    one typo apart, not taken for a typo (rule fuzzy_core): "
                     f"{TYPO_NOT_TAKEN[typo]} (docs/identity.md, rule 7)")
    if not matched and bool(row.get("is_same_core")) and name_flags:
        lines.append("    one name, not linked by it (rules exact_name, core_region): "
                     + "; ".join(name_flags) + " (docs/identity.md)")
    return lines


def source_record(query_df: Callable[[str, Sequence], pd.DataFrame], query: str) -> dict:
    """A source record's row of client_source_xref (department, entity, record_id, client_key,
    match_rule), from `department|entity|record_id` or `department:record_id`; `query_df`
    runs a query on the database that holds the xref."""
    text = query.strip()  # unfolded: a projects record id holds the name as typed
    record_key = RECORD_KEY_PATTERN.match(text)
    if record_key:  # department|entity|record_id (identity_review_queue, identity_decisions)
        department, entity, record_id = record_key.groups()
        found = query_df("select department, entity, record_id, client_key, match_rule "
                         "from marts.client_source_xref where department = ? "
                         "and entity = ? and record_id = ?", [department, entity, record_id])
        if found.empty:
            raise ClientNotFound(f"no source record {text} in client_source_xref")
        return found.iloc[0].to_dict()
    if not re.search("[:：]", text):
        raise ClientNotFound(f"a source record is department:record_id (crm:CRM000123) or "
                             f"department|entity|record_id, not {query!r}")
    department, record_id = (part.strip() for part in re.split("[:：]", text, maxsplit=1))
    found = query_df("select department, entity, record_id, client_key, match_rule from "
                     "marts.client_source_xref where department = ? and record_id = ?",
                     [department.lower(), record_id])
    if found.empty:
        raise ClientNotFound(f"no source record {department}:{record_id} in client_source_xref")
    return found.iloc[0].to_dict()


def _runs(steps: list[str]) -> list[str]:
    """'2025-01 C, 2025-02 C, 2025-03 B' -> '2025-01..2025-02 C, 2025-03 B'."""
    out: list[tuple[str, str, str]] = []
    for step in steps:
        month, tier = step.split(" ")
        if out and out[-1][2] == tier:
            out[-1] = (out[-1][0], month, tier)
        else:
            out.append((month, month, tier))
    return [f"{a} {t}" if a == b else f"{a}..{b} {t}" for a, b, t in out]


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns: a CJK character (a project type's name) takes
    two, so `:<width` would push the columns after it out of line."""
    shown = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(width - shown, 0)


def _day(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def _month(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m}"


def _extract_date(source_file: str) -> str | None:
    """crm/2026-10-31/clients.csv -> 2026-10-31 (the raw layer's file for that delivery)."""
    parts = str(source_file).split("/")
    return parts[1] if len(parts) >= 3 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", parts[1]) else None


def main(query: str, versus: str | None = None, paths: Paths | None = None) -> int:
    paths = paths or get_paths()
    try:
        explainer = Explainer(paths)
    except FileNotFoundError as exc:
        print(f"tiering client: {exc}", file=sys.stderr)
        return 1
    try:
        if versus is not None:
            print(explain_pair(explainer, query, versus))
            sys.stdout.flush()
            return 0
        resolved = explainer.resolve(query)
        if resolved.note:
            print(resolved.note + "\n")
        print("\n\n".join(explainer.explain(key) for key in resolved.keys))
        sys.stdout.flush()
        return 0
    except BuildBusy as exc:
        from tiering.runlock import EXIT_BUSY

        print(f"tiering client: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except BrokenPipeError:  # `tiering client X | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ClientNotFound as exc:
        print(f"tiering client: {exc}", file=sys.stderr)
        return 1
    finally:
        explainer.close()
