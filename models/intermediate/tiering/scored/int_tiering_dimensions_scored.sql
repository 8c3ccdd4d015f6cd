{#- One row per client per period: the six dimension scores (0-100, higher is better for the
    firm), their coverage (weighted share of the dimension's inputs present, 0-1), the 12-month
    PD and the guardrail inputs. Formulas: docs/tiering.md.

    Each component is in [0, 1]; a dimension is the weighted mean of its components (weights in
    seed tiering_dimension_components) x 100, and a missing component counts as the neutral 0.5
    (macro tiering_dimension_score): missing is never a silent zero, and a client with no input
    on a dimension scores exactly 50 with coverage 0. The firm's own ledgers (receipts, tickets,
    project participations) are complete, so "none" there is a known zero; descriptive snapshots
    (statements, credit profiles, registry, satisfaction) cover only some clients, so their
    absence is missing. Incremental by period. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    partition_by=['period_date'],
    unique_key='period_date',
    on_schema_change='append_new_columns',
    pre_hook="{{ tests_scope_recorded(tiering_periods_written(
        ref('int_tiering_client_features_built'))) }}",
    post_hook="{{ tiering_build_period_batches(ref('int_tiering_client_features_built')) }}",
) }}

with

features as (
    select * from {{ ref('int_tiering_client_features_built') }}
    where {{ tiering_is_period_to_build(ref('int_tiering_client_features_built')) }}
),

pd_scores as (select * from {{ source('ml', 'client_pd_scores') }}),

