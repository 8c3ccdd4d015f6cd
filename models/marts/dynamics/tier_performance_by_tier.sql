{#- One row per period per weight profile per tier: the performing clients of the tier at the
    period, how many defaulted within the outcome window (monitoring_outcome_months, 12) and the
    realised default rate; whether the window is complete by the as-of date (if not, the rate
    counts only the months seen so far) and whether the rate is at least the better tier's
    (monotone so far). Defaults are the warehouse's own 违约 risk events. -#}
with

labelled as (select * from {{ ref('int_dynamics_outcomes_labelled') }}),

policy as (select * from {{ ref('tiering_tier_policy') }}),

by_tier as (
    select
        profile_code,
        tier_code,
        period_date,
        max(outcome_months_observed) as outcome_months_observed,
        count(*) as client_count,
        sum(default_flag) as default_count,
        max(case when is_outcome_window_complete then 1 else 0 end) = 1
            as is_outcome_window_complete
    from labelled
    group by profile_code, tier_code, period_date
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
