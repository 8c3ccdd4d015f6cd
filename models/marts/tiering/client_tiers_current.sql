{#- One row per client: the tier of the latest period under the default profile, with the
    client's name and the policy that goes with the tier (review frequency, credit cap,
    service strategy). -#}
with

tiers as {{ inline_cte() }} (select * from {{ ref('client_tiers') }}),

clients as (select * from {{ ref('dim_clients') }}),

policy as (select * from {{ ref('tiering_tier_policy') }}),

latest_period as (
    select max(period_date) as period_date
    from tiers
    where period_date <= {{ run_as_of_date_literal() }}
),

current_tiers as (
    select
        tiers.*,
        clients.registered_name,
        clients.account_manager,
        policy.review_frequency_months,
        policy.credit_cap_amount,
        policy.service_strategy
    from tiers
    inner join latest_period
        on tiers.period_date = latest_period.period_date
    inner join policy
        on tiers.tier_code = policy.tier_code
    left join clients
        on tiers.client_key = clients.client_key
    where tiers.profile_code = 'default'
)

select * from current_tiers
