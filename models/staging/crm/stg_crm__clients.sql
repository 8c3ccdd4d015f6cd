{{ config(**staging_by_delivery('snapshot', 'crm', 'clients', ['crm_id'])) }}
{%- set content_columns = [
    'client_name', 'uscc', 'contact_name', 'contact_phone', 'email', 'province', 'city',
    'industry', 'client_type', 'account_manager', 'association_member', 'listed', 'created_at',
    'updated_at'] %}
{%- set carried_columns = [
    'crm_id', 'extract_date', 'is_latest_delivery', 'is_latest_version', 'source_file',
    'source_row_number', 'loaded_at'] %}

with

delivered as (
    {{ snapshot_deliveries(source('crm', 'clients'), ['crm_id']) }}
),

{#- each distinct delivered version cleaned once (macros/cleaning/deliveries.sql) -#}
clients as (
    {{ distinct_versions('delivered', content_columns) }}
),

cleaned as (
    select
        client_name as client_name_raw,
        uscc as uscc_raw,
        {{ clean_uscc('uscc') }} as uscc,
        {{ clean_free_text('contact_name') }} as contact_name,
        contact_phone as contact_phone_raw,
        {{ phone_digits('contact_phone') }} as __contact_phone_digits,
        lower({{ clean_code('email') }}) as email,
        {{ clean_region('province') }} as province,
        {{ clean_region('city') }} as city,
        {{ clean_free_text('industry') }} as industry,
        {{ clean_code('client_type') }} as client_type,
        {{ clean_free_text('account_manager') }} as account_manager,
        {{ parse_boolean('association_member') }} as is_association_member,
        {{ parse_boolean('listed') }} as is_listed,
        {{ parse_timestamp('created_at') }} as created_at,
        {{ parse_timestamp('updated_at') }} as updated_at,
        {{ version_columns(content_columns) }}
    from clients
),

names_split as (
    {{ split_company_names_once('cleaned', 'client_name') }}
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
        {{ uscc_org_code('uscc', 'uscc_status') }} as uscc_org_code,
        {{ canonical_phone('__contact_phone_digits') }} as contact_phone
    from codes_checked
),

versions_rejoined as (
    {{ rejoin_versions('delivered', 'versions_finished', content_columns, carried_columns) }}
),

final as (
    select
        crm_id,
        client_name_raw,
        client_name_clean,
        client_name_core,
        client_name_region,
        client_name_legal_form,
        client_name_branch,
        uscc_raw,
        uscc,
        uscc_status,
        uscc_org_code,
        contact_name,
        contact_phone_raw,
        contact_phone,
        email,
        province,
        city,
        industry,
        client_type,
        account_manager,
        is_association_member,
        is_listed,
        coalesce(cast(created_at as date) > extract_date, false) as is_future_date,
        created_at,
        updated_at,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from versions_rejoined
)

select * from final
