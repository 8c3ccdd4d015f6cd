{#- One row per weight profile, horizon (1 = consecutive periods, 12 = twelve periods apart),
    period (the later one) and from-tier × to-tier: how many clients of the from-tier at the
    earlier period hold the to-tier at the later one, and the share of the from-tier they are.
    The matrix is complete: every from-tier × to-tier cell of every period pair (zero counts
    included), plus to-tier `NR` (no tier at the later period: the client key left the
    history, e.g. identity merged it), so every row of the matrix sums to the from-tier count.
    Tiers are the published tier_code (override, stability rule, guardrails).

    Consecutive periods (horizon 1) are counted from the later period's rows alone: each
    client_tiers row records the tier its client held the period before (previous_tier_code,
    NULL when it held none), so a move is a group by of the later rows, and the clients of a
    from-tier that left (NR) are its count at the earlier period less those that moved. Only
    the twelve-month horizon joins the two periods' rows by client: at 1M clients the join of
    every consecutive pair took half of the first build (docs/benchmarks.md).

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
    where period_date <= {{ run_as_of_date_literal() }}
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

{#- Only the tiers of the periods the pairs compare, and only the columns compared. Read four
    times, so inlined: DuckDB would otherwise keep it whole (a first build at 1M clients: 150M
    rows), where each read inlined scans only its own periods (21 s against 57 s for the first
    build at 1M, docs/benchmarks.md). -#}
tiers as {{ inline_cte() }} (
    select
        client_tiers.client_key,
        client_tiers.profile_code,
        client_tiers.period_date,
        client_tiers.tier_code,
        client_tiers.previous_tier_code
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

{#- Twelve months apart: the earlier period's clients joined to their rows of the later one. -#}
moves_joined as (
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
    where period_pairs.horizon_months <> 1
    group by
        earlier.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        earlier.tier_code,
        coalesce(later.tier_code, 'NR')
),

{#- Consecutive periods: the moves of the later rows from their previous tier, and per
    from-tier its earlier count less the clients that moved (NR). -#}
consecutive_counts as (
    select
        later.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        later.previous_tier_code as from_tier_code,
        later.tier_code as to_tier_code,
        count(*) as client_count
    from period_pairs
    inner join tiers as later
        on later.period_date = period_pairs.period_date
    where period_pairs.horizon_months = 1
        and later.previous_tier_code is not null
    group by
        later.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        later.previous_tier_code,
        later.tier_code
),

consecutive_from_counts as (
    select
        earlier.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        earlier.tier_code as from_tier_code,
        count(*) as client_count
    from period_pairs
    inner join tiers as earlier
        on earlier.period_date = period_pairs.from_period_date
    where period_pairs.horizon_months = 1
    group by
        earlier.profile_code,
        period_pairs.horizon_months,
        period_pairs.period_date,
        earlier.tier_code
),

consecutive_left as (
    select
        from_counts.profile_code,
        from_counts.horizon_months,
        from_counts.period_date,
        from_counts.from_tier_code,
        'NR' as to_tier_code,
        from_counts.client_count - coalesce(sum(moved.client_count), 0) as client_count
    from consecutive_from_counts as from_counts
    left join consecutive_counts as moved
        on from_counts.profile_code = moved.profile_code
        and from_counts.period_date = moved.period_date
        and from_counts.from_tier_code = moved.from_tier_code
    group by
        from_counts.profile_code,
        from_counts.horizon_months,
        from_counts.period_date,
        from_counts.from_tier_code,
        from_counts.client_count
),

moves as (
    select * from moves_joined
    union all
    select * from consecutive_counts
    union all
    select * from consecutive_left
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
