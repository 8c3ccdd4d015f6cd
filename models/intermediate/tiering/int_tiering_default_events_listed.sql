{#- One row per 违约 (default) risk event of a client, up to the as-of date: the label source
    of the risk model (default within the 12 months after a period) and of the tier
    monitoring. Risk events reach clients through the xref (risk, credit_profiles). -#}
with

risk_events as (select * from {{ ref('stg_risk__risk_events') }}),

xref as (select * from {{ ref('client_source_xref') }}),

defaults as (
    select
        risk_events.event_id,
        xref.client_key,
        risk_events.risk_client_no,
        risk_events.event_amount,
        risk_events.event_date,
        risk_events.first_extract_date
    from risk_events
    inner join xref
        on xref.department = 'risk'
        and xref.entity = 'credit_profiles'
        and xref.record_id = risk_events.risk_client_no
    where risk_events.event_type = '违约'
        and risk_events.event_date is not null
        and risk_events.event_date <= {{ run_as_of_date_literal() }}
)

select * from defaults
