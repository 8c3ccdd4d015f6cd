{#- One row per client per period per weight profile: weighted contributions, composite score,
    the tier its band gives (band_tier_code), the guardrail that applies (guardrail_code), the
    best tier the guardrail allows (guardrail_cap_tier_code) and the tier after guardrails
    (tier_code). Guardrails (seed tiering_parameters): registry 吊销/注销 → D; in default (a 违约
    within live_default_months, or past due at least past_due_default_days) → D; credit score
    below credit_floor_score or PD at or above pd_ceiling → at best C, however large the
    composite; past due at least delinquency_overdue_days within the last 6 months (seriously
    delinquent, cured or not) → at best C. guardrail_code names the most
    severe guardrail that applies ('none' if none); is_guardrail_binding says it changed the
    band's tier. The stabilisation of tiers over time (issue #5) reads this model.

    The top three reasons (reason_code_1..3): the guardrail that applies comes first, then the
    dimensions that move the composite furthest from neutral (weight × |score - 50|), as
    DIMENSION_HIGH (score ≥ 50) or DIMENSION_LOW, ties in dimension order. Ranked across
    columns (each candidate's rank = 1 + the candidates that beat it), not by unpivoting seven
    candidate rows per client, period and profile and sorting them: the same order at a
    fraction of the cost (docs/benchmarks.md). -#}
{{ config(materialized='view') }}

{%- set dimensions = ['value', 'credit', 'risk_tolerance', 'influence', 'potential', 'loyalty'] %}

with

dimension_scores as (select * from {{ ref('int_tiering_dimensions_scored') }}),

profiles as (select * from {{ ref('tiering_weight_profiles') }}),

policy as (select * from {{ ref('tiering_tier_policy') }}),

weighted as (
    select
        dimension_scores.*,
        profiles.profile_code,
        {%- for dimension in dimensions %}
        profiles.{{ dimension }}_weight,
        round(profiles.{{ dimension }}_weight * dimension_scores.{{ dimension }}_score, 4)
            as {{ dimension }}_contribution,
        {%- endfor %}
        round(
            {%- for dimension in dimensions %}
            profiles.{{ dimension }}_weight * dimension_scores.{{ dimension }}_score
            {{- ' +' if not loop.last }}
            {%- endfor %}
        , 2) as composite_score
    from dimension_scores
    cross join profiles
),

{#- The policy's bands side by side (tiers S A B C D, tier_rank 1-5: seed tests), so that a
    composite finds its band with a CASE instead of a range join. -#}
{%- set tier_ranks = [1, 2, 3, 4, 5] %}
policy_bands as (
    select
        {%- for rank in tier_ranks %}
        max(case when tier_rank = {{ rank }} then min_score end) as tier_{{ rank }}_min_score,
        max(case when tier_rank = {{ rank }} then max_score end) as tier_{{ rank }}_max_score
        {{- ',' if not loop.last }}
        {%- endfor %}
    from policy
),

band_ranked as (
    select
        weighted.*,
        case
            {%- for rank in tier_ranks %}
            when weighted.composite_score >= policy_bands.tier_{{ rank }}_min_score
                and weighted.composite_score < policy_bands.tier_{{ rank }}_max_score
                then {{ rank }}
            {%- endfor %}
        end as band_tier_rank
    from weighted
    cross join policy_bands
),

banded as (
    select
        band_ranked.*,
        policy.tier_code as band_tier_code,
        case
            when band_ranked.is_registry_revoked then 'registry_revoked'
            when band_ranked.has_live_default then 'live_default'
            when band_ranked.credit_score < {{ tiering_parameter('credit_floor_score') }}
                or band_ranked.pd_12m >= {{ tiering_parameter('pd_ceiling') }}
                then 'credit_floor'
            when band_ranked.has_recent_delinquency then 'delinquency'
            else 'none'
        end as guardrail_code
    from band_ranked
    inner join policy
        on band_ranked.band_tier_rank = policy.tier_rank
),

capped as (
    select
        banded.*,
        case
            when guardrail_code in ('registry_revoked', 'live_default')
                then (select max(tier_rank) from policy)
            when guardrail_code in ('credit_floor', 'delinquency')
                then (select tier_rank from policy where tier_code = 'C')
        end as guardrail_cap_tier_rank
    from banded
),

guarded as (
    select
        capped.*,
        case
            when guardrail_cap_tier_rank is null then band_tier_rank
            else greatest(band_tier_rank, guardrail_cap_tier_rank)
        end as tier_rank
    from capped
),

tiered as (
    select
        guarded.*,
        cap_policy.tier_code as guardrail_cap_tier_code,
        policy.tier_code,
        policy.tier_name,
        guarded.tier_rank <> guarded.band_tier_rank as is_guardrail_binding
    from guarded
    inner join policy
        on guarded.tier_rank = policy.tier_rank
    left join policy as cap_policy
        on guarded.guardrail_cap_tier_rank = cap_policy.tier_rank
),

{#- Reason candidates: the guardrail (strength 1000, beats every dimension; -1 when none
    applies, so it never ranks in the top three), then the six dimensions in order. Each has its
    strength and its rank among the seven (<candidate>_reason_strength, _reason_rank). -#}
{%- set candidates = [(
    'guardrail',
    "case guardrail_code when 'registry_revoked' then 'GR_REGISTRY_REVOKED'"
    ~ " when 'live_default' then 'GR_LIVE_DEFAULT' when 'credit_floor' then 'GR_CREDIT_FLOOR'"
    ~ " when 'delinquency' then 'GR_DELINQUENCY' end",
    "case when guardrail_code = 'none' then -1.0 else 1000.0 end")] %}
{%- for dimension in dimensions %}
    {%- do candidates.append((
        dimension,
        "case when " ~ dimension ~ "_score >= 50 then '" ~ dimension | upper ~ "_HIGH' else '"
        ~ dimension | upper ~ "_LOW' end",
        "coalesce(" ~ dimension ~ "_weight * abs(" ~ dimension ~ "_score - 50), -1.0)")) %}
{%- endfor %}

reason_strengths as (
    select
        tiered.*,
        {%- for name, code, strength in candidates %}
        cast({{ strength }} as double) as {{ name }}_reason_strength
        {{- ',' if not loop.last }}
        {%- endfor %}
    from tiered
),

{#- A candidate's rank: 1 + the candidates that beat it (stronger, or as strong and earlier). -#}
reason_ranks as (
    select
        reason_strengths.*,
        {%- for name, code, strength in candidates %}
        {%- set i = loop.index0 %}
        1
        {%- for other in candidates if other[0] != name %}
        + case when {{ other[0] }}_reason_strength > {{ name }}_reason_strength
            {%- if loop.index0 < i %}
            or {{ other[0] }}_reason_strength = {{ name }}_reason_strength
            {%- endif %} then 1 else 0 end
        {%- endfor %} as {{ name }}_reason_rank
        {{- ',' if not loop.last }}
        {%- endfor %}
    from reason_strengths
),

reasons_chosen as (
    select
        reason_ranks.*,
        {%- for rank in [1, 2, 3] %}
        case
            {%- for name, code, strength in candidates %}
            when {{ name }}_reason_rank = {{ rank }} then {{ code }}
            {%- endfor %}
        end as reason_code_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from reason_ranks
)

select * from reasons_chosen
