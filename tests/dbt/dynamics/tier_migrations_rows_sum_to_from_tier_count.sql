{#- Every row of every migration matrix sums to the number of clients the from-tier had at the
    earlier period in client_tiers (counted independently). -#}
with

migrations as (select * from {{ ref('tier_migrations') }}),

tiers as (select * from {{ ref('client_tiers') }}),

row_sums as (
    select
        profile_code,
        horizon_months,
        from_period_date,
        from_tier_code,
        sum(client_count) as row_sum,
        max(from_tier_client_count) as from_tier_client_count
    from migrations
    group by profile_code, horizon_months, from_period_date, from_tier_code
),

from_counts as (
    select profile_code, period_date, tier_code, count(*) as client_count
    from tiers
    group by profile_code, period_date, tier_code
)

select row_sums.*, from_counts.client_count
from row_sums
left join from_counts
    on row_sums.profile_code = from_counts.profile_code
    and row_sums.from_period_date = from_counts.period_date
    and row_sums.from_tier_code = from_counts.tier_code
where row_sums.row_sum <> coalesce(from_counts.client_count, 0)
    or row_sums.from_tier_client_count <> row_sums.row_sum
