{{ config(**staging_by_delivery('incremental', 'finance', 'receipts', ['voucher_no'])) }}
with

receipts as (
    {{ incremental_deliveries(source('finance', 'receipts'), ['voucher_no']) }}
),

cleaned as (
    select
        voucher_no,
        {{ clean_code('customer_code') }} as customer_code,
        {{ clean_code('project_code') }} as project_code,
        {{ clean_code('fee_type') }} as fee_type,
        {{ clean_code('unit') }} as unit,
        amount as amount_raw,
        {{ parse_amount('amount', 'unit') }} as receipt_amount,
        {{ parse_date('receipt_date') }} as receipt_date,
        extract_date,
        first_extract_date,
        source_file,
        source_row_number,
        loaded_at
    from receipts
),

final as (
    select
        voucher_no,
        customer_code,
        project_code,
        fee_type,
        unit,
        amount_raw,
        receipt_amount,
        coalesce(receipt_amount < 0, false) as is_reversal,
        coalesce(receipt_date > extract_date, false) as is_future_date,
        receipt_date,
        extract_date,
        first_extract_date,
        source_file,
        source_row_number,
        loaded_at
    from cleaned
)

select * from final
