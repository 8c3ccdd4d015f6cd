{#- One row per pair of records (record_key_a < record_key_b) the pair rules compared or a data
    steward decided on: the rules' verdict (int_identity_pairs_scored), overridden by the
    steward's decision (seed identity_decisions) where there is one. Only decisions valid at the
    as-of date count (valid_from on or before it, or blank), the latest decided per pair (then
    the highest decision_id), and only between two records the build holds. `same` links
    the pair (steward_same) even when the rules never compared it; `different` keeps it unlinked
    (steward_different). rule_match_rule keeps what the rules said (NULL: never compared).
    Clustering, the xref and `tiering client --vs` read this model (docs/identity.md, "Data
    stewards' decisions"). A view: the decisions are a handful of rows beside millions of
    pairs. -#}
{{ config(materialized='view') }}

with

pairs as (select * from {{ ref('int_identity_pairs_scored') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

match_rules as (select * from {{ ref('identity_match_rules') }}),

decisions_ordered as (
    select
        case
            when record_key_a < record_key_b then record_key_a else record_key_b
        end as record_key_a,
        case
            when record_key_a < record_key_b then record_key_b else record_key_a
        end as record_key_b,
        decision_id,
        case when decision = 'same' then 'steward_same' else 'steward_different' end
            as match_rule,
        decided_on
    from {{ ref('identity_decisions') }}
    where (valid_from is null or valid_from <= {{ run_as_of_date_literal() }})
      and decision in ('same', 'different')
      and record_key_a <> record_key_b
),

decisions_ranked as (
    select
        decisions_ordered.*,
        row_number() over (
            partition by record_key_a, record_key_b
            order by decided_on desc, decision_id desc
        ) as decision_rank
    from decisions_ordered
),

decisions as (
    select
        decisions_ranked.record_key_a,
        decisions_ranked.record_key_b,
        decisions_ranked.decision_id,
        decisions_ranked.match_rule,
        match_rules.match_score,
        match_rules.is_match
    from decisions_ranked
    inner join match_rules
        on decisions_ranked.match_rule = match_rules.match_rule
    inner join records as records_a
        on decisions_ranked.record_key_a = records_a.record_key
    inner join records as records_b
        on decisions_ranked.record_key_b = records_b.record_key
    where decisions_ranked.decision_rank = 1
),

pairs_decided as (
    select
        coalesce(pairs.record_key_a, decisions.record_key_a) as record_key_a,
        coalesce(pairs.record_key_b, decisions.record_key_b) as record_key_b,
        coalesce(decisions.match_rule, pairs.match_rule) as match_rule,
        coalesce(decisions.match_score, pairs.match_score) as match_score,
        coalesce(decisions.is_match, pairs.is_match) as is_match,
        pairs.match_rule as rule_match_rule,
        decisions.decision_id,
        pairs.core_a,
        pairs.core_b,
        pairs.core_similarity,
        pairs.is_tax_code_conflict,
        pairs.is_typo_unconfirmed,
        pairs.is_typo_both_established,
        pairs.is_name_shared,
        pairs.is_taken_name,
        pairs.is_name_tax_conflict
    from pairs
    full outer join decisions
        on pairs.record_key_a = decisions.record_key_a
        and pairs.record_key_b = decisions.record_key_b
)

select * from pairs_decided
