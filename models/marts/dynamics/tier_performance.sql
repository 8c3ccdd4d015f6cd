{#- One row per period per weight profile: how well the tiers and scores separate defaulters
    from the others, and how stable they are (docs/dynamics.md).
      realised default rate  of the performing obligors (credit profile at the period, no live
                             default) in the monitoring_outcome_months (12) after the period
                             (warehouse 违约 events); by tier in
                             tier_performance_by_tier; is_default_rate_monotone: S ≤ A ≤ … ≤ D
      AUC, Gini, KS          of the composite and of the credit score against that outcome
                             (higher score = fewer defaults; AUC = the Mann-Whitney U
                             over the distinct scores, ties counted half; Gini = 2·AUC − 1;
                             KS = max gap of the two score CDFs)
      PSI                    of the composite's distribution (monitoring_psi_bins equal-width
                             bins on 0-100) against the previous period; band stable (< 0.10),
                             monitor (< 0.25) or significant (monitoring_psi_* parameters)
      override rate          share of tier rows set by an override
      tier change rates      share of clients whose tier differs from their previous period's,
                             published tier and without the stability rule
    A period whose outcome window has not closed by the as-of date says so
    (is_outcome_window_complete = false, outcome_months_observed < 12): its default figures
    count only the months seen so far and will still move.

    Incremental by period: a run rebuilds the periods newer than the table's newest, the periods
    at most monitoring_outcome_months before the as-of date (so the run in which a window
    closes computes it complete) and any period stored with an open window (after a past month
    was re-run); a period whose window closed keeps the figures it closed with. Of the periods
    it rebuilds, a run computes the tier activity (client count, PSI, override and tier change
    rates) only for those client_tiers builds in the same run (the as-of period and any period
    not stored yet): the activity of a period reads the tiers of that period and the one
    before, which client_tiers leaves as they are for every other period (a rebuilt month
    equals its first build), so the others keep their stored activity. A monthly run thus
    reads two periods of tiers instead of thirteen (docs/benchmarks.md). -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
) }}

with

all_tiers as {{ inline_cte() }} (select * from {{ ref('client_tiers') }}
          where period_date <= {{ run_as_of_date_literal() }}),

by_tier as (select * from {{ ref('tier_performance_by_tier') }}),

periods as (
    select
        period_date,
        dense_rank() over (order by period_date) as period_index
    from (select distinct period_date from all_tiers) as built
),

periods_to_build as (
    select * from periods
    where {{ dynamics_outcome_periods_to_build() }}
),

