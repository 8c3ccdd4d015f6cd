{{ config(**staging_by_delivery('incremental', 'service', 'tickets', ['ticket_id'])) }}
with

tickets as (
    {{ incremental_deliveries(source('service', 'tickets'), ['ticket_id']) }}
),

cleaned as (
    select
        ticket_id,
        caller_phone as caller_phone_raw,
        {{ phone_digits('caller_phone') }} as __caller_phone_digits,
        {{ clean_free_text('caller_name') }} as caller_name,
        company_mentioned as company_mentioned_raw,
        {{ clean_company_name('company_mentioned') }} as company_mentioned_clean,
        {{ clean_code('channel') }} as channel,
        {{ clean_code('category') }} as category,
        {{ parse_integer('satisfaction') }} as satisfaction,
        {{ parse_timestamp('opened_at') }} as opened_at,
        {{ parse_timestamp('closed_at') }} as closed_at,
        extract_date,
        first_extract_date,
        source_file,
        source_row_number,
        loaded_at
    from tickets
),

names_split as (
    {{ split_company_name('cleaned', 'company_mentioned') }}
),

final as (
    select
        ticket_id,
        caller_phone_raw,
        {{ canonical_phone('__caller_phone_digits') }} as caller_phone,
        caller_name,
        company_mentioned_raw,
        company_mentioned_clean,
        company_mentioned_core,
        company_mentioned_region,
        company_mentioned_legal_form,
        company_mentioned_branch,
        channel,
        category,
        satisfaction,
        coalesce(cast(opened_at as date) > extract_date, false) as is_future_date,
        coalesce(closed_at < opened_at, false) as is_closed_before_opened,
        cast(opened_at as date) as opened_date,
        opened_at,
        closed_at,
        extract_date,
        first_extract_date,
        source_file,
        source_row_number,
        loaded_at
    from names_split
)

select * from final
