{{ config(**staging_by_delivery('snapshot', 'finance', 'statements', ['customer_code', 'fiscal_year'])) }}
{%- set amounts = ['revenue', 'net_profit', 'total_assets', 'total_liabilities', 'current_assets',
                   'current_liabilities', 'operating_cash_flow', 'interest_expense'] -%}
{%- set content_columns = [
    'fiscal_year', 'revenue', 'net_profit', 'total_assets', 'total_liabilities', 'current_assets',
    'current_liabilities', 'operating_cash_flow', 'interest_expense', 'audited'] %}
{%- set carried_columns = [
    'customer_code', 'extract_date', 'is_latest_delivery', 'is_latest_version', 'source_file',
    'source_row_number', 'loaded_at'] %}

with

delivered as (
    {{ snapshot_deliveries(source('finance', 'statements'), ['customer_code', 'fiscal_year']) }}
),

{#- each distinct delivered version cleaned once (macros/cleaning/deliveries.sql) -#}
statements as (
    {{ distinct_versions('delivered', content_columns) }}
),

cleaned as (
    select
        {{ parse_year('fiscal_year') }} as fiscal_year,
        {%- for column in amounts %}
        {{ parse_amount(column, "'万元'") }} as {{ column }}_amount,
        {%- endfor %}
        {{ parse_boolean('audited') }} as is_audited,
        {{ version_columns(content_columns) }}
    from statements
),

versions_rejoined as (
    {{ rejoin_versions('delivered', 'cleaned', content_columns, carried_columns) }}
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
    from versions_rejoined
)

select * from final
