{#- One row per client per review trigger open in the as-of period (default profile): clients
    due for their periodic review and clients with an event that calls for one, each with the
    reason, the trigger date and the due date (trigger date + due_in_days of seed
    tiering_review_triggers; an expiring override is due by its last valid day).
      periodic                tier held for a multiple of its review_frequency_months (tier policy)
      default_event           a 违约 risk event first delivered in the period
      overdue                 max overdue days above review_overdue_days, not so the period before
      litigation              a 诉讼 risk event first delivered in the period, or more registry
                              litigation (litigation_count_12m) than the period before
      registry_status_change  the registry status of the client's USCC changed (存续 ↔ 在业 is
                              no change)
      composite_change        composite moved by review_composite_change_points or more
      tier_change             the tier differs from the period before
      override_expiring       an applied override ends within override_expiry_warning_days
      override_key_retired    an override's client key was merged away (re-approve it)
    Events are those first known in the period: a trigger is raised once; an open situation
    comes back through the periodic review of the tier it led to. -#}
with

{# The columns the triggers read. Read five times, so inlined: DuckDB would otherwise keep it
    whole (every period of the default profile: 24M rows at 1M clients), where each read inlined
    scans what it needs (the select at 1M: 4.9 s against 6.0 s, docs/benchmarks.md). #}
tiers as {{ inline_cte() }} (
    select client_key, period_date, tier_code, previous_tier_code, composite_score
    from {{ ref('client_tiers') }}
    where profile_code = 'default'
        and period_date <= {{ run_as_of_date_literal() }}
),

clients as (select * from {{ ref('dim_clients') }}),

xref as {{ inline_cte() }} (select * from {{ ref('client_source_xref') }}),

features as {{ inline_cte() }} (select * from {{ ref('int_tiering_client_features_built') }}),

risk_events as (select * from {{ ref('stg_risk__risk_events') }}),

registry as (select * from {{ ref('stg_external__registry') }}),

overrides as (select * from {{ ref('int_dynamics_overrides_governed') }}),

policy as (select * from {{ ref('tiering_tier_policy') }}),

triggers as (select * from {{ ref('tiering_review_triggers') }}),

review_period as (
    select max(period_date) as period_date from tiers
),

previous_period as (
    select max(tiers.period_date) as period_date
    from tiers
    cross join review_period
    where tiers.period_date < review_period.period_date
),

current_tiers as (
    select tiers.*
    from tiers
    inner join review_period
        on tiers.period_date = review_period.period_date
),

{#- periodic: months since the tier began (the latest period up to the review period that
    started a run of the tier). One aggregate per client: a window over every period of every
    client was most of this model's time. -#}
tier_runs as (
    select
        client_key,
        max(case
            when previous_tier_code is null or previous_tier_code <> tier_code then period_date
        end) as tier_since_date
    from tiers
    group by client_key
),

periodic as (
    select
        current_tiers.client_key,
        'periodic' as trigger_code,
        {{ dbt.concat([
            "current_tiers.tier_code", "'级复核周期'",
            "cast(policy.review_frequency_months as " ~ dbt.type_string() ~ ")",
            "'个月，本级自'", "cast(tier_runs.tier_since_date as " ~ dbt.type_string() ~ ")",
            "'起'"]) }} as trigger_detail,
        current_tiers.period_date as trigger_date
    from current_tiers
    inner join tier_runs
        on current_tiers.client_key = tier_runs.client_key
    inner join policy
        on current_tiers.tier_code = policy.tier_code
    where {{ dbt.datediff('tier_runs.tier_since_date', 'current_tiers.period_date', 'month') }} > 0
        and mod(
            {{ dbt.datediff('tier_runs.tier_since_date', 'current_tiers.period_date', 'month') }},
            policy.review_frequency_months
        ) = 0
),

{#- Risk events first delivered in the period. -#}
new_events as (
    select
        xref.client_key,
        risk_events.event_type,
        risk_events.event_date
    from risk_events
    inner join xref
        on xref.department = 'risk'
        and xref.entity = 'credit_profiles'
        and xref.record_id = risk_events.risk_client_no
    cross join review_period
    cross join previous_period
    where risk_events.event_type in ('违约', '诉讼')
        and risk_events.first_extract_date <= review_period.period_date
        and (previous_period.period_date is null
            or risk_events.first_extract_date > previous_period.period_date)
),

event_triggers as (
    select
        client_key,
        case when event_type = '违约' then 'default_event' else 'litigation' end as trigger_code,
        {{ dbt.concat(["max(event_type)", "'事件'",
            "cast(count(*) as " ~ dbt.type_string() ~ ")", "'起'"]) }} as trigger_detail,
        coalesce(min(event_date), max(event_date)) as trigger_date
    from new_events
    group by client_key, case when event_type = '违约' then 'default_event' else 'litigation' end
),

features_compared as (
    select
        now_features.client_key,
        now_features.period_date,
        now_features.max_overdue_days,
        before_features.max_overdue_days as previous_max_overdue_days,
        now_features.litigation_count_12m,
        before_features.litigation_count_12m as previous_litigation_count_12m
    from features as now_features
    inner join review_period
        on now_features.period_date = review_period.period_date
    cross join previous_period
    left join features as before_features
        on now_features.client_key = before_features.client_key
        and before_features.period_date = previous_period.period_date
),

overdue as (
    select
        client_key,
        'overdue' as trigger_code,
        {{ dbt.concat(["'最长逾期'", "cast(max_overdue_days as " ~ dbt.type_string() ~ ")",
            "'天'"]) }} as trigger_detail,
        period_date as trigger_date
    from features_compared
    where max_overdue_days > {{ dynamics_parameter('review_overdue_days') }}
        and coalesce(previous_max_overdue_days, 0)
            <= {{ dynamics_parameter('review_overdue_days') }}
),

registry_litigation as (
    select
        client_key,
        'litigation' as trigger_code,
        {{ dbt.concat(["'工商诉讼记录（近12个月）由'",
            "cast(previous_litigation_count_12m as " ~ dbt.type_string() ~ ")", "'增至'",
            "cast(litigation_count_12m as " ~ dbt.type_string() ~ ")"]) }} as trigger_detail,
        period_date as trigger_date
    from features_compared
    where litigation_count_12m > previous_litigation_count_12m
),

{#- Registry status of the client's USCCs: the period's delivery against the one before. -#}
registry_deliveries as (
    select
        uscc,
        registration_status,
        extract_date,
        lag(registration_status) over (partition by uscc order by extract_date)
            as previous_registration_status,
        lag(extract_date) over (partition by uscc order by extract_date)
            as previous_extract_date
    from registry
    where uscc is not null
),

registry_changes as (
    select
        xref.client_key,
        'registry_status_change' as trigger_code,
        {{ dbt.concat(["'工商登记状态由'", "registry_deliveries.previous_registration_status",
            "'变为'", "registry_deliveries.registration_status"]) }} as trigger_detail,
        registry_deliveries.extract_date as trigger_date
    from registry_deliveries
    inner join xref
        on xref.department = 'external'
        and xref.entity = 'registry'
        and xref.record_id = registry_deliveries.uscc
    cross join review_period
    cross join previous_period
    where registry_deliveries.extract_date <= review_period.period_date
        and registry_deliveries.extract_date > coalesce(previous_period.period_date,
            registry_deliveries.extract_date)
        and registry_deliveries.registration_status
            <> registry_deliveries.previous_registration_status
        and not (registry_deliveries.registration_status in ('存续', '在业')
            and registry_deliveries.previous_registration_status in ('存续', '在业'))
),

registry_triggers as (
    select
        client_key,
        trigger_code,
        min(trigger_detail) as trigger_detail,
        min(trigger_date) as trigger_date
    from registry_changes
    group by client_key, trigger_code
),

tiers_compared as (
    select
        current_tiers.client_key,
        current_tiers.period_date,
        current_tiers.tier_code,
        current_tiers.previous_tier_code,
        current_tiers.composite_score,
        previous_tiers.composite_score as previous_composite_score
    from current_tiers
    cross join previous_period
    left join tiers as previous_tiers
        on current_tiers.client_key = previous_tiers.client_key
        and previous_tiers.period_date = previous_period.period_date
),

composite_changes as (
    select
        client_key,
        'composite_change' as trigger_code,
        {{ dbt.concat(["'综合得分由'", "cast(previous_composite_score as " ~ dbt.type_string() ~ ")",
            "'变为'", "cast(composite_score as " ~ dbt.type_string() ~ ")"]) }} as trigger_detail,
        period_date as trigger_date
    from tiers_compared
    where abs(composite_score - previous_composite_score)
        >= {{ dynamics_parameter('review_composite_change_points') }}
),

tier_changes as (
    select
        client_key,
        'tier_change' as trigger_code,
        {{ dbt.concat(["'分级由'", "previous_tier_code", "'变为'", "tier_code"]) }}
            as trigger_detail,
        period_date as trigger_date
    from tiers_compared
    where tier_code <> previous_tier_code
),

overrides_expiring as (
    select
        overrides.current_client_key as client_key,
        'override_expiring' as trigger_code,
        {{ dbt.concat(["'人工调整'", "overrides.override_id", "'（'", "overrides.tier_code",
            "'级）有效期至'", "cast(overrides.valid_to as " ~ dbt.type_string() ~ ")"]) }}
            as trigger_detail,
        review_period.period_date as trigger_date,
        overrides.valid_to as due_date
    from overrides
    cross join review_period
    where overrides.is_applicable
        and overrides.valid_from <= review_period.period_date
        and overrides.valid_to >= review_period.period_date
        and {{ dbt.datediff('review_period.period_date', 'overrides.valid_to', 'day') }}
            <= {{ dynamics_parameter('override_expiry_warning_days') }}
),

overrides_retired as (
    select
        overrides.current_client_key as client_key,
        'override_key_retired' as trigger_code,
        {{ dbt.concat(["'人工调整'", "overrides.override_id", "'的客户编号'",
            "overrides.client_key", "'已并入本客户，需重新审批'"]) }} as trigger_detail,
        review_period.period_date as trigger_date
    from overrides
    cross join review_period
    where overrides.key_status = 'retired'
        and overrides.refusal_code is null
        and overrides.valid_to >= review_period.period_date
),

raised as (
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from periodic
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from event_triggers
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from overdue
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from registry_litigation
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from registry_triggers
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from composite_changes
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from tier_changes
    union all
    select client_key, trigger_code, trigger_detail, trigger_date, due_date
    from overrides_expiring
    union all
    select client_key, trigger_code, trigger_detail, trigger_date,
        cast(null as date) as due_date from overrides_retired
),

{#- One row per client and trigger: the earliest occurrence (litigation can come from both the
    risk events and the registry). -#}
raised_ranked as (
    select
        *,
        row_number() over (
            partition by client_key, trigger_code order by trigger_date, trigger_detail
        ) as occurrence_rank
    from raised
),

queue as (
    select
        raised_ranked.client_key,
        raised_ranked.trigger_code,
        clients.registered_name,
        clients.account_manager,
        current_tiers.tier_code,
        triggers.trigger_label,
        raised_ranked.trigger_detail,
        triggers.priority,
        review_period.period_date,
        raised_ranked.trigger_date,
        coalesce(
            raised_ranked.due_date,
            cast({{ dbt.dateadd('day', 'triggers.due_in_days', 'raised_ranked.trigger_date') }}
                as date)
        ) as due_date
    from raised_ranked
    inner join triggers
        on raised_ranked.trigger_code = triggers.trigger_code
    cross join review_period
    left join clients
        on raised_ranked.client_key = clients.client_key
    left join current_tiers
        on raised_ranked.client_key = current_tiers.client_key
    where raised_ranked.occurrence_rank = 1
        and not coalesce(clients.is_unattributed, false)
)

select * from queue
