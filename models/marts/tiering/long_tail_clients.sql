{#- One row per client of the latest period: Pareto position by trailing-12-month fee income
    (rank, own and cumulative share), head or tail (head = the clients that bring the first
    long_tail_head_share of income), the tail's total share, and rising stars: the tail clients
    growing fastest on evidence, each with the reason.

    Growth percentile (0-100, among the period's clients that have the measure): the multi-year
    revenue growth of the statements when the client files them; else the fee income of the
    last 12 months against the 12 before, whose percentile counts only
    rising_star_income_growth_weight of its distance from the median (a tail client's fee
    income is a handful of receipts: a noisier measure). A rising star is a tail client with a
    growth percentile of at least rising_star_min_growth_percentile, at most the top
    rising_star_max_count_share of the tail by it (seed tiering_parameters; docs/tiering.md).
    No growth measure, no star: a client's pipeline and breadth feed its potential score, not
    the flag. -#}
with

current_tiers as (select * from {{ ref('client_tiers_current') }}),

features as (select * from {{ ref('int_tiering_client_features_built') }}),

clients_with_income as (
    select
        current_tiers.client_key,
        current_tiers.period_date,
        current_tiers.tier_code,
        current_tiers.potential_score,
        current_tiers.potential_coverage,
        features.income_12m_amount,
        features.income_prior_12m_amount,
        coalesce(features.pipeline_project_count, 0) as pipeline_project_count,
        features.department_count,
        features.revenue_growth_rate,
        features.income_growth_ratio
    from current_tiers
    inner join features
        on current_tiers.client_key = features.client_key
        and current_tiers.period_date = features.period_date
),

{#- percent_rank over the clients having the measure (NULLs ranked apart, then dropped) -#}
growth_ranked as (
    select
        *,
        case when revenue_growth_rate is not null then 100 * percent_rank() over (
            partition by case when revenue_growth_rate is null then 0 else 1 end
            order by revenue_growth_rate
        ) end as revenue_growth_percentile,
        case when income_growth_ratio is not null then 100 * percent_rank() over (
            partition by case when income_growth_ratio is null then 0 else 1 end
            order by income_growth_ratio
        ) end as income_growth_percentile
    from clients_with_income
),

growth_measured as (
    select
        *,
        coalesce(
            revenue_growth_percentile,
            50 + {{ tiering_parameter('rising_star_income_growth_weight') }}
                * (income_growth_percentile - 50)
        ) as growth_percentile,
        case
            when revenue_growth_percentile is not null then 'revenue'
            when income_growth_percentile is not null then 'income'
        end as growth_source
    from growth_ranked
),

ranked as (
    select
        *,
        row_number() over (order by income_12m_amount desc, client_key) as income_rank,
        sum(greatest(income_12m_amount, 0)) over () as total_income_amount,
        sum(greatest(income_12m_amount, 0)) over (
            order by income_12m_amount desc, client_key
            rows between unbounded preceding and current row
        ) as cumulative_income_amount
    from growth_measured
),

segmented as (
    select
        *,
        {{ tiering_ratio('greatest(income_12m_amount, 0)', 'total_income_amount') }}
            as income_share,
        {{ tiering_ratio('cumulative_income_amount', 'total_income_amount') }}
            as cumulative_income_share,
        case
            when income_12m_amount > 0 and coalesce({{ tiering_ratio(
                'cumulative_income_amount - greatest(income_12m_amount, 0)',
                'total_income_amount') }}, 1) < {{ tiering_parameter('long_tail_head_share') }}
                then 'head'
            else 'tail'
        end as pareto_segment
    from ranked
),

tail_measured as (
    select
        *,
        sum(case when pareto_segment = 'tail' then greatest(income_12m_amount, 0) else 0 end)
            over () as tail_income_amount,
        sum(case when pareto_segment = 'tail' then 1 else 0 end) over () as tail_client_count,
        case when pareto_segment = 'tail' then row_number() over (
            partition by pareto_segment order by potential_score desc, client_key
        ) end as tail_potential_rank,
        case when pareto_segment = 'tail' and growth_percentile is not null
            then row_number() over (
                partition by pareto_segment, case when growth_percentile is null then 0 else 1 end
                order by growth_percentile desc, client_key
            )
        end as tail_growth_rank
    from segmented
),

flagged as (
    select
        client_key,
        period_date,
        pareto_segment,
        tier_code,
        income_rank,
        income_12m_amount,
        income_share,
        cumulative_income_share,
        {{ tiering_ratio('tail_income_amount', 'total_income_amount') }} as tail_income_share,
        potential_score,
        tail_potential_rank,
        growth_percentile,
        growth_source,
        tail_growth_rank,
        coalesce(
            pareto_segment = 'tail'
                and growth_percentile >= {{ tiering_parameter('rising_star_min_growth_percentile') }}
                and tail_growth_rank <= tail_client_count
                    * {{ tiering_parameter('rising_star_max_count_share') }},
            false
        ) as is_rising_star,
        income_prior_12m_amount,
        pipeline_project_count,
        department_count,
        revenue_growth_rate,
        potential_coverage
    from tail_measured
),

explained as (
    select
        client_key,
        period_date,
        pareto_segment,
        tier_code,
        case when is_rising_star then {{ dbt.concat([
            "'长尾新星：增长百分位 '", dbt.cast('round(growth_percentile, 1)', dbt.type_string()),
            "case when growth_source = 'revenue' then '（按营业收入增长' else '（按近12个月收入增长' end",
            "'，长尾内第 '", dbt.cast('tail_growth_rank', dbt.type_string()),
            "' 名）；合作潜力得分 '", dbt.cast('round(potential_score, 1)', dbt.type_string()),
            "'；近12个月收入 '", dbt.cast('round(income_12m_amount / 10000, 1)',
                dbt.type_string()),
            "' 万元，上年同期 '", dbt.cast('round(income_prior_12m_amount / 10000, 1)',
                dbt.type_string()),
            "' 万元'",
            "coalesce(" ~ dbt.concat(["'；营业收入年均增长 '", dbt.cast(
                'round(100 * (exp(revenue_growth_rate) - 1), 1)', dbt.type_string()), "'%'"])
                ~ ", '')",
            "'；在途项目 '", dbt.cast('pipeline_project_count', dbt.type_string()),
            "' 个；覆盖部门 '", dbt.cast('department_count', dbt.type_string()), "' 个'"]) }}
        end as rising_star_reason,
        income_rank,
        tail_potential_rank,
        income_12m_amount,
        income_share,
        cumulative_income_share,
        tail_income_share,
        potential_score,
        potential_coverage,
        revenue_growth_rate,
        growth_percentile,
        growth_source,
        tail_growth_rank,
        is_rising_star
    from flagged
)

select * from explained
