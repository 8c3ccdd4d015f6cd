{{ config(**staging_by_delivery('snapshot', 'external', 'registry', ['uscc'])) }}
with

registry as (
    {{ snapshot_deliveries(source('external', 'registry'), ['uscc']) }}
),

cleaned as (
    select
        uscc as uscc_raw,
        {{ clean_uscc('uscc') }} as uscc,
        registered_name as registered_name_raw,
        former_names as former_names_json,
        {{ clean_free_text('legal_representative') }} as legal_representative,
        {{ clean_code('registration_status') }} as registration_status,
        upper({{ clean_code('industry_code') }}) as industry_code,
        {{ clean_region('province') }} as province,
        {{ clean_region('city') }} as city,
        {{ clean_optional_label('listed_board') }} as listed_board,
        association_memberships as association_memberships_json,
        {{ json_array_length('association_memberships') }} as association_count,
        {{ json_array_length('former_names') }} as former_name_count,
        {{ parse_amount('registered_capital', "'万元'") }} as registered_capital_amount,
        {{ parse_integer('litigation_count_12m') }} as litigation_count_12m,
        {{ parse_integer('penalty_count_12m') }} as penalty_count_12m,
        {{ parse_integer('bureau_score') }} as bureau_score,
        {{ parse_date('established_date') }} as established_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from registry
),

names_split as (
    {{ split_company_names_once('cleaned', 'registered_name') }}
),

codes_checked as (
    select
        names_split.*,
        {{ uscc_status('uscc') }} as uscc_status
    from names_split
),

sections as (select * from {{ ref('gbt4754_sections') }}),

{#- The GB/T 4754 section of the industry code: its letter (K7010), or, for a code delivered
    without one (7010), the section whose range of two-digit divisions holds it; the code then
    gains its letter. A code that is neither stays as delivered, without a section. -#}
industries_coded as (
    select
        codes_checked.*,
        coalesce(by_letter.industry_section, by_division.industry_section)
            as industry_section_found,
        by_division.industry_section as division_section
    from codes_checked
    left join sections as by_letter
        on substring(codes_checked.industry_code, 1, 1) = by_letter.industry_section
    left join sections as by_division
        on {{ regex_matches('codes_checked.industry_code', '^[0-9]{2,4}$') }}
        and substring(codes_checked.industry_code, 1, 2) >= by_division.division_from
        and substring(codes_checked.industry_code, 1, 2) <= by_division.division_to
),

final as (
    select
        uscc_raw,
        uscc,
        uscc_status,
        {{ uscc_org_code('uscc', 'uscc_status') }} as uscc_org_code,
        registered_name_raw,
        registered_name_clean,
        registered_name_core,
        registered_name_region,
        registered_name_legal_form,
        registered_name_branch,
        former_names_json,
        legal_representative,
        registration_status,
        case
            when division_section is not null
                then {{ dbt.concat(['division_section', 'industry_code']) }}
            else industry_code
        end as industry_code,
        industry_section_found as industry_section,
        province,
        city,
        listed_board,
        association_memberships_json,
        association_count,
        former_name_count,
        registered_capital_amount,
        litigation_count_12m,
        penalty_count_12m,
        bureau_score,
        listed_board is not null as is_listed,
        registration_status in ('存续', '在业') as is_active,
        coalesce(established_date > extract_date, false) as is_future_date,
        established_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from industries_coded
)

select * from final
