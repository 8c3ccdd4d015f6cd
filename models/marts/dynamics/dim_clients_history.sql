{#- One row per client per version of its golden-record attributes (snapshot
    dim_clients_snapshot): what the client looked like from valid_from_date to valid_to_date,
    and which attributes changed against the version before. -#}

{%- set attributes = ['registered_name', 'uscc', 'registration_status', 'account_manager',
                      'client_type', 'province', 'city', 'industry_code', 'listed_board',
                      'is_retired'] %}
{%- set change_flags = [] %}
{%- for attribute in attributes %}
    {%- do change_flags.append(
        "case when " ~ attribute ~ " = previous_" ~ attribute ~ " or (" ~ attribute
        ~ " is null and previous_" ~ attribute ~ " is null) then '' else '" ~ attribute
        ~ " ' end") %}
{%- endfor %}

with

versions as (select * from {{ ref('dim_clients_snapshot') }}),

versions_ordered as (
    select
        versions.*,
        row_number() over (partition by client_key order by dbt_valid_from) as version_number,
        {%- for attribute in attributes %}
        lag({{ attribute }}) over (partition by client_key order by dbt_valid_from)
            as previous_{{ attribute }}{{ ',' if not loop.last }}
        {%- endfor %}
    from versions
),

changes_named as (
    select
        *,
        case when version_number = 1 then 'first_seen' else
        {{ dbt.concat(change_flags) }}
        end as changed_attributes_spaced
    from versions_ordered
),

history as (
    select
        client_key,
        registered_name,
        uscc,
        registration_status,
        account_manager,
        client_type,
        province,
        city,
        industry_code,
        listed_board,
        trim(changed_attributes_spaced) as changed_attributes,
        previous_registered_name,
        previous_registration_status,
        version_number,
        is_retired,
        dbt_valid_to is null as is_current_version,
        cast(dbt_valid_from as date) as valid_from_date,
        cast(dbt_valid_to as date) as valid_to_date
    from changes_named
)

select * from history
