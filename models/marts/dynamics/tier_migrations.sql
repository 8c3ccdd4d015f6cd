{#- One row per weight profile, horizon (1 = consecutive periods, 12 = twelve periods apart),
    period (the later one) and from-tier × to-tier: how many clients of the from-tier at the
    earlier period hold the to-tier at the later one, and the share of the from-tier they are.
    The matrix is complete: every from-tier × to-tier cell of every period pair (zero counts
    included), plus to-tier `NR` (no tier at the later period: the client key left the
    history, e.g. identity merged it), so every row of the matrix sums to the from-tier count.
    Tiers are the published tier_code (override, stability rule, guardrails). -#}

with

tiers as (
    select * from {{ ref('client_tiers') }}
    where period_date <= {{ dynamics_as_of() }}
),

policy as (select * from {{ ref('tiering_tier_policy') }}),

horizons as (
    select 1 as horizon_months
    union all
    select 12 as horizon_months
),

periods as (
    select
        period_date,
        dense_rank() over (order by period_date) as period_index
    from (select distinct period_date from tiers) as built
),

period_pairs as (
    select
        horizons.horizon_months,
        earlier.period_date as from_period_date,
        later.period_date
    from periods as later
    cross join horizons
    inner join periods as earlier
        on earlier.period_index = later.period_index - horizons.horizon_months
    {# a pair of month ends the horizon apart, not only of indices #}
    where {{ dbt.datediff('earlier.period_date', 'later.period_date', 'month') }}
        = horizons.horizon_months
),

profiles as (select distinct profile_code from tiers),

to_tiers as (
    select tier_code, tier_rank from policy
    union all
    select 'NR' as tier_code, (select max(tier_rank) from policy) + 1 as tier_rank
),

cells as (
    select
        profiles.profile_code,
        period_pairs.horizon_months,
        period_pairs.from_period_date,
        period_pairs.period_date,
        from_tiers.tier_code as from_tier_code,
        from_tiers.tier_rank as from_tier_rank,
        to_tiers.tier_code as to_tier_code,
        to_tiers.tier_rank as to_tier_rank
    from period_pairs
    cross join profiles
    cross join policy as from_tiers
    cross join to_tiers
),

moves as (
    select
        earlier.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        earlier.tier_code as from_tier_code,
        coalesce(later.tier_code, 'NR') as to_tier_code,
        count(*) as client_count
    from period_pairs
    inner join tiers as earlier
        on earlier.period_date = period_pairs.from_period_date
    left join tiers as later
        on later.period_date = period_pairs.period_date
        and later.client_key = earlier.client_key
        and later.profile_code = earlier.profile_code
    group by
        earlier.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        earlier.tier_code,
        coalesce(later.tier_code, 'NR')
),

cells_counted as (
    select
        cells.*,
        coalesce(moves.client_count, 0) as client_count
    from cells
    left join moves
        on cells.profile_code = moves.profile_code
        and cells.horizon_months = moves.horizon_months
        and cells.period_date = moves.period_date
        and cells.from_tier_code = moves.from_tier_code
        and cells.to_tier_code = moves.to_tier_code
),

migrations as (
    select
        profile_code,
        from_tier_code,
        to_tier_code,
        horizon_months,
        client_count,
        sum(client_count) over (
            partition by profile_code, horizon_months, period_date, from_tier_code
        ) as from_tier_client_count,
        {{ tiering_ratio('client_count', 'sum(client_count) over (partition by profile_code, '
            ~ 'horizon_months, period_date, from_tier_code)') }} as migration_rate,
        (to_tier_code = from_tier_code) as is_same_tier,
        (to_tier_code <> 'NR' and to_tier_rank < from_tier_rank) as is_upgrade,
        (to_tier_code <> 'NR' and to_tier_rank > from_tier_rank) as is_downgrade,
        from_period_date,
        period_date
    from cells_counted
)

select * from migrations
