{#- One row per client of the latest period: Pareto position by trailing-12-month fee income
    (rank, own and cumulative share), head or tail (head = the clients that bring the first
    long_tail_head_share of income), the tail's total share, and rising stars: tail clients
    with the highest potential (default profile) - a potential score of at least
    rising_star_min_potential, measured on evidence (potential coverage at least
    rising_star_min_coverage, so a score made of neutral fill-ins never qualifies), at most the
    top rising_star_max_count_share of the tail by potential - each with the reason. -#}
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
        features.revenue_growth_rate
    from current_tiers
    inner join features
        on current_tiers.client_key = features.client_key
        and current_tiers.period_date = features.period_date
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
    from clients_with_income
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
        ) end as tail_potential_rank
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
        pareto_segment = 'tail'
            and potential_score >= {{ tiering_parameter('rising_star_min_potential') }}
            and potential_coverage >= {{ tiering_parameter('rising_star_min_coverage') }}
            and tail_potential_rank <= tail_client_count
                * {{ tiering_parameter('rising_star_max_count_share') }}
            as is_rising_star,
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
            "'长尾新星：合作潜力得分 '", dbt.cast('round(potential_score, 1)', dbt.type_string()),
            "'（长尾内第 '", dbt.cast('tail_potential_rank', dbt.type_string()),
            "' 名）；近12个月收入 '", dbt.cast('round(income_12m_amount / 10000, 1)',
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
        is_rising_star
    from flagged
)

select * from explained
