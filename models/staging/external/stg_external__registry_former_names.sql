{#- One row per registry company (latest version) per former name. The JSON array is unnested by
    the dispatched macro unnest_json_string_array (add a spark__ version to port). -#}
with

registry as (
    select * from {{ ref('stg_external__registry') }}
),

latest_versions as (
    select
        uscc,
        former_names_json,
        extract_date,
        source_file,
        source_row_number,
        loaded_at
    from registry
    where is_latest_version
),

former_names as (
    {{ unnest_json_string_array('latest_versions', 'former_names_json',
                                ['uscc', 'extract_date', 'source_file', 'source_row_number',
                                 'loaded_at']) }}
),

cleaned as (
    select
        uscc,
        cast(element_position as integer) as former_name_position,
        element as former_name_raw,
        {{ clean_company_name('element') }} as former_name_clean,
        extract_date,
        source_file,
        source_row_number,
        loaded_at
    from former_names
),

names_split as (
    {{ split_company_name('cleaned', 'former_name') }}
),

final as (
    select
        uscc,
        former_name_position,
        former_name_raw,
        former_name_clean,
        former_name_core,
        former_name_region,
        former_name_legal_form,
        former_name_branch,
        extract_date,
        source_file,
        source_row_number,
        loaded_at
    from names_split
)

select * from final
