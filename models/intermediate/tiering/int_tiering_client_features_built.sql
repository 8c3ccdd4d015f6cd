{#- One row per client per period (month end): every input of the six dimension scores and of
    the risk model, computed only from data dated on or before the period and from snapshot
    deliveries cut at the period (no look-ahead). Incremental by period (see
    macros/tiering/tiering_periods.sql); a full refresh builds every period. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    partition_by=['period_date'],
    unique_key='period_date',
    on_schema_change='append_new_columns',
) }}

with

clients as (select * from {{ ref('dim_clients') }}),

xref as (select * from {{ ref('client_source_xref') }}),

crm_clients as (select * from {{ ref('stg_crm__clients') }}),

receipts as (select * from {{ ref('stg_finance__receipts') }}),

statements as (select * from {{ ref('stg_finance__statements') }}),

credit_profiles as (select * from {{ ref('stg_risk__credit_profiles') }}),

risk_events as (select * from {{ ref('stg_risk__risk_events') }}),

projects as (select * from {{ ref('stg_projects__projects') }}),

participations as (select * from {{ ref('stg_projects__participations') }}),

tickets as (select * from {{ ref('stg_service__tickets') }}),

registry as (select * from {{ ref('stg_external__registry') }}),

rating_priors as (select * from {{ ref('tiering_rating_pd_prior') }}),

