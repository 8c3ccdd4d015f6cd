{#- One row per client per period (month end): every input of the six dimension scores and of
    the risk model, computed only from data dated on or before the period and from snapshot
    deliveries cut at the period (no look-ahead). Incremental by period (see
    macros/tiering/tiering_periods.sql); a full refresh builds every period. Every window is
    bounded (at most 24 months of receipts, 6 months of snapshots before the period), so building
    one period reads that period's window, not the whole history. Ratios are computed here, once,
    for the dimension scores and the risk model alike (NULL when an input is missing or a
    denominator is 0, never a silent zero). -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    partition_by=['period_date'],
    unique_key='period_date',
    on_schema_change='append_new_columns',
    pre_hook="{{ tests_scope_recorded(tiering_periods_written(
        tiering_delivered_periods() ~ ' as delivered')) }}",
    post_hook="{{ tiering_build_period_batches(tiering_delivered_periods() ~ ' as delivered') }}",
) }}

{#- The behaviour window: the `_6m` features read the snapshots of the 6 months up to the
    period (the period's own delivery and the 5 before it). -#}
{%- set behaviour_window_months = 6 %}

with

clients as {{ inline_cte() }} (select * from {{ ref('dim_clients') }}),

xref as {{ inline_cte() }} (select * from {{ ref('client_source_xref') }}),

crm_clients as {{ inline_cte() }} (select * from {{ ref('stg_crm__clients') }}),

receipts as (select * from {{ ref('stg_finance__receipts') }}),

statements as {{ inline_cte() }} (select * from {{ ref('stg_finance__statements') }}),

credit_profiles as {{ inline_cte() }} (select * from {{ ref('stg_risk__credit_profiles') }}),

risk_events as (select * from {{ ref('stg_risk__risk_events') }}),

projects as (select * from {{ ref('stg_projects__projects') }}),

participations as (select * from {{ ref('stg_projects__participations') }}),

tickets as (select * from {{ ref('stg_service__tickets') }}),

registry as (select * from {{ ref('stg_external__registry') }}),

rating_priors as (select * from {{ ref('tiering_rating_pd_prior') }}),

{#- Periods: the month ends at which departments delivered, up to the as-of date. -#}
delivery_periods as (select * from {{ tiering_delivered_periods() }} as delivered),

periods as (
    select period_date
    from delivery_periods
    where {{ tiering_is_period_to_build('delivery_periods') }}
),

{#- The delivery of each snapshot entity that describes a period: the newest one on or before
    it, at most tiering_parameters.snapshot_carry_forward_months months older (a snapshot carries
    the department's whole state, and the newest delivery up to a date is the state then). A
    month a department did not deliver, or whose delivery was rejected, keeps the month
    before's state instead of losing the department's facts for that period. The
    behaviour-window features (_6m) read the deliveries that exist. -#}
snapshot_deliveries as (
    select distinct 'statements' as entity_name, extract_date from statements
    union all
    select distinct 'credit_profiles' as entity_name, extract_date from credit_profiles
    union all
    select distinct 'registry' as entity_name, extract_date from registry
    union all
    select distinct 'crm_clients' as entity_name, extract_date from crm_clients
    union all
    select distinct 'participations' as entity_name, extract_date from participations
),

snapshot_at_period as (
    select
        periods.period_date,
        snapshot_deliveries.entity_name,
        max(snapshot_deliveries.extract_date) as delivery_date
    from periods
    inner join snapshot_deliveries
        on snapshot_deliveries.extract_date <= periods.period_date
    where {{ dbt.datediff('snapshot_deliveries.extract_date', 'periods.period_date', 'month') }}
        <= {{ tiering_parameter('snapshot_carry_forward_months') }}
    group by periods.period_date, snapshot_deliveries.entity_name
),

client_first_seen as (
    select client_key, min(first_seen_date) as first_seen_date
    from xref
    group by client_key
),

client_periods as (
    select
        clients.client_key,
        periods.period_date,
        client_first_seen.first_seen_date
    from clients
    inner join client_first_seen
        on clients.client_key = client_first_seen.client_key
    inner join periods
        on client_first_seen.first_seen_date <= periods.period_date
    where not clients.is_unattributed
),

{#- A department counts from its first record of the client: one row per client and department
    before the join, so no distinct count over every record of every period. -#}
department_first_seen as (
    select client_key, department, min(first_seen_date) as first_seen_date
    from xref
    group by client_key, department
),

departments_seen as (
    select
        client_periods.client_key,
        client_periods.period_date,
        count(*) as department_count
    from client_periods
    inner join department_first_seen
        on client_periods.client_key = department_first_seen.client_key
        and department_first_seen.first_seen_date <= client_periods.period_date
    group by client_periods.client_key, client_periods.period_date
),

{#- Finance: fee income (元, reversals negative) in trailing windows. -#}
receipts_of_clients as (
    select
        xref.client_key,
        receipts.receipt_date,
        receipts.receipt_amount as amount,
        receipts.first_extract_date
    from receipts
    inner join xref
        on xref.department = 'finance'
        and xref.entity = 'customers'
        and xref.record_id = receipts.customer_code
    where receipts.receipt_date is not null
        and receipts.receipt_amount is not null
),

receipts_windowed as (
    select
        periods.period_date,
        receipts_of_clients.client_key,
        receipts_of_clients.receipt_date,
        receipts_of_clients.amount,
        {{ dbt.datediff('receipts_of_clients.receipt_date', 'periods.period_date', 'month') }}
            as months_before
    from receipts_of_clients
    inner join periods
        on receipts_of_clients.receipt_date <= periods.period_date
        and receipts_of_clients.receipt_date
            > {{ dbt.dateadd('month', -25, 'periods.period_date') }}
        and receipts_of_clients.first_extract_date <= periods.period_date
    where {{ dbt.datediff('receipts_of_clients.receipt_date', 'periods.period_date', 'month') }}
        < 24
),

{#- Two steps: per month of the window (its sum, whether it holds a positive receipt, how many),
    then per client and period. Active months are the months holding a positive receipt, so
    they are counted without a distinct count (which DuckDB plans as a fan-out of the windowed
    receipts into three aggregations joined back: 0.74 of the thread time without it at 1M,
    docs/benchmarks.md). -#}
receipt_months as (
    select
        client_key,
        period_date,
        months_before,
        sum(amount) as amount,
        max(case when amount > 0 then 1 else 0 end) as is_active,
        sum(case when amount > 0 then 1 else 0 end) as positive_receipt_count
    from receipts_windowed
    group by client_key, period_date, months_before
),

income_aggregated as (
    select
        client_key,
        period_date,
        sum(case when months_before < 12 then amount else 0 end) as income_12m_amount,
        sum(case when months_before >= 12 and months_before < 24 then amount else 0 end)
            as income_prior_12m_amount,
        sum(case when months_before < 6 then amount else 0 end) as income_6m_amount,
        sum(case when months_before >= 6 and months_before < 12 then amount else 0 end)
            as income_prior_6m_amount,
        cast(sum(case when months_before < 12 then is_active else 0 end)
            as {{ dbt.type_bigint() }}) as active_months_12m,
        cast(sum(case when months_before < 24 then is_active else 0 end)
            as {{ dbt.type_bigint() }}) as active_months_24m,
        sum(case when months_before < 12 then positive_receipt_count else 0 end)
            as receipt_count_12m,
        min(case when is_active = 1 then months_before end) as months_since_last_receipt,
        max(case when is_active = 1 then months_before end) as months_since_first_receipt_24m
    from receipt_months
    group by client_key, period_date
),

{#- Finance statements delivered at the period: the latest fiscal year, and the one before. -#}
statements_of_clients as (
    select
        xref.client_key,
        at_period.period_date,
        statements.fiscal_year,
        statements.revenue_amount,
        statements.net_profit_amount,
        statements.total_assets_amount,
        statements.total_liabilities_amount,
        statements.current_assets_amount,
        statements.current_liabilities_amount,
        statements.operating_cash_flow_amount,
        statements.interest_expense_amount
    from statements
    inner join snapshot_at_period as at_period
        on at_period.entity_name = 'statements'
        and statements.extract_date = at_period.delivery_date
    inner join xref
        on xref.department = 'finance'
        and xref.entity = 'customers'
        and xref.record_id = statements.customer_code
),

statements_by_year as (
    select
        client_key,
        period_date,
        fiscal_year,
        sum(revenue_amount) as revenue_amount,
        sum(net_profit_amount) as net_profit_amount,
        sum(total_assets_amount) as total_assets_amount,
        sum(total_liabilities_amount) as total_liabilities_amount,
        sum(current_assets_amount) as current_assets_amount,
        sum(current_liabilities_amount) as current_liabilities_amount,
        sum(operating_cash_flow_amount) as operating_cash_flow_amount,
        sum(interest_expense_amount) as interest_expense_amount,
        row_number() over (
            partition by client_key, period_date order by fiscal_year desc
        ) as year_rank
    from statements_of_clients
    group by client_key, period_date, fiscal_year
),

statements_latest as (
    select
        latest.client_key,
        latest.period_date,
        latest.revenue_amount,
        latest.net_profit_amount,
        latest.total_assets_amount,
        latest.total_liabilities_amount,
        latest.current_assets_amount,
        latest.current_liabilities_amount,
        latest.operating_cash_flow_amount,
        latest.interest_expense_amount,
        previous.revenue_amount as revenue_prior_year_amount
    from statements_by_year as latest
    left join statements_by_year as previous
        on latest.client_key = previous.client_key
        and latest.period_date = previous.period_date
        and previous.year_rank = 2
    where latest.year_rank = 1
),

{#- Revenue trend over the fiscal years in the statements delivered at the period and 12 and
    24 months before it (each delivery carries the latest two fiscal years; the newest delivery
    of a fiscal year wins): the least-squares slope of ln(revenue) on the fiscal year, an
    annual log growth rate, from at least two years with positive revenue. -#}
statements_history as (
    select
        xref.client_key,
        periods.period_date,
        statements.extract_date,
        statements.fiscal_year,
        sum(statements.revenue_amount) as revenue_amount
    from statements
    inner join periods
        on statements.extract_date <= periods.period_date
        and statements.extract_date > {{ dbt.dateadd('month', -25, 'periods.period_date') }}
    inner join xref
        on xref.department = 'finance'
        and xref.entity = 'customers'
        and xref.record_id = statements.customer_code
    where {{ dbt.datediff('statements.extract_date', 'periods.period_date', 'month') }}
        in (0, 12, 24)
        and statements.fiscal_year is not null
    group by xref.client_key, periods.period_date, statements.extract_date, statements.fiscal_year
),

revenue_by_year as (
    select
        client_key,
        period_date,
        fiscal_year,
        revenue_amount,
        row_number() over (
            partition by client_key, period_date, fiscal_year order by extract_date desc
        ) as delivery_rank
    from statements_history
),

revenue_trend as (
    select
        client_key,
        period_date,
        count(*) as revenue_year_count,
        case when count(*) >= 2 then
            (count(*) * sum(fiscal_year * ln(revenue_amount))
                - sum(fiscal_year) * sum(ln(revenue_amount)))
            / nullif(count(*) * sum(fiscal_year * fiscal_year)
                - sum(fiscal_year) * sum(fiscal_year), 0)
        end as revenue_growth_rate
    from revenue_by_year
    where delivery_rank = 1
        and revenue_amount > 0
    group by client_key, period_date
),

{#- Risk: credit profiles delivered at the period and in the behaviour window (the snapshots of
    the behaviour_window_months months up to the period). Several risk numbers of one client
    are summed (exposure) or the worst taken (rating, overdue, watchlist). A negative balance or
    limit is an impossible value: treated as missing. -#}
credit_of_clients as (
    select
        xref.client_key,
        periods.period_date,
        credit_profiles.extract_date,
        rating_priors.rating_rank,
        rating_priors.pd_prior,
        case when not credit_profiles.is_negative_balance
            then credit_profiles.credit_limit_amount end as credit_limit_amount,
        case when not credit_profiles.is_negative_balance
            then credit_profiles.outstanding_balance_amount end as outstanding_balance_amount,
        case when not credit_profiles.is_negative_balance
            then credit_profiles.collateral_value_amount end as collateral_value_amount,
        credit_profiles.max_overdue_days,
        credit_profiles.is_on_watchlist,
        coalesce(credit_profiles.extract_date = at_period.delivery_date, false) as is_at_period
    from credit_profiles
    inner join periods
        on credit_profiles.extract_date <= periods.period_date
        and credit_profiles.extract_date
            > {{ dbt.dateadd('month', -(behaviour_window_months + 1), 'periods.period_date') }}
    inner join xref
        on xref.department = 'risk'
        and xref.entity = 'credit_profiles'
        and xref.record_id = credit_profiles.risk_client_no
    left join rating_priors
        on credit_profiles.internal_rating = rating_priors.internal_rating
    left join snapshot_at_period as at_period
        on at_period.entity_name = 'credit_profiles'
        and at_period.period_date = periods.period_date
    where {{ dbt.datediff('credit_profiles.extract_date', 'periods.period_date', 'month') }}
        < {{ behaviour_window_months }}
),

credit_aggregated as (
    select
        client_key,
        period_date,
        max(case when is_at_period then rating_rank end) as internal_rating_rank,
        max(case when is_at_period then pd_prior end) as rating_pd_prior,
        sum(case when is_at_period then credit_limit_amount end)
            as credit_limit_amount,
        sum(case when is_at_period then outstanding_balance_amount end)
            as outstanding_balance_amount,
        sum(case when is_at_period then collateral_value_amount end)
            as collateral_value_amount,
        max(case when is_at_period then max_overdue_days end) as max_overdue_days,
        max(case when is_at_period then
            case when is_on_watchlist then 1 else 0 end end) as watchlist_flag,
        max(max_overdue_days) as max_overdue_days_6m,
        avg(cast(rating_rank as double)) as internal_rating_rank_avg_6m,
        max(rating_rank) as internal_rating_rank_worst_6m,
        count(distinct case when is_on_watchlist then extract_date end) as watchlist_months_6m,
        max(case when is_at_period then 1 else 0 end) as has_profile_at_period
    from credit_of_clients
    group by client_key, period_date
),

events_of_clients as (
    select
        xref.client_key,
        risk_events.event_date,
        risk_events.event_type,
        risk_events.first_extract_date
    from risk_events
    inner join xref
        on xref.department = 'risk'
        and xref.entity = 'credit_profiles'
        and xref.record_id = risk_events.risk_client_no
    where risk_events.event_date is not null
),

events_windowed as (
    select
        events_of_clients.client_key,
        periods.period_date,
        events_of_clients.event_type,
        {{ dbt.datediff('events_of_clients.event_date', 'periods.period_date', 'month') }}
            as months_before
    from events_of_clients
    inner join periods
        on events_of_clients.event_date <= periods.period_date
        and events_of_clients.event_date
            > {{ dbt.dateadd('month', -25, 'periods.period_date') }}
        and events_of_clients.first_extract_date <= periods.period_date
),

events_aggregated as (
    select
        client_key,
        period_date,
        sum(case when months_before < 12 then 1 else 0 end) as risk_event_count_12m,
        sum(case when months_before < 3 then 1 else 0 end) as risk_event_count_3m,
        sum(case when event_type = '违约'
            and months_before < {{ tiering_parameter('live_default_months') }}
            then 1 else 0 end) as live_default_count,
        sum(case when event_type = '违约' and months_before < 24 then 1 else 0 end)
            as default_count_24m,
        sum(case when event_type in ('逾期', '展期', '重组') and months_before < 12
            then 1 else 0 end) as distress_event_count_12m,
        sum(case when event_type in ('诉讼', '行政处罚') and months_before < 12
            then 1 else 0 end) as legal_event_count_12m
    from events_windowed
    where months_before < 24
    group by client_key, period_date
),

{#- External registry delivered at the period, and its behaviour window (bureau score and
    litigation are re-reported every month: their recent average is a less noisy reading). -#}
registry_of_clients as (
    select
        xref.client_key,
        periods.period_date,
        registry.extract_date,
        coalesce(registry.extract_date = at_period.delivery_date, false) as is_at_period,
        registry.registration_status,
        registry.litigation_count_12m,
        registry.penalty_count_12m,
        registry.bureau_score,
        registry.registered_capital_amount,
        registry.association_count,
        case when registry.listed_board is not null then 1 else 0 end as listed_flag
    from registry
    inner join periods
        on registry.extract_date <= periods.period_date
        and registry.extract_date
            > {{ dbt.dateadd('month', -(behaviour_window_months + 1), 'periods.period_date') }}
    inner join xref
        on xref.department = 'external'
        and xref.entity = 'registry'
        and xref.record_id = registry.uscc
    left join snapshot_at_period as at_period
        on at_period.entity_name = 'registry'
        and at_period.period_date = periods.period_date
    where {{ dbt.datediff('registry.extract_date', 'periods.period_date', 'month') }}
        < {{ behaviour_window_months }}
),

registry_by_delivery as (
    select
        client_key,
        period_date,
        extract_date,
        is_at_period,
        max(case when registration_status in ('吊销', '注销') then 1 else 0 end)
            as registry_revoked_flag,
        max(litigation_count_12m) as litigation_count_12m,
        max(penalty_count_12m) as penalty_count_12m,
        min(bureau_score) as bureau_score,
        max(registered_capital_amount) as registered_capital_amount,
        max(association_count) as association_count,
        max(listed_flag) as listed_flag
    from registry_of_clients
    group by client_key, period_date, extract_date, is_at_period
),

registry_aggregated as (
    select
        client_key,
        period_date,
        max(case when is_at_period then registry_revoked_flag end) as registry_revoked_flag,
        max(case when is_at_period then litigation_count_12m end) as litigation_count_12m,
        max(case when is_at_period then penalty_count_12m end) as penalty_count_12m,
        max(case when is_at_period then bureau_score end) as bureau_score,
        max(case when is_at_period then registered_capital_amount end)
            as registered_capital_amount,
        max(case when is_at_period then association_count end) as association_count,
        max(case when is_at_period then listed_flag end) as listed_flag,
        avg(cast(bureau_score as double)) as bureau_score_avg_6m,
        avg(cast(litigation_count_12m as double)) as litigation_count_avg_6m,
        max(case when is_at_period then 1 else 0 end) as has_registry_at_period
    from registry_by_delivery
    group by client_key, period_date
),

crm_at_period as (
    select
        xref.client_key,
        at_period.period_date,
        max(case when crm_clients.is_listed then 1 else 0 end) as crm_listed_flag,
        max(case when crm_clients.is_association_member then 1 else 0 end)
            as crm_association_flag
    from crm_clients
    inner join snapshot_at_period as at_period
        on at_period.entity_name = 'crm_clients'
        and crm_clients.extract_date = at_period.delivery_date
    inner join xref
        on xref.department = 'crm'
        and xref.entity = 'clients'
        and xref.record_id = crm_clients.crm_id
    group by xref.client_key, at_period.period_date
),

{#- Projects: participations delivered at the period, with the project's status then. -#}
participations_of_clients as (
    select
        xref.client_key,
        at_period.period_date,
        participations.project_code,
        participations.role,
        participations.performance_rating,
        participations.is_delivered_on_time,
        projects.status as project_status
    from participations
    inner join snapshot_at_period as at_period
        on at_period.entity_name = 'participations'
        and participations.extract_date = at_period.delivery_date
    inner join xref
        on xref.department = 'projects'
        and xref.entity = 'participations'
        and xref.record_id = participations.record_id
    left join projects
        on participations.project_code = projects.project_code
        and participations.extract_date = projects.extract_date
),

co_partners as (
    select
        mine.client_key,
        mine.period_date,
        count(distinct theirs.client_key) as co_partner_count
    from participations_of_clients as mine
    inner join participations_of_clients as theirs
        on mine.project_code = theirs.project_code
        and mine.period_date = theirs.period_date
        and mine.client_key <> theirs.client_key
    group by mine.client_key, mine.period_date
),

participations_aggregated as (
    select
        client_key,
        period_date,
        count(distinct project_code) as project_count,
        count(distinct role) as project_role_count,
        count(distinct case when project_status in ('储备', '在建') then project_code end)
            as pipeline_project_count,
        {#- doubles: Spark keeps an average of decimal literals as a DECIMAL (2/3 = 0.66667) -#}
        avg(cast(case performance_rating
            when '优' then 1.0 when '良' then 0.67 when '中' then 0.33 when '差' then 0.0
        end as double)) as performance_score,
        {{ tiering_ratio('sum(case when is_delivered_on_time then 1 else 0 end)',
            'count(is_delivered_on_time)') }} as on_time_rate
    from participations_of_clients
    group by client_key, period_date
),

{#- Service tickets opened in the 12 months up to the period. -#}
tickets_aggregated as (
    select
        xref.client_key,
        periods.period_date,
        count(*) as ticket_count_12m,
        sum(case when tickets.category = '投诉' then 1 else 0 end) as complaint_count_12m,
        sum(case when tickets.category = '表扬' then 1 else 0 end) as praise_count_12m,
        avg(tickets.satisfaction) as satisfaction_avg_12m
    from tickets
    inner join xref
        on xref.department = 'service'
        and xref.entity = 'tickets'
        and xref.record_id = tickets.ticket_id
    inner join periods
        on tickets.opened_date <= periods.period_date
        and tickets.first_extract_date <= periods.period_date
        and {{ dbt.datediff('tickets.opened_date', 'periods.period_date', 'month') }}
            < 12
    group by xref.client_key, periods.period_date
),

features as (
    select
        client_periods.client_key,
        client_periods.period_date,
        {{ dbt.datediff('client_periods.first_seen_date', 'client_periods.period_date',
            'month') }} as tenure_months,
        coalesce(departments_seen.department_count, 0) as department_count,
        {#- value -#}
        coalesce(income_aggregated.income_12m_amount, 0) as income_12m_amount,
        coalesce(income_aggregated.income_prior_12m_amount, 0) as income_prior_12m_amount,
        coalesce(income_aggregated.income_6m_amount, 0) as income_6m_amount,
        coalesce(income_aggregated.income_prior_6m_amount, 0) as income_prior_6m_amount,
        coalesce(income_aggregated.active_months_12m, 0) as active_months_12m,
        coalesce(income_aggregated.active_months_24m, 0) as active_months_24m,
        coalesce(income_aggregated.receipt_count_12m, 0) as receipt_count_12m,
        income_aggregated.months_since_last_receipt,
        income_aggregated.months_since_first_receipt_24m,
        income_aggregated.client_key is not null as has_receipts,
        {#- statements -#}
        statements_latest.revenue_amount,
        statements_latest.revenue_prior_year_amount,
        statements_latest.net_profit_amount,
        statements_latest.total_assets_amount,
        statements_latest.total_liabilities_amount,
        statements_latest.current_assets_amount,
        statements_latest.current_liabilities_amount,
        statements_latest.operating_cash_flow_amount,
        statements_latest.interest_expense_amount,
        revenue_trend.revenue_year_count,
        revenue_trend.revenue_growth_rate,
        {#- credit (the profile delivered at the period; _6m: the behaviour window) -#}
        credit_aggregated.internal_rating_rank,
        credit_aggregated.internal_rating_rank_avg_6m,
        credit_aggregated.internal_rating_rank_worst_6m,
        credit_aggregated.rating_pd_prior,
        credit_aggregated.credit_limit_amount,
        credit_aggregated.outstanding_balance_amount,
        credit_aggregated.collateral_value_amount,
        credit_aggregated.max_overdue_days,
        credit_aggregated.watchlist_flag,
        credit_aggregated.max_overdue_days_6m,
        credit_aggregated.watchlist_months_6m,
        coalesce(credit_aggregated.has_profile_at_period, 0) = 1 as has_credit_profile,
        case when credit_aggregated.has_profile_at_period = 1
            then coalesce(events_aggregated.risk_event_count_12m, 0) end as risk_event_count_12m,
        case when credit_aggregated.has_profile_at_period = 1
            then coalesce(events_aggregated.risk_event_count_3m, 0) end as risk_event_count_3m,
        case when credit_aggregated.has_profile_at_period = 1
            then coalesce(events_aggregated.distress_event_count_12m, 0) end
            as distress_event_count_12m,
        case when credit_aggregated.has_profile_at_period = 1
            then coalesce(events_aggregated.legal_event_count_12m, 0) end
            as legal_event_count_12m,
        coalesce(events_aggregated.live_default_count, 0) as live_default_count,
        coalesce(events_aggregated.default_count_24m, 0) as default_count_24m,
        {#- registry (the delivery at the period; _6m: the behaviour window) -#}
        registry_aggregated.registry_revoked_flag,
        registry_aggregated.litigation_count_12m,
        registry_aggregated.penalty_count_12m,
        registry_aggregated.bureau_score,
        registry_aggregated.bureau_score_avg_6m,
        registry_aggregated.litigation_count_avg_6m,
        coalesce(registry_aggregated.registered_capital_amount, clients.registered_capital_amount)
            as registered_capital_amount,
        coalesce(registry_aggregated.association_count, crm_at_period.crm_association_flag)
            as association_count,
        coalesce(registry_aggregated.listed_flag, crm_at_period.crm_listed_flag) as listed_flag,
        coalesce(registry_aggregated.has_registry_at_period, 0) = 1 as has_registry,
        {#- projects -#}
        participations_aggregated.project_count,
        participations_aggregated.project_role_count,
        participations_aggregated.pipeline_project_count,
        participations_aggregated.performance_score,
        participations_aggregated.on_time_rate,
        case when participations_aggregated.client_key is not null
            then coalesce(co_partners.co_partner_count, 0) end as co_partner_count,
        {#- service -#}
        tickets_aggregated.ticket_count_12m,
        tickets_aggregated.complaint_count_12m,
        tickets_aggregated.praise_count_12m,
        tickets_aggregated.satisfaction_avg_12m
    from client_periods
    inner join clients
        on client_periods.client_key = clients.client_key
    left join departments_seen
        on client_periods.client_key = departments_seen.client_key
        and client_periods.period_date = departments_seen.period_date
    left join income_aggregated
        on client_periods.client_key = income_aggregated.client_key
        and client_periods.period_date = income_aggregated.period_date
    left join statements_latest
        on client_periods.client_key = statements_latest.client_key
        and client_periods.period_date = statements_latest.period_date
    left join revenue_trend
        on client_periods.client_key = revenue_trend.client_key
        and client_periods.period_date = revenue_trend.period_date
    left join credit_aggregated
        on client_periods.client_key = credit_aggregated.client_key
        and client_periods.period_date = credit_aggregated.period_date
    left join events_aggregated
        on client_periods.client_key = events_aggregated.client_key
        and client_periods.period_date = events_aggregated.period_date
    left join registry_aggregated
        on client_periods.client_key = registry_aggregated.client_key
        and client_periods.period_date = registry_aggregated.period_date
    left join crm_at_period
        on client_periods.client_key = crm_at_period.client_key
        and client_periods.period_date = crm_at_period.period_date
    left join participations_aggregated
        on client_periods.client_key = participations_aggregated.client_key
        and client_periods.period_date = participations_aggregated.period_date
    left join co_partners
        on client_periods.client_key = co_partners.client_key
        and client_periods.period_date = co_partners.period_date
    left join tickets_aggregated
        on client_periods.client_key = tickets_aggregated.client_key
        and client_periods.period_date = tickets_aggregated.period_date
),

{#- Ratios (NULL when an input is missing or the denominator is 0). Growth ratios are
    (a - b) / (|a| + |b|) in [-1, 1]; income growth only for clients already active in the
    earlier window (a new client's first income is not growth). -#}
ratios_added as (
    select
        *,
        {{ tiering_ratio('total_liabilities_amount', 'total_assets_amount') }} as leverage_ratio,
        {{ tiering_ratio('current_assets_amount', 'current_liabilities_amount') }}
            as current_ratio,
        {{ tiering_ratio('net_profit_amount + interest_expense_amount',
            'interest_expense_amount') }} as interest_coverage_ratio,
        {{ tiering_ratio('operating_cash_flow_amount', 'total_liabilities_amount') }}
            as cash_flow_to_debt_ratio,
        {{ tiering_ratio('net_profit_amount', 'revenue_amount') }} as net_margin_ratio,
        {{ tiering_ratio('outstanding_balance_amount', 'credit_limit_amount') }}
            as utilisation_ratio,
        case when outstanding_balance_amount > 0 then
            {{ tiering_ratio('coalesce(collateral_value_amount, 0)',
                'outstanding_balance_amount') }}
        end as collateral_coverage_ratio,
        case when months_since_first_receipt_24m >= 6 then
            {{ tiering_ratio('income_6m_amount - income_prior_6m_amount',
                'abs(income_6m_amount) + abs(income_prior_6m_amount)') }}
        end as income_trend_ratio,
        case when months_since_first_receipt_24m >= 12 then
            {{ tiering_ratio('income_12m_amount - income_prior_12m_amount',
                'abs(income_12m_amount) + abs(income_prior_12m_amount)') }}
        end as income_growth_ratio,
        {{ tiering_ratio('revenue_amount - revenue_prior_year_amount',
            'abs(revenue_amount) + abs(revenue_prior_year_amount)') }} as revenue_growth_ratio
    from features
)

select * from ratios_added
