{#- One row per client per period per profile per reason (top three): the guardrail that
    applies comes first, then the dimensions that move the composite furthest from neutral
    (weight × |score - 50|), as DIMENSION_HIGH or DIMENSION_LOW, with the Chinese label. -#}
{{ config(materialized='view') }}

{%- set dimensions = ['value', 'credit', 'risk_tolerance', 'influence', 'potential', 'loyalty'] %}

with

composites as (select * from {{ ref('int_tiering_composites_weighted') }}),

reason_codes as (select * from {{ ref('tiering_reason_codes') }}),

candidates as (
    select
        client_key,
        period_date,
        profile_code,
        case guardrail_code
            when 'registry_revoked' then 'GR_REGISTRY_REVOKED'
            when 'live_default' then 'GR_LIVE_DEFAULT'
            when 'credit_floor' then 'GR_CREDIT_FLOOR'
        end as reason_code,
        1000.0 as reason_strength,
        0 as reason_order
    from composites
    where guardrail_code <> 'none'
    {%- for dimension in dimensions %}
    union all
    select
        client_key,
        period_date,
        profile_code,
        case when {{ dimension }}_score >= 50 then '{{ dimension | upper }}_HIGH'
            else '{{ dimension | upper }}_LOW' end as reason_code,
        {{ dimension }}_weight * abs({{ dimension }}_score - 50) as reason_strength,
        {{ loop.index }} as reason_order
    from composites
    {%- endfor %}
),

ranked as (
    select
        candidates.client_key,
        candidates.period_date,
        candidates.profile_code,
        candidates.reason_code,
        reason_codes.reason_label,
        candidates.reason_strength,
        row_number() over (
            partition by candidates.client_key, candidates.period_date, candidates.profile_code
            order by candidates.reason_strength desc, candidates.reason_order
        ) as reason_rank
    from candidates
    inner join reason_codes
        on candidates.reason_code = reason_codes.reason_code
)

select * from ranked
where reason_rank <= 3
