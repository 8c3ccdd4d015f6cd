{{ config(**staging_by_delivery('incremental', 'risk', 'risk_events', ['event_id'])) }}
with

risk_events as (
    {{ incremental_deliveries(source('risk', 'risk_events'), ['event_id']) }}
),

cleaned as (
    select
        event_id,
        {{ clean_code('risk_client_no') }} as risk_client_no,
        {{ clean_code('event_type') }} as event_type,
        {{ clean_free_text('note') }} as note,
        {{ parse_amount('amount') }} as event_amount,
        {{ parse_integer('severity') }} as severity,
        {{ parse_date('event_date') }} as event_date,
        extract_date,
        first_extract_date,
        source_file,
        source_row_number,
        loaded_at
    from risk_events
),

final as (
    select
        event_id,
        risk_client_no,
        event_type,
        note,
        event_amount,
        severity,
        coalesce(event_date > extract_date, false) as is_future_date,
        event_date,
        extract_date,
        first_extract_date,
        source_file,
        source_row_number,
        loaded_at
    from cleaned
)

select * from final
