{#- One row per client per period per weight profile: the tier history. Incremental by period
    (delete+insert of the periods built: the as-of period, or every period on a full refresh),
    so building one month touches only that month and a rebuilt month equals its first build. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    partition_by=['period_date'],
    unique_key='period_date',
    on_schema_change='append_new_columns',
) }}

{%- set dimensions = ['value', 'credit', 'risk_tolerance', 'influence', 'potential', 'loyalty'] %}

with

composites as (
    select * from {{ ref('int_tiering_composites_weighted') }}
    where {{ tiering_is_period_to_build(ref('int_tiering_dimensions_scored')) }}
),

reasons as (
    select * from {{ ref('int_tiering_reasons_ranked') }}
    where {{ tiering_is_period_to_build(ref('int_tiering_dimensions_scored')) }}
),

reasons_pivoted as (
    select
        client_key,
        period_date,
        profile_code,
        {%- for rank in [1, 2, 3] %}
        max(case when reason_rank = {{ rank }} then reason_code end) as reason_code_{{ rank }},
        max(case when reason_rank = {{ rank }} then reason_label end) as reason_label_{{ rank }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from reasons
    group by client_key, period_date, profile_code
),

tiers as (
    select
        composites.client_key,
        composites.period_date,
        composites.profile_code,
        composites.tier_code,
        composites.tier_name,
        composites.guardrail_code,
        {%- for rank in [1, 2, 3] %}
        reasons_pivoted.reason_code_{{ rank }},
        reasons_pivoted.reason_label_{{ rank }},
        {%- endfor %}
        composites.model_version,
        composites.composite_score,
        {%- for dimension in dimensions %}
        composites.{{ dimension }}_score,
        {%- endfor %}
        {%- for dimension in dimensions %}
        composites.{{ dimension }}_contribution,
        {%- endfor %}
        {%- for dimension in dimensions %}
        composites.{{ dimension }}_coverage,
        {%- endfor %}
        composites.pd_12m,
        composites.is_guardrail_binding,
        false as is_override
    from composites
    left join reasons_pivoted
        on composites.client_key = reasons_pivoted.client_key
        and composites.period_date = reasons_pivoted.period_date
        and composites.profile_code = reasons_pivoted.profile_code
)

select * from tiers
