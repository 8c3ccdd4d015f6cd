{%- set amounts = ['revenue', 'net_profit', 'total_assets', 'total_liabilities', 'current_assets',
                   'current_liabilities', 'operating_cash_flow', 'interest_expense'] -%}
with

statements as (
    {{ snapshot_deliveries(source('finance', 'statements'), ['customer_code', 'fiscal_year']) }}
),

cleaned as (
    select
        customer_code,
        {{ parse_integer('fiscal_year') }} as fiscal_year,
        {%- for column in amounts %}
        {{ parse_amount(column, "'万元'") }} as {{ column }}_amount,
        {%- endfor %}
        {{ parse_boolean('audited') }} as is_audited,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from statements
),

final as (
    select
        customer_code,
        fiscal_year,
        {%- for column in amounts %}
        {{ column }}_amount,
        {%- endfor %}
        is_audited,
        coalesce(
            total_assets_amount < 0
            or total_liabilities_amount < 0
            or current_assets_amount < 0
            or current_liabilities_amount < 0,
            false
        ) as is_negative_balance,
        coalesce(fiscal_year > extract(year from extract_date), false) as is_future_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from cleaned
)

select * from final
