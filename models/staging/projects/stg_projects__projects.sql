{{ config(**staging_by_delivery('snapshot', 'projects', 'projects', ['project_code'])) }}
with

projects as (
    {{ snapshot_deliveries(source('projects', 'projects'), ['project_code']) }}
),

cleaned as (
    select
        project_code,
        {{ clean_free_text('project_name') }} as project_name,
        {{ clean_code('project_type') }} as project_type,
        {{ clean_region('province') }} as province,
        {{ clean_region('city') }} as city,
        {{ clean_code('risk_level') }} as risk_level,
        {{ clean_code('status') }} as status,
        {{ parse_amount('total_investment', "'亿元'") }} as total_investment_amount,
        {{ parse_amount('financing_need', "'万元'") }} as financing_need_amount,
        {{ parse_date('start_date') }} as start_date,
        {{ parse_date('planned_end_date') }} as planned_end_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from projects
),

final as (
    select
        project_code,
        project_name,
        project_type,
        province,
        city,
        risk_level,
        status,
        total_investment_amount,
        financing_need_amount,
        coalesce(
            total_investment_amount < 0 or financing_need_amount < 0, false
        ) as is_negative_amount,
        coalesce(planned_end_date < start_date, false) as is_end_before_start,
        start_date,
        planned_end_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from cleaned
)

select * from final
