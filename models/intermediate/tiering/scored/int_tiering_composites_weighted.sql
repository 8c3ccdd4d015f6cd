{#- One row per client per period per weight profile: weighted contributions, composite score,
    the tier its band gives (band_tier_code), the guardrail that applies (guardrail_code), the
    best tier the guardrail allows (guardrail_cap_tier_code) and the tier after guardrails
    (tier_code). Guardrails (seed tiering_parameters): registry 吊销/注销 → D; in default (a 违约
    within live_default_months, or past due at least past_due_default_days) → D; credit score
    below credit_floor_score or PD at or above pd_ceiling → at best C, however large the
    composite. guardrail_code names the most
    severe guardrail that applies ('none' if none); is_guardrail_binding says it changed the
    band's tier. The stabilisation of tiers over time (issue #5) reads this model. -#}
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

banded as (
    select
        weighted.*,
        policy.tier_rank as band_tier_rank,
        policy.tier_code as band_tier_code,
        case
            when weighted.is_registry_revoked then 'registry_revoked'
            when weighted.has_live_default then 'live_default'
            when weighted.credit_score < {{ tiering_parameter('credit_floor_score') }}
                or weighted.pd_12m >= {{ tiering_parameter('pd_ceiling') }}
                then 'credit_floor'
            else 'none'
        end as guardrail_code
    from weighted
    inner join policy
        on weighted.composite_score >= policy.min_score
        and weighted.composite_score < policy.max_score
),

capped as (
    select
        banded.*,
        case
            when guardrail_code in ('registry_revoked', 'live_default')
                then (select max(tier_rank) from policy)
            when guardrail_code = 'credit_floor'
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
)

select * from tiered
