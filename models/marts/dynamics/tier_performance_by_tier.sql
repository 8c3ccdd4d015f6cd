{#- One row per period per weight profile per tier: the performing clients of the tier at the
    period, how many defaulted within the outcome window (monitoring_outcome_months, 12) and the
    realised default rate; whether the window is complete by the as-of date (if not, the rate
    counts only the months seen so far) and whether the rate is at least the better tier's
    (monotone so far). Defaults are the warehouse's own 违约 risk events.

    Incremental by period like int_dynamics_cohort_outcomes, whose periods it rebuilds: the new
    ones, those whose outcome window is open and any stored with an open window; a period whose
    window closed keeps the figures it closed with. -#}
-- depends_on: {{ ref('tiering_dynamics_parameters') }} (the open periods, on incremental runs)
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
    pre_hook="{{ tests_scope_recorded(dynamics_outcome_periods(
        ref('int_dynamics_cohort_tiers'))) }}",
) }}

with

periods_to_build as ({{ dynamics_outcome_periods(ref('int_dynamics_cohort_tiers')) }}),

cohort_tiers as (
    select cohort_tiers.*
    from {{ ref('int_dynamics_cohort_tiers') }} as cohort_tiers
    inner join periods_to_build
        on cohort_tiers.period_date = periods_to_build.period_date
),

outcomes as (select * from {{ ref('int_dynamics_cohort_outcomes') }}),

{#- The defaulters (a few percent of the outcome rows) meet the tier rows, rather than every
    outcome: every tier row of the cohort has its client's outcome row (the outcomes are the
    cohort's clients), so the tier rows without a defaulter are its non-defaulters. Joining
    every outcome let DuckDB group the 57M tier rows of a first build by client before the join
    (16.6 s of a first build at 1M against 2.2; docs/benchmarks.md). -#}
defaulters as (
    select client_key, period_date from outcomes where default_flag = 1
),

{#- The outcome window of each period (the same for every client of the period). -#}
windows as (
    select
        period_date,
        max(outcome_months_observed) as outcome_months_observed,
        max(case when is_outcome_window_complete then 1 else 0 end) = 1
            as is_outcome_window_complete
    from outcomes
    group by period_date
),

policy as (select * from {{ ref('tiering_tier_policy') }}),

tier_counts as (
    select
        cohort_tiers.profile_code,
        cohort_tiers.tier_code,
        cohort_tiers.period_date,
        count(*) as client_count,
        sum(case when defaulters.client_key is not null then 1 else 0 end) as default_count
    from cohort_tiers
    left join defaulters
        on cohort_tiers.client_key = defaulters.client_key
        and cohort_tiers.period_date = defaulters.period_date
    group by cohort_tiers.profile_code, cohort_tiers.tier_code, cohort_tiers.period_date
),

by_tier as (
    select
        tier_counts.profile_code,
        tier_counts.tier_code,
        tier_counts.period_date,
        windows.outcome_months_observed,
        tier_counts.client_count,
        tier_counts.default_count,
        windows.is_outcome_window_complete
    from tier_counts
    inner join windows
        on tier_counts.period_date = windows.period_date
),

rates as (
    select
        by_tier.*,
        policy.tier_rank,
        {{ tiering_ratio('by_tier.default_count', 'by_tier.client_count') }} as default_rate
    from by_tier
    inner join policy
        on by_tier.tier_code = policy.tier_code
),

rates_ordered as (
    select
        *,
        lag(default_rate) over (
            partition by profile_code, period_date order by tier_rank
        ) as better_tier_default_rate
    from rates
),

performance_by_tier as (
    select
        profile_code,
        tier_code,
        tier_rank,
        outcome_months_observed,
        client_count,
        default_count,
        default_rate,
        better_tier_default_rate,
        is_outcome_window_complete,
        better_tier_default_rate is null or default_rate >= better_tier_default_rate
            as is_monotone_with_better_tier,
        period_date
    from rates_ordered
)

select * from performance_by_tier
