{#- One row per client per period per weight profile of the tier history, for the monitoring:
    the tier and scores at the period and whether the client defaulted (a 违约 risk event of the
    warehouse, int_tiering_default_events_listed - never the simulator's truth) in the
    monitoring_outcome_months after it, as far as the as-of date lets us see. The cohort is the
    performing obligors: clients with a credit relationship at the period (a credit profile
    delivered by the risk department - risk events, defaults included, reach a client only
    through its credit profile, so a client without one cannot show a default) and not already
    in a live default (that would not be a new default). A default reaches the rows of the key
    identity has given the client since (int_dynamics_client_keys_mapped), so a merge does not
    lose it. Reads client_tiers, so it runs after the risk model (tag after_risk_model).

    Incremental by period, like tier_performance: a run rebuilds the periods newer than the
    table's, those at most monitoring_outcome_months before the as-of date and any stored with
    an open window; a period whose window closed keeps the outcome it closed with. -#}
{{ config(
    tags=['after_risk_model'],
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
    pre_hook="{{ tests_scope_recorded(dynamics_outcome_periods(ref('client_tiers'))) }}",
) }}

with

{# Read twice (the periods, the cohort): inlined, so DuckDB does not keep all of client_tiers. #}
tiers as {{ inline_cte() }} (select * from {{ ref('client_tiers') }}),

periods_to_build as ({{ dynamics_outcome_periods('tiers') }}),

defaults as (select * from {{ ref('int_tiering_default_events_listed') }}),

keys as (select * from {{ ref('int_dynamics_client_keys_mapped') }}),

features as (select * from {{ ref('int_tiering_client_features_built') }}),

cohort as (
    select
        tiers.client_key,
        coalesce(keys.current_client_key, tiers.client_key) as current_client_key,
        tiers.profile_code,
        tiers.tier_code,
        tiers.tier_rank,
        tiers.composite_score,
        tiers.credit_score,
        tiers.period_date
    from tiers
    inner join features
        on tiers.client_key = features.client_key
        and tiers.period_date = features.period_date
    left join keys
        on tiers.client_key = keys.client_key
    inner join periods_to_build
        on tiers.period_date = periods_to_build.period_date
    where features.has_credit_profile
        and tiers.guardrail_code <> 'live_default'
),

client_periods as (
    select distinct client_key, current_client_key, period_date from cohort
),

defaulted as (
    select distinct
        client_periods.client_key,
        client_periods.period_date
    from client_periods
    inner join defaults
        on client_periods.current_client_key = defaults.client_key
        and defaults.event_date > client_periods.period_date
        and {{ dbt.datediff('client_periods.period_date', 'defaults.event_date', 'month') }}
            <= {{ dynamics_parameter('monitoring_outcome_months') }}
),

labelled as (
    select
        cohort.client_key,
        cohort.profile_code,
        cohort.tier_code,
        cohort.tier_rank,
        cohort.composite_score,
        cohort.credit_score,
        least(
            {{ dbt.datediff('cohort.period_date', dynamics_as_of(), 'month') }},
            {{ dynamics_parameter('monitoring_outcome_months') }}
        ) as outcome_months_observed,
        case when defaulted.client_key is not null then 1 else 0 end as default_flag,
        {{ dbt.datediff('cohort.period_date', dynamics_as_of(), 'month') }}
            >= {{ dynamics_parameter('monitoring_outcome_months') }}
            as is_outcome_window_complete,
        cohort.period_date
    from cohort
    left join defaulted
        on cohort.client_key = defaulted.client_key
        and cohort.period_date = defaulted.period_date
)

select * from labelled
