{#- One row per client of the latest period (default profile) whose credit limit or
    outstanding balance exceeds the credit cap of its tier (seed tiering_tier_policy), with the
    excess in 元 (the larger of the two overshoots). -#}
with

current_tiers as (select * from {{ ref('client_tiers_current') }}),

dimension_scores as (select * from {{ ref('int_tiering_dimensions_scored') }}),

exposures as (
    select
        current_tiers.client_key,
        current_tiers.period_date,
        current_tiers.tier_code,
        current_tiers.tier_name,
        current_tiers.guardrail_code,
        current_tiers.registered_name,
        current_tiers.account_manager,
        current_tiers.credit_cap_amount,
        dimension_scores.credit_limit_amount,
        dimension_scores.outstanding_balance_amount,
        greatest(
            coalesce(dimension_scores.credit_limit_amount, 0) - current_tiers.credit_cap_amount,
            coalesce(dimension_scores.outstanding_balance_amount, 0)
                - current_tiers.credit_cap_amount,
            0
        ) as excess_amount
    from current_tiers
    inner join dimension_scores
        on current_tiers.client_key = dimension_scores.client_key
        and current_tiers.period_date = dimension_scores.period_date
),

alerts as (
    select
        client_key,
        period_date,
        tier_code,
        tier_name,
        guardrail_code,
        registered_name,
        account_manager,
        case
            when coalesce(outstanding_balance_amount, 0) > credit_cap_amount
                then 'outstanding_over_cap'
            else 'limit_over_cap'
        end as alert_type,
        credit_cap_amount,
        credit_limit_amount,
        outstanding_balance_amount,
        excess_amount
    from exposures
    where excess_amount > 0
)

select * from alerts
