{#- One row per period, weight profile and tier: how many clients hold the tier, their share of the
    profile's tiered clients and their mean composite score; every tier of the policy appears in
    every period and profile (zero counts included). The tier distribution BI reads by period,
    without grouping the tier history's rows (21M per profile at 1M clients × 24 periods: a
    group-by over them took 211-228 ms on the serving database, this table answers in under a
    millisecond; docs/benchmarks.md).

    Incremental by period, like client_tiers: a run builds the periods newer than the table's
    newest plus the as-of period. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
) }}

with

tiers as {{ inline_cte() }} (select * from {{ ref('client_tiers') }}),

policy as (select * from {{ ref('tiering_tier_policy') }}),

{#- A first build takes every period up to the as-of date; an incremental run the periods newer
    than the table's plus the as-of period (tiering_period_in_scope, as the tier history). -#}
periods_to_build as (
    select distinct period_date
    from tiers
    where period_date <= {{ run_as_of_date_literal() }}
        and {{ tiering_period_in_scope(ref('client_tiers')) }}
),

counted as (
    select
        tiers.period_date,
        tiers.profile_code,
        tiers.tier_code,
        count(*) as client_count,
        avg(tiers.composite_score) as mean_composite_score
    from tiers
    inner join periods_to_build
        on tiers.period_date = periods_to_build.period_date
    group by tiers.period_date, tiers.profile_code, tiers.tier_code
),

{#- Every tier of the policy in every period and profile built. -#}
cells as (
    select distinct
        counted.period_date,
        counted.profile_code,
        policy.tier_code,
        policy.tier_rank
    from counted
    cross join policy
),

distribution as (
    select
        cells.period_date,
        cells.profile_code,
        cells.tier_code,
        cells.tier_rank,
        coalesce(counted.client_count, 0) as client_count,
        {{ tiering_ratio('coalesce(counted.client_count, 0)',
            'sum(coalesce(counted.client_count, 0)) over (partition by cells.period_date, '
            ~ 'cells.profile_code)') }} as client_share,
        round(counted.mean_composite_score, 2) as mean_composite_score
    from cells
    left join counted
        on cells.period_date = counted.period_date
        and cells.profile_code = counted.profile_code
        and cells.tier_code = counted.tier_code
)

select * from distribution
