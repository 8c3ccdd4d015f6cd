{#- One row per client per period per weight profile of the tier history, for the cohort whose
    defaults the monitoring counts: the performing obligors, clients with a credit relationship
    at the period (a credit profile delivered by the risk department - risk events, defaults
    included, reach a client only through its credit profile, so a client without one cannot
    show a default) and not already in a live default (that would not be a new default). Their
    tier, composite and credit score at the period. Reads client_tiers, so it runs after the
    risk model (tag after_risk_model).

    Incremental by period like client_tiers, whose periods it copies: a run builds the periods
    newer than the table's newest and the as-of period. A period of client_tiers does not change
    once built (a rebuilt month equals its first build), so neither does its cohort: a monthly
    run writes one period here, and the outcomes that do move every month (the defaults of the
    open windows) are kept per client and period in int_dynamics_cohort_outcomes, not once per
    weight profile (docs/dynamics.md, "Monitoring"). -#}
{{ config(
    tags=['after_risk_model'],
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
    pre_hook="{{ tests_scope_recorded(tiering_periods_written(ref('client_tiers'))) }}",
) }}

{#- The periods to build as date literals, read when the model runs (after client_tiers has
    been built): literals let the scans skip the other periods' row groups (partitions on
    Spark), where the rule as a subquery read all 150M tier rows at 1M clients
    (docs/benchmarks.md). A first build takes every period up to the as-of date. -#}
{%- set period_filter = 'period_date <= ' ~ run_as_of_date_literal() %}
{%- if execute and is_incremental() %}
    {%- set written = run_query(tiering_periods_written(ref('client_tiers'))).columns[0].values() %}
    {%- set literals = [] %}
    {%- for period in written %}
        {%- do literals.append("cast('" ~ (period | string)[:10] ~ "' as date)") %}
    {%- endfor %}
    {%- set period_filter = 'period_date in (' ~ (literals | join(', ') or 'null') ~ ')' %}
{%- endif %}

with

tiers as (
    select * from {{ ref('client_tiers') }}
    where {{ period_filter }}
),

features as (
    select * from {{ ref('int_tiering_client_features_built') }}
    where {{ period_filter }}
),

cohort as (
    select
        tiers.client_key,
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
    where features.has_credit_profile
        and tiers.guardrail_code <> 'live_default'
)

select * from cohort
