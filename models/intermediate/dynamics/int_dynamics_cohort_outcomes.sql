{#- One row per client per period of the monitoring cohort (int_dynamics_cohort_tiers: the
    performing obligors): whether the client defaulted (a 违约 risk event of the warehouse,
    int_tiering_default_events_listed - never the simulator's truth) in the
    monitoring_outcome_months after the period, as far as the as-of date lets us see. A default
    reaches the rows of the key identity has given the client since
    (int_dynamics_client_keys_mapped), so a merge does not lose it. The monitoring marts join it
    to the cohort's tier rows (one per weight profile) on client and period.

    Incremental by period, like tier_performance: a run rebuilds the periods newer than the
    table's, those at most monitoring_outcome_months before the as-of date and any stored with
    an open window; a period whose window closed keeps the outcome it closed with. Its rows are
    per client, not per weight profile: a monthly run rewrites the open windows' outcomes of
    each client once (at 1M clients 4.6M rows instead of 32M: docs/benchmarks.md). -#}
{{ config(
    tags=['after_risk_model'],
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
    pre_hook="{{ tests_scope_recorded(dynamics_outcome_periods(
        ref('int_dynamics_cohort_tiers'))) }}",
) }}

with

cohort_tiers as (select * from {{ ref('int_dynamics_cohort_tiers') }}),

periods_to_build as ({{ dynamics_outcome_periods(ref('int_dynamics_cohort_tiers')) }}),

defaults as (select * from {{ ref('int_tiering_default_events_listed') }}),

keys as (select * from {{ ref('int_dynamics_client_keys_mapped') }}),

client_periods as (
    select distinct
        cohort_tiers.client_key,
        cohort_tiers.period_date
    from cohort_tiers
    inner join periods_to_build
        on cohort_tiers.period_date = periods_to_build.period_date
),

cohort as (
    select
        client_periods.client_key,
        coalesce(keys.current_client_key, client_periods.client_key) as current_client_key,
        client_periods.period_date
    from client_periods
    left join keys
        on client_periods.client_key = keys.client_key
),

defaulted as (
    select distinct
        cohort.client_key,
        cohort.period_date
    from cohort
    inner join defaults
        on cohort.current_client_key = defaults.client_key
        and defaults.event_date > cohort.period_date
        and {{ dbt.datediff('cohort.period_date', 'defaults.event_date', 'month') }}
            <= {{ dynamics_parameter('monitoring_outcome_months') }}
),

outcomes as (
    select
        cohort.client_key,
        least(
            {{ dbt.datediff('cohort.period_date', run_as_of_date_literal(), 'month') }},
            {{ dynamics_parameter('monitoring_outcome_months') }}
        ) as outcome_months_observed,
        case when defaulted.client_key is not null then 1 else 0 end as default_flag,
        {{ dbt.datediff('cohort.period_date', run_as_of_date_literal(), 'month') }}
            >= {{ dynamics_parameter('monitoring_outcome_months') }}
            as is_outcome_window_complete,
        cohort.period_date
    from cohort
    left join defaulted
        on cohort.client_key = defaulted.client_key
        and cohort.period_date = defaulted.period_date
)

select * from outcomes