{#- The periods whose tier activity this run computes (see above); the other periods to build
    keep the activity stored with them. -#}
activity_periods as (
    select * from periods_to_build
    {%- if is_incremental() %}
    where period_date = (select max(period_date) from periods)
        or period_date not in (
            select period_date from {{ this }} where period_date is not null
        )
    {%- endif %}
),

{#- The tiers of those periods and of the period before each (the PSI and the tier changes
    compare a period with the one before), narrowed to the columns the activity reads. -#}
tiers as {{ inline_cte() }} (
    select
        all_tiers.client_key,
        all_tiers.profile_code,
        all_tiers.period_date,
        all_tiers.composite_score,
        all_tiers.tier_code,
        all_tiers.previous_tier_code,
        all_tiers.unstabilised_tier_code,
        all_tiers.previous_unstabilised_tier_code,
        all_tiers.is_override
    from all_tiers
    inner join periods
        on all_tiers.period_date = periods.period_date
    where periods.period_index in (
        select period_index from activity_periods
        union all
        select period_index - 1 as period_index from activity_periods
    )
),

{#- The cohort's tier rows (one per weight profile) with their client's outcome: the defaulters
    (few) meet the tier rows, as in tier_performance_by_tier, whose comment says why. -#}
defaulters as (
    select client_key, period_date
    from {{ ref('int_dynamics_cohort_outcomes') }}
    where default_flag = 1
),

labelled as {{ inline_cte() }} (
    select
        cohort_tiers.profile_code,
        cohort_tiers.period_date,
        cohort_tiers.composite_score,
        cohort_tiers.credit_score,
        case when defaulters.client_key is not null then 1 else 0 end as default_flag
    from {{ ref('int_dynamics_cohort_tiers') }} as cohort_tiers
    inner join periods_to_build
        on cohort_tiers.period_date = periods_to_build.period_date
    left join defaulters
        on cohort_tiers.client_key = defaulters.client_key
        and cohort_tiers.period_date = defaulters.period_date
),

{#- Discrimination: composite and credit score against the realised outcome. -#}
scores as (
    select profile_code, period_date, 'composite' as score_name,
        composite_score as score, default_flag
    from labelled
    union all
    select profile_code, period_date, 'credit' as score_name,
        credit_score as score, default_flag
    from labelled
    where credit_score is not null
),

{#- One row per distinct score (scores are rounded to 0.01, so a period has a few thousand
    distinct scores, not one per client): its defaulters and non-defaulters, and the defaulters
    scoring below it. -#}
score_distribution as (
    select
        profile_code,
        period_date,
        score_name,
        score,
        sum(default_flag) as bad_count,
        count(*) - sum(default_flag) as good_count
    from scores
    group by profile_code, period_date, score_name, score
),

score_distribution_cumulated as (
    select
        *,
        coalesce(sum(bad_count) over (
            partition by profile_code, period_date, score_name
            order by score
            rows between unbounded preceding and 1 preceding
        ), 0) as bad_count_below
    from score_distribution
),

{#- AUC = P(a non-defaulter scores above a defaulter) + ½ P(tie): the Mann-Whitney U of the
    non-defaulters (the rank-sum formula with ties averaged) from the distinct scores. -#}
aucs as (
    select
        profile_code,
        period_date,
        score_name,
        sum(bad_count) as bad_count,
        sum(good_count) as good_count,
        case when sum(bad_count) > 0 and sum(good_count) > 0 then
            sum(good_count * (bad_count_below + bad_count / 2.0))
            / (1.0 * sum(good_count) * sum(bad_count))
        end as auc
    from score_distribution_cumulated
    group by profile_code, period_date, score_name
),

score_cdfs as (
    select
        score_distribution.profile_code,
        score_distribution.period_date,
        score_distribution.score_name,
        abs(
            {{ tiering_ratio('sum(score_distribution.bad_count) over (partition by '
                ~ 'score_distribution.profile_code, score_distribution.period_date, '
                ~ 'score_distribution.score_name order by score_distribution.score '
                ~ 'rows between unbounded preceding and current row)', 'aucs.bad_count') }}
            - {{ tiering_ratio('sum(score_distribution.good_count) over (partition by '
                ~ 'score_distribution.profile_code, score_distribution.period_date, '
                ~ 'score_distribution.score_name order by score_distribution.score '
                ~ 'rows between unbounded preceding and current row)', 'aucs.good_count') }}
        ) as cdf_gap
    from score_distribution
    inner join aucs
        on score_distribution.profile_code = aucs.profile_code
        and score_distribution.period_date = aucs.period_date
        and score_distribution.score_name = aucs.score_name
),

ks_statistics as (
    select profile_code, period_date, score_name, max(cdf_gap) as ks
    from score_cdfs
    group by profile_code, period_date, score_name
),

discrimination as (
    select
        aucs.profile_code,
        aucs.period_date,
        max(case when aucs.score_name = 'composite' then aucs.auc end) as auc_composite,
        max(case when aucs.score_name = 'composite' then ks_statistics.ks end) as ks_composite,
        max(case when aucs.score_name = 'credit' then aucs.auc end) as auc_credit,
        max(case when aucs.score_name = 'credit' then ks_statistics.ks end) as ks_credit,
        max(case when aucs.score_name = 'composite' then aucs.bad_count end) as default_count,
        max(case when aucs.score_name = 'composite' then aucs.bad_count + aucs.good_count end)
            as cohort_client_count
    from aucs
    inner join ks_statistics
        on aucs.profile_code = ks_statistics.profile_code
        and aucs.period_date = ks_statistics.period_date
        and aucs.score_name = ks_statistics.score_name
    group by aucs.profile_code, aucs.period_date
),

monotonicity as (
    select
        profile_code,
        period_date,
        max(outcome_months_observed) as outcome_months_observed,
        min(case when is_monotone_with_better_tier then 1 else 0 end) = 1
            as is_default_rate_monotone
    from by_tier
    group by profile_code, period_date
),

{#- Stability of the distribution: PSI of the composite against the previous period. -#}
bin_counts as (
    select
        tiers.profile_code,
        periods.period_index,
        least(
            floor(tiers.composite_score * {{ dynamics_parameter('monitoring_psi_bins') }} / 100.0),
            {{ dynamics_parameter('monitoring_psi_bins') }} - 1
        ) as score_bin,
        count(*) as bin_count
    from tiers
    inner join periods
        on tiers.period_date = periods.period_date
    group by
        tiers.profile_code,
        periods.period_index,
        least(
            floor(tiers.composite_score * {{ dynamics_parameter('monitoring_psi_bins') }} / 100.0),
            {{ dynamics_parameter('monitoring_psi_bins') }} - 1
        )
),

{#- A bin's share of its period: the period's total is a window over the few bins, not over
    the tier rows. -#}
bin_shares as (
    select
        profile_code,
        period_index,
        score_bin,
        bin_count * 1.0 / sum(bin_count) over (partition by profile_code, period_index) as share
    from bin_counts
),

bins_compared as (
    select profile_code, period_index, score_bin from bin_shares
    union
    select profile_code, period_index + 1 as period_index, score_bin from bin_shares
),

psi_terms as (
    select
        bins_compared.profile_code,
        bins_compared.period_index,
        {#- an empty bin counts as a share of 0.0001 so that the logarithm stays finite -#}
        greatest(coalesce(current_shares.share, 0), 0.0001) as actual_share,
        greatest(coalesce(previous_shares.share, 0), 0.0001) as expected_share
    from bins_compared
    left join bin_shares as current_shares
        on bins_compared.profile_code = current_shares.profile_code
        and bins_compared.period_index = current_shares.period_index
        and bins_compared.score_bin = current_shares.score_bin
    left join bin_shares as previous_shares
        on bins_compared.profile_code = previous_shares.profile_code
        and bins_compared.period_index - 1 = previous_shares.period_index
        and bins_compared.score_bin = previous_shares.score_bin
),

psi as (
    select
        psi_terms.profile_code,
        periods.period_date,
        sum((actual_share - expected_share) * ln(actual_share / expected_share))
            as psi_composite
    from psi_terms
    inner join periods
        on psi_terms.period_index = periods.period_index
    where psi_terms.period_index > 1
    group by psi_terms.profile_code, periods.period_date
),

{#- Overrides and tier changes: each tier row records its client's tiers of the period before
    (previous_tier_code, previous_unstabilised_tier_code: NULL at its first period or after a
    gap), so the rates need no window over every client's periods (at 1M clients that window
    was most of a first build: docs/benchmarks.md). -#}
tier_activity as (
    select
        profile_code,
        period_date,
        count(*) as client_count,
        sum(case when is_override then 1 else 0 end) as override_count,
        {{ tiering_ratio('sum(case when is_override then 1 else 0 end)', 'count(*)') }}
            as override_rate,
        {{ tiering_ratio(
            'sum(case when previous_tier_code is not null and tier_code <> previous_tier_code '
            ~ 'then 1 else 0 end)',
            'sum(case when previous_tier_code is not null then 1 else 0 end)') }}
            as tier_change_rate,
        {{ tiering_ratio(
            'sum(case when previous_unstabilised_tier_code is not null and '
            ~ 'unstabilised_tier_code <> previous_unstabilised_tier_code then 1 else 0 end)',
            'sum(case when previous_unstabilised_tier_code is not null then 1 else 0 end)') }}
            as unstabilised_tier_change_rate
    from tiers
    group by profile_code, period_date
),

{#- The activity of the periods computed by this run, and the stored activity of the others. -#}
activity as (
    select
        tier_activity.profile_code,
        tier_activity.period_date,
        tier_activity.client_count,
        tier_activity.override_count,
        tier_activity.override_rate,
        tier_activity.tier_change_rate,
        tier_activity.unstabilised_tier_change_rate,
        psi.psi_composite
    from tier_activity
    inner join activity_periods
        on tier_activity.period_date = activity_periods.period_date
    left join psi
        on tier_activity.profile_code = psi.profile_code
        and tier_activity.period_date = psi.period_date
    {%- if is_incremental() %}
    union all
    select
        stored.profile_code,
        stored.period_date,
        stored.client_count,
        stored.override_count,
        stored.override_rate,
        stored.tier_change_rate,
        stored.unstabilised_tier_change_rate,
        stored.psi_composite
    from {{ this }} as stored
    inner join periods_to_build
        on stored.period_date = periods_to_build.period_date
    where stored.period_date not in (select period_date from activity_periods)
    {%- endif %}
),

performance as (
    select
        activity.profile_code,
        case
            when activity.psi_composite is null then null
            when activity.psi_composite < {{ dynamics_parameter('monitoring_psi_monitor') }}
                then 'stable'
            when activity.psi_composite < {{ dynamics_parameter('monitoring_psi_significant') }}
                then 'monitor'
            else 'significant'
        end as psi_band,
        activity.client_count,
        discrimination.cohort_client_count,
        discrimination.default_count,
        monotonicity.outcome_months_observed,
        {{ tiering_ratio('discrimination.default_count', 'discrimination.cohort_client_count') }}
            as default_rate,
        discrimination.auc_composite,
        2 * discrimination.auc_composite - 1 as gini_composite,
        discrimination.ks_composite,
        discrimination.auc_credit,
        2 * discrimination.auc_credit - 1 as gini_credit,
        discrimination.ks_credit,
        activity.psi_composite,
        activity.override_count,
        activity.override_rate,
        activity.tier_change_rate,
        activity.unstabilised_tier_change_rate,
        coalesce(monotonicity.outcome_months_observed, 0)
            >= {{ dynamics_parameter('monitoring_outcome_months') }}
            as is_outcome_window_complete,
        case when coalesce(monotonicity.outcome_months_observed, 0) > 0
            then monotonicity.is_default_rate_monotone end as is_default_rate_monotone,
        activity.period_date
    from activity
    left join discrimination
        on activity.profile_code = discrimination.profile_code
        and activity.period_date = discrimination.period_date
    left join monotonicity
        on activity.profile_code = monotonicity.profile_code
        and activity.period_date = monotonicity.period_date
)

select performance.*
from performance
inner join periods_to_build
    on performance.period_date = periods_to_build.period_date
