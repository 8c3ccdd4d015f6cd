{#- One row per open project (储备 or 在建, latest delivery) per candidate client, top
    fit_top_n per project. Candidates: the best fit_candidates_per_profile clients by composite
    under the project type's weight profile (default if the type has none), after the hard
    filters: no guardrail applies (registry not 吊销/注销, no live default, credit score at or
    above the credit floor and PD below the ceiling).
    Fit (0-100) = weighted capacity against the financing need, risk tolerance against the
    project's risk level, influence, track record on past projects and the composite; weights in
    seed tiering_parameters (fit_weight_*). fit_explanation spells out each part. -#}
with

tiers as {{ inline_cte() }} (select * from {{ ref('client_tiers') }}),

features as (select * from {{ ref('int_tiering_client_features_built') }}),

projects as (select * from {{ ref('stg_projects__projects') }}),

profiles as (select * from {{ ref('tiering_weight_profiles') }}),

latest_period as (
    select max(period_date) as period_date
    from tiers
    where period_date <= {{ run_as_of_date_literal() }}
),

open_projects as (
    select
        projects.project_code,
        projects.project_name,
        projects.project_type,
        coalesce(profiles.profile_code, 'default') as profile_code,
        projects.risk_level,
        projects.status as project_status,
        projects.financing_need_amount,
        case projects.risk_level
            when '低' then {{ tiering_parameter('risk_level_low_required_tolerance') }}
            when '高' then {{ tiering_parameter('risk_level_high_required_tolerance') }}
            else {{ tiering_parameter('risk_level_mid_required_tolerance') }}
        end as required_tolerance_score
    from projects
    left join profiles
        on projects.project_type = profiles.profile_code
    where projects.is_latest_delivery
        and projects.status in ('储备', '在建')
),

eligible_clients as (
    select
        tiers.client_key,
        tiers.period_date,
        tiers.profile_code,
        tiers.tier_code,
        tiers.composite_score,
        tiers.risk_tolerance_score,
        tiers.influence_score,
        coalesce(
            features.total_assets_amount - features.total_liabilities_amount,
            features.registered_capital_amount
        ) as capacity_amount,
        features.performance_score,
        features.on_time_rate,
        row_number() over (
            partition by tiers.profile_code
            order by tiers.composite_score desc, tiers.client_key
        ) as profile_rank
    from tiers
    inner join latest_period
        on tiers.period_date = latest_period.period_date
    inner join features
        on tiers.client_key = features.client_key
        and tiers.period_date = features.period_date
    where tiers.guardrail_code = 'none'
),

candidates as (
    select *
    from eligible_clients
    where profile_rank <= {{ tiering_parameter('fit_candidates_per_profile') }}
),

fit_parts as (
    select
        open_projects.project_code,
        open_projects.project_name,
        open_projects.project_type,
        open_projects.project_status,
        open_projects.risk_level,
        candidates.client_key,
        candidates.period_date,
        candidates.profile_code,
        candidates.tier_code,
        open_projects.financing_need_amount,
        candidates.capacity_amount,
        {#- unknown capacity or need: the neutral 0.5; negative equity: no capacity -#}
        case when candidates.capacity_amount is not null
                and open_projects.financing_need_amount > 0
            then least(greatest(1.0 * candidates.capacity_amount, 0.0)
                / open_projects.financing_need_amount, 1.0)
            else 0.5
        end as capacity_fit,
        least(candidates.risk_tolerance_score / open_projects.required_tolerance_score, 1.0)
            as tolerance_fit,
        candidates.influence_score / 100.0 as influence_fit,
        coalesce((coalesce(candidates.performance_score, candidates.on_time_rate)
            + coalesce(candidates.on_time_rate, candidates.performance_score)) / 2.0, 0.5)
            as track_record_fit,
        candidates.composite_score / 100.0 as composite_fit,
        candidates.composite_score
    from open_projects
    inner join candidates
        on open_projects.profile_code = candidates.profile_code
),

scored as (
    select
        *,
        round(100.0 * (
            {{ tiering_parameter('fit_weight_capacity') }} * capacity_fit
            + {{ tiering_parameter('fit_weight_risk_tolerance') }} * tolerance_fit
            + {{ tiering_parameter('fit_weight_influence') }} * influence_fit
            + {{ tiering_parameter('fit_weight_track_record') }} * track_record_fit
            + {{ tiering_parameter('fit_weight_composite') }} * composite_fit
        ), 2) as fit_score
    from fit_parts
),

ranked as (
    select
        *,
        row_number() over (
            partition by project_code order by fit_score desc, client_key
        ) as fit_rank
    from scored
),

explained as (
    select
        project_code,
        client_key,
        fit_rank,
        project_name,
        project_type,
        project_status,
        risk_level,
        profile_code,
        tier_code,
        {{ dbt.concat([
            "'第'", dbt.cast('fit_rank', dbt.type_string()), "'名，匹配度 '",
            dbt.cast('fit_score', dbt.type_string()),
            "'：资本覆盖融资需求 '", dbt.cast('round(100 * capacity_fit)', dbt.type_string()),
            "'%；风险承受 '", dbt.cast('round(100 * tolerance_fit)', dbt.type_string()),
            "'%（项目风险'", 'risk_level', "'）；影响力 '",
            dbt.cast('round(100 * influence_fit)', dbt.type_string()),
            "'；履约记录 '", dbt.cast('round(100 * track_record_fit)', dbt.type_string()),
            "'；综合得分 '", dbt.cast('composite_score', dbt.type_string())]) }}
            as fit_explanation,
        fit_score,
        capacity_fit,
        tolerance_fit,
        influence_fit,
        track_record_fit,
        composite_fit,
        composite_score,
        financing_need_amount,
        capacity_amount,
        period_date
    from ranked
    where fit_rank <= {{ tiering_parameter('fit_top_n') }}
)

select * from explained
