{#- One row per weight profile, horizon (1 = consecutive periods, 12 = twelve periods apart),
    period (the later one) and from-tier × to-tier: how many clients of the from-tier at the
    earlier period hold the to-tier at the later one, and the share of the from-tier they are.
    The matrix is complete: every from-tier × to-tier cell of every period pair (zero counts
    included), plus to-tier `NR` (no tier at the later period: the client key left the
    history, e.g. identity merged it), so every row of the matrix sums to the from-tier count.
    Tiers are the published tier_code (override, stability rule, guardrails).

    Incremental by period, like client_tiers: a run builds the later periods newer than the
    table's newest plus the as-of period (a period's matrices read only its own tiers and those
    of the periods one and twelve months before it, which a later month does not change), so a
    monthly refresh builds one period's matrices instead of every period's. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
) }}

with

tier_periods as (
    select distinct period_date
    from {{ ref('client_tiers') }}
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
    from tier_periods
),

periods_to_build as (
    select * from periods
    {%- if is_incremental() %}
    where period_date > (select max(period_date) from {{ this }})
        or period_date = (select max(period_date) from periods)
    {%- endif %}
),

period_pairs as (
    select
        horizons.horizon_months,
        earlier.period_date as from_period_date,
        later.period_date
    from periods_to_build as later
    cross join horizons
    inner join periods as earlier
        on earlier.period_index = later.period_index - horizons.horizon_months
    {# a pair of month ends the horizon apart, not only of indices #}
    where {{ dbt.datediff('earlier.period_date', 'later.period_date', 'month') }}
        = horizons.horizon_months
),

{#- Only the tiers of the periods the pairs compare, and only the columns compared: this CTE is
    read twice, so DuckDB keeps it whole (client_tiers.* of a first build at 1M clients: 150M
    rows of 46 columns). -#}
tiers as (
    select
        client_tiers.client_key,
        client_tiers.profile_code,
        client_tiers.period_date,
        client_tiers.tier_code
    from {{ ref('client_tiers') }} as client_tiers
    where client_tiers.period_date in (
        select period_date from period_pairs
        union
        select from_period_date as period_date from period_pairs
    )
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