{#- PD: the risk model's score for the firm's obligors (a credit profile at the period); the
    rating's PD prior when the model has not scored the row or scored it by its cold start; the
    portfolio prior otherwise (pd_source says which). Only a model or rating PD enters the
    credit dimension. -#}
features_with_pd as {{ inline_cte() }} (
    select
        features.*,
        coalesce(
            pd_scores.pd_12m,
            features.rating_pd_prior,
            {{ tiering_parameter('unrated_pd_prior') }}
        ) as pd_12m,
        case
            when pd_scores.pd_12m is not null
                and pd_scores.model_version not like 'cold-start%' then 'model'
            when pd_scores.pd_12m is not null or features.rating_pd_prior is not null
                then 'rating_prior'
            else 'portfolio_prior'
        end as pd_source,
        pd_scores.model_version
    from features
    left join pd_scores
        on features.client_key = pd_scores.client_key
        and features.period_date = pd_scores.period_date
),

{#- The percentile components: each measure's percent rank among the period's clients that have
    it, computed on narrow rows (a window sorts every column it is given). -#}
{%- set percentiles = [('income', "income_12m_amount", true),
    ('net_margin', "net_margin_ratio", true),
    ('pd', "case when pd_source <> 'portfolio_prior' then pd_12m end", false),
    ('leverage', "leverage_ratio", false),
    ('interest_coverage', "interest_coverage_ratio", true),
    ('cash_flow', "cash_flow_to_debt_ratio", true),
    ('bureau', "bureau_score", true),
    ('liquidity', "current_ratio", true),
    ('capital', "registered_capital_amount", true),
    ('assets', "total_assets_amount", true),
    ('partners', "coalesce(co_partner_count, 0)", true),
    ('revenue_growth', "revenue_growth_rate", true)] %}

percentiles as (
    select
        client_key,
        period_date,
        {%- for name, measure, higher_is_better in percentiles %}
        {{ tiering_percentile(measure, higher_is_better=higher_is_better) }}
            as {{ name }}_percentile{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            client_key,
            period_date,
            pd_source,
            pd_12m,
            income_12m_amount,
            net_margin_ratio,
            leverage_ratio,
            interest_coverage_ratio,
            cash_flow_to_debt_ratio,
            bureau_score,
            current_ratio,
            registered_capital_amount,
            total_assets_amount,
            co_partner_count,
            revenue_growth_rate
        from features_with_pd
    ) as measures
),

components as (
    select
        features_with_pd.*,
        {#- value (价值贡献) -#}
        percentiles.income_percentile as value_income,
        active_months_12m / 12.0 as value_frequency,
        case
            when months_since_last_receipt is null then 0.0
            else greatest(0.0, 1.0 - months_since_last_receipt / 24.0)
        end as value_recency,
        (income_trend_ratio + 1.0) / 2.0 as value_trend,
        percentiles.net_margin_percentile as value_margin,
        {#- credit (资信与偿债能力) -#}
        case when pd_source <> 'portfolio_prior'
            then percentiles.pd_percentile
        end as credit_pd,
        (10.0 - internal_rating_rank) / 9.0 as credit_rating,
        case when max_overdue_days is not null then
            (1.0 - least(greatest(max_overdue_days, 0), 180) / 180.0)
            * (1.0 - 0.5 * coalesce(watchlist_flag, 0))
        end as credit_overdue,
        percentiles.leverage_percentile as credit_leverage,
        percentiles.interest_coverage_percentile as credit_interest_coverage,
        percentiles.cash_flow_percentile as credit_cash_flow,
        {#- least/greatest skip NULLs on every engine: guard each missing input -#}
        case when distress_event_count_12m is not null then
            1.0 - least(distress_event_count_12m + coalesce(legal_event_count_12m, 0), 4) / 4.0
        end as credit_risk_events,
        case when has_registry then
            case when registry_revoked_flag = 1 then 0.0
                else 1.0 - least(coalesce(litigation_count_12m, 0)
                    + coalesce(penalty_count_12m, 0), 5) / 5.0
            end
        end as credit_registry,
        percentiles.bureau_percentile as credit_bureau,
        {#- risk tolerance (风险承受能力) -#}
        case when leverage_ratio is not null
            then least(greatest(1.0 - leverage_ratio, 0.0), 1.0) end as tolerance_equity,
        percentiles.liquidity_percentile as tolerance_liquidity,
        case
            when outstanding_balance_amount > 0 then least(collateral_coverage_ratio, 2.0) / 2.0
            when has_credit_profile then 1.0
        end as tolerance_collateral,
        percentiles.capital_percentile as tolerance_capital,
        percentiles.assets_percentile as tolerance_assets,
        {#- influence (市场影响力) -#}
        1.0 * listed_flag as influence_listing,
        case when association_count is not null
            then least(association_count, 3) / 3.0 end as influence_associations,
        percentiles.capital_percentile as influence_capital,
        least(coalesce(project_role_count, 0), 3) / 3.0 as influence_project_roles,
        percentiles.partners_percentile as influence_partners,
        {#- potential (合作潜力) -#}
        (income_growth_ratio + 1.0) / 2.0 as potential_income_growth,
        percentiles.revenue_growth_percentile as potential_revenue_growth,
        least(coalesce(pipeline_project_count, 0), 3) / 3.0 as potential_pipeline,
        greatest(department_count - 1, 0) / 5.0 as potential_breadth,
        {#- loyalty (忠诚度) -#}
        least(tenure_months, 36) / 36.0 as loyalty_tenure,
        active_months_24m / 24.0 as loyalty_repeat,
        (satisfaction_avg_12m - 1.0) / 4.0 as loyalty_satisfaction,
        1.0 - least(coalesce(complaint_count_12m, 0), 3) / 3.0 as loyalty_complaints
    from features_with_pd
    inner join percentiles
        on features_with_pd.client_key = percentiles.client_key
        and features_with_pd.period_date = percentiles.period_date
),

{%- set dimensions = {
    'value': ['value_income', 'value_frequency', 'value_recency', 'value_trend',
              'value_margin'],
    'credit': ['credit_pd', 'credit_rating', 'credit_overdue', 'credit_leverage',
               'credit_interest_coverage', 'credit_cash_flow', 'credit_risk_events',
               'credit_registry', 'credit_bureau'],
    'risk_tolerance': ['tolerance_equity', 'tolerance_liquidity', 'tolerance_collateral',
                       'tolerance_capital', 'tolerance_assets'],
    'influence': ['influence_listing', 'influence_associations', 'influence_capital',
                  'influence_project_roles', 'influence_partners'],
    'potential': ['potential_income_growth', 'potential_revenue_growth', 'potential_pipeline',
                  'potential_breadth'],
    'loyalty': ['loyalty_tenure', 'loyalty_repeat', 'loyalty_satisfaction',
                'loyalty_complaints'],
} %}

scored as (
    select
        client_key,
        period_date,
        model_version,
        pd_source,
        {%- for dimension, parts in dimensions.items() %}
        {{ tiering_dimension_score(parts) }} as {{ dimension }}_score,
        {{ tiering_dimension_coverage(parts) }} as {{ dimension }}_coverage,
        {%- endfor %}
        pd_12m,
        income_12m_amount,
        credit_limit_amount,
        outstanding_balance_amount,
        max_overdue_days,
        max_overdue_days_6m,
        live_default_count,
        has_credit_profile,
        coalesce(registry_revoked_flag, 0) = 1 as is_registry_revoked,
        {#- in default: a 违约 event within live_default_months, or past due at least
            past_due_default_days (the Basel definition of default: 90 days past due) -#}
        live_default_count > 0
            or coalesce(max_overdue_days, 0) >= {{ tiering_parameter('past_due_default_days') }}
            as has_live_default,
        {#- seriously past due within the features' behaviour window (6 months), cured or not:
            at best C (guardrail delinquency) -#}
        coalesce(max_overdue_days_6m, 0) >= {{ tiering_parameter('delinquency_overdue_days') }}
            as has_recent_delinquency
    from components
)

select * from scored
