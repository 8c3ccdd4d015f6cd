{{ config(**staging_by_delivery('snapshot', 'projects', 'participations', ['project_code', 'partner_name', 'role'])) }}
with

participations as (
    {{ snapshot_deliveries(source('projects', 'participations'),
                           ['project_code', 'partner_name', 'role']) }}
),

cleaned as (
    select
        project_code,
        partner_name,
        role,
        {{ dbt.concat(['project_code', "'|'", 'partner_name', "'|'", 'role']) }} as record_id,
        partner_name as partner_name_raw,
        {{ clean_code('performance_rating') }} as performance_rating,
        {{ parse_amount('committed_amount', "'万元'") }} as committed_amount,
        {{ parse_amount('contributed_amount', "'万元'") }} as contributed_amount,
        {{ parse_boolean('delivered_on_time') }} as is_delivered_on_time,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from participations
),

names_split as (
    {{ split_company_names_once('cleaned', 'partner_name') }}
),

final as (
    select
        project_code,
        partner_name,
        role,
        record_id,
        partner_name_raw,
        partner_name_clean,
        partner_name_core,
        partner_name_region,
        partner_name_legal_form,
        partner_name_branch,
        performance_rating,
        committed_amount,
        contributed_amount,
        coalesce(
            committed_amount < 0 or contributed_amount < 0, false
        ) as is_negative_amount,
        is_delivered_on_time,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from names_split
)

select * from final
