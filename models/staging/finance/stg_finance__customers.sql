{{ config(**staging_by_delivery('snapshot', 'finance', 'customers', ['customer_code'])) }}
{%- set content_columns = [
    'customer_name', 'tax_id'] %}
{%- set carried_columns = [
    'customer_code', 'extract_date', 'is_latest_delivery', 'is_latest_version', 'source_file',
    'source_row_number', 'loaded_at'] %}

with

delivered as (
    {{ snapshot_deliveries(source('finance', 'customers'), ['customer_code']) }}
),

{#- each distinct delivered version cleaned once (macros/cleaning/deliveries.sql) -#}
customers as (
    {{ distinct_versions('delivered', content_columns) }}
),

cleaned as (
    select
        customer_name as customer_name_raw,
        tax_id as uscc_raw,
        {{ clean_uscc('tax_id') }} as uscc,
        {{ version_columns(content_columns) }}
    from customers
),

names_split as (
    {{ split_company_names_once('cleaned', 'customer_name') }}
),

codes_checked as (
    select
        names_split.*,
        {{ uscc_status('uscc') }} as uscc_status
    from names_split
),

versions_finished as (
    select
        codes_checked.*,
        {{ uscc_org_code('uscc', 'uscc_status') }} as uscc_org_code
    from codes_checked
),

versions_rejoined as (
    {{ rejoin_versions('delivered', 'versions_finished', content_columns, carried_columns) }}
),

final as (
    select
        customer_code,
        customer_name_raw,
        customer_name_clean,
        customer_name_core,
        customer_name_region,
        customer_name_legal_form,
        customer_name_branch,
        uscc_raw,
        uscc,
        uscc_status,
        uscc_org_code,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from versions_rejoined
)

select * from final