{#- Periods: the month ends at which departments delivered, up to the as-of date. -#}
delivery_periods as (
    select distinct extract_date as period_date from crm_clients
    union
    select distinct extract_date as period_date from credit_profiles
),

periods as (
    select period_date
    from delivery_periods
    where {{ tiering_is_period_to_build('delivery_periods') }}
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

departments_seen as (
    select
        client_periods.client_key,
        client_periods.period_date,
        count(distinct xref.department) as department_count
    from client_periods
    inner join xref
        on client_periods.client_key = xref.client_key
        and xref.first_seen_date <= client_periods.period_date
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
        and receipts_of_clients.first_extract_date <= periods.period_date
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
        count(distinct case when months_before < 12 and amount > 0 then months_before end)
            as active_months_12m,
        count(distinct case when months_before < 24 and amount > 0 then months_before end)
            as active_months_24m,
        sum(case when months_before < 12 and amount > 0 then 1 else 0 end) as receipt_count_12m,
        min(case when amount > 0 then months_before end) as months_since_last_receipt,
        max(months_before) as months_since_first_receipt
    from receipts_windowed
    group by client_key, period_date
),

{#- Finance statements delivered at the period: the latest fiscal year, and the one before. -#}
statements_of_clients as (
    select
        xref.client_key,
        statements.extract_date as period_date,
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
    inner join periods
        on statements.extract_date = periods.period_date
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

{#- Risk: credit profiles delivered at the period; several risk numbers of one client are
    summed (exposure) or the worst taken (rating, overdue, watchlist). -#}
credit_of_clients as (
    select
        xref.client_key,
        credit_profiles.extract_date as period_date,
        rating_priors.rating_rank,
        rating_priors.pd_prior,
        credit_profiles.credit_limit_amount,
        credit_profiles.outstanding_balance_amount,
        credit_profiles.collateral_value_amount,
        credit_profiles.max_overdue_days,
        credit_profiles.is_on_watchlist
    from credit_profiles
    inner join periods
        on credit_profiles.extract_date = periods.period_date
    inner join xref
        on xref.department = 'risk'
        and xref.entity = 'credit_profiles'
        and xref.record_id = credit_profiles.risk_client_no
    left join rating_priors
        on credit_profiles.internal_rating = rating_priors.internal_rating
),

credit_aggregated as (
    select
        client_key,
        period_date,
        max(rating_rank) as internal_rating_rank,
        max(pd_prior) as rating_pd_prior,
        sum(credit_limit_amount) as credit_limit_amount,
        sum(outstanding_balance_amount) as outstanding_balance_amount,
        sum(collateral_value_amount) as collateral_value_amount,
        max(max_overdue_days) as max_overdue_days,
        max(case when is_on_watchlist then 1 else 0 end) as watchlist_flag
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

events_aggregated as (
    select
        events_of_clients.client_key,
        periods.period_date,
        sum(case when {{ dbt.datediff('events_of_clients.event_date', 'periods.period_date',
            'month') }} < 12 then 1 else 0 end) as risk_event_count_12m,
        sum(case when events_of_clients.event_type = '违约' and {{ dbt.datediff(
            'events_of_clients.event_date', 'periods.period_date', 'month') }}
            < {{ tiering_parameter('live_default_months') }} then 1 else 0 end)
            as live_default_count,
        sum(case when events_of_clients.event_type = '违约' then 1 else 0 end)
            as default_count_ever,
        sum(case when events_of_clients.event_type in ('逾期', '展期', '重组') and {{
            dbt.datediff('events_of_clients.event_date', 'periods.period_date', 'month') }} < 12
            then 1 else 0 end) as distress_event_count_12m,
        sum(case when events_of_clients.event_type in ('诉讼', '行政处罚') and {{
            dbt.datediff('events_of_clients.event_date', 'periods.period_date', 'month') }} < 12
            then 1 else 0 end) as legal_event_count_12m
    from events_of_clients
    inner join periods
        on events_of_clients.event_date <= periods.period_date
        and events_of_clients.first_extract_date <= periods.period_date
    group by events_of_clients.client_key, periods.period_date
),

{#- External registry delivered at the period. -#}
registry_of_clients as (
    select
        xref.client_key,
        registry.extract_date as period_date,
        registry.registration_status,
        registry.litigation_count_12m,
        registry.penalty_count_12m,
        registry.bureau_score,
        registry.registered_capital_amount,
        registry.association_count,
        case when registry.listed_board is not null then 1 else 0 end as listed_flag
    from registry
    inner join periods
        on registry.extract_date = periods.period_date
    inner join xref
        on xref.department = 'external'
        and xref.entity = 'registry'
        and xref.record_id = registry.uscc
),

registry_aggregated as (
    select
        client_key,
        period_date,
        max(case when registration_status in ('吊销', '注销') then 1 else 0 end)
            as registry_revoked_flag,
        max(litigation_count_12m) as litigation_count_12m,
        max(penalty_count_12m) as penalty_count_12m,
        min(bureau_score) as bureau_score,
        max(registered_capital_amount) as registered_capital_amount,
        max(association_count) as association_count,
        max(listed_flag) as listed_flag
    from registry_of_clients
    group by client_key, period_date
),

crm_at_period as (
    select
        xref.client_key,
        crm_clients.extract_date as period_date,
        max(case when crm_clients.is_listed then 1 else 0 end) as crm_listed_flag,
        max(case when crm_clients.is_association_member then 1 else 0 end)
            as crm_association_flag
    from crm_clients
    inner join periods
        on crm_clients.extract_date = periods.period_date
    inner join xref
        on xref.department = 'crm'
        and xref.entity = 'clients'
        and xref.record_id = crm_clients.crm_id
    group by xref.client_key, crm_clients.extract_date
),

{#- Projects: participations delivered at the period, with the project's status then. -#}
participations_of_clients as (
    select
        xref.client_key,
        participations.extract_date as period_date,
        participations.project_code,
        participations.role,
        participations.performance_rating,
        participations.is_delivered_on_time,
        projects.status as project_status
    from participations
    inner join periods
        on participations.extract_date = periods.period_date
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
        {#- double: Spark keeps an average of decimal literals as DECIMAL(7,6) -#}
        avg(cast(case performance_rating
            when '优' then 1.0 when '良' then 0.67 when '中' then 0.33 when '差' then 0.0
        end as double)) as performance_score,
        avg(case when is_delivered_on_time then 1.0
            when not is_delivered_on_time then 0.0 end) as on_time_rate
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
        income_aggregated.months_since_first_receipt,
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
        {#- credit -#}
        credit_aggregated.internal_rating_rank,
        credit_aggregated.rating_pd_prior,
        credit_aggregated.credit_limit_amount,
        credit_aggregated.outstanding_balance_amount,
        credit_aggregated.collateral_value_amount,
        credit_aggregated.max_overdue_days,
        credit_aggregated.watchlist_flag,
        credit_aggregated.client_key is not null as has_credit_profile,
        case when credit_aggregated.client_key is not null
            then coalesce(events_aggregated.risk_event_count_12m, 0) end as risk_event_count_12m,
        case when credit_aggregated.client_key is not null
            then coalesce(events_aggregated.distress_event_count_12m, 0) end
            as distress_event_count_12m,
        case when credit_aggregated.client_key is not null
            then coalesce(events_aggregated.legal_event_count_12m, 0) end
            as legal_event_count_12m,
        coalesce(events_aggregated.live_default_count, 0) as live_default_count,
        coalesce(events_aggregated.default_count_ever, 0) as default_count_ever,
        {#- registry -#}
        registry_aggregated.registry_revoked_flag,
        registry_aggregated.litigation_count_12m,
        registry_aggregated.penalty_count_12m,
        registry_aggregated.bureau_score,
        coalesce(registry_aggregated.registered_capital_amount, clients.registered_capital_amount)
            as registered_capital_amount,
        coalesce(registry_aggregated.association_count, crm_at_period.crm_association_flag)
            as association_count,
        coalesce(registry_aggregated.listed_flag, crm_at_period.crm_listed_flag) as listed_flag,
        registry_aggregated.client_key is not null as has_registry,
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
)

select * from features
