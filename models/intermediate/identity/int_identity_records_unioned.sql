{#- One row per identity-bearing source record except service tickets (those are attributed
    after clustering, see int_identity_tickets_attributed): crm clients, finance customers, risk
    credit profiles, project participations and registry entries, in their latest delivered
    version, with the fields matching uses and the record's anchor sort key.
    tax_code: the organisation code (GB 11714, 9 characters) the record's tax identifier carries:
    a valid USCC's characters 9-17; a USCC failing its check character repaired when exactly one
    swap of two adjacent characters makes it valid (the contract's transposed pair); a legacy
    15-digit tax registration number's characters 7-15 when their own check passes. The same
    company keeps its organisation code from the legacy number to the USCC. -#}
with

crm_clients as (select * from {{ ref('stg_crm__clients') }}),

finance_customers as (select * from {{ ref('stg_finance__customers') }}),

risk_credit_profiles as (select * from {{ ref('stg_risk__credit_profiles') }}),

project_participations as (select * from {{ ref('stg_projects__participations') }}),

registry as (select * from {{ ref('stg_external__registry') }}),

survivorship as (select * from {{ ref('identity_survivorship') }}),

industry_words as (select * from {{ ref('int_identity_industry_words_learned') }}),

regions as (select * from {{ ref('regions') }}),

{%- set entities = [
    {'cte': 'crm_clients', 'department': 'crm', 'entity': 'clients', 'id': 'crm_id',
     'name': 'client_name', 'uscc': true, 'phone': 'contact_phone', 'city': 'city'},
    {'cte': 'finance_customers', 'department': 'finance', 'entity': 'customers',
     'id': 'customer_code', 'name': 'customer_name', 'uscc': true, 'phone': none, 'city': none},
    {'cte': 'risk_credit_profiles', 'department': 'risk', 'entity': 'credit_profiles',
     'id': 'risk_client_no', 'name': 'client_name', 'uscc': true, 'phone': none, 'city': none},
    {'cte': 'project_participations', 'department': 'projects', 'entity': 'participations',
     'id': none, 'name': 'partner_name', 'uscc': false, 'phone': none, 'city': none},
    {'cte': 'registry', 'department': 'external', 'entity': 'registry', 'id': 'uscc',
     'name': 'registered_name', 'uscc': true, 'phone': none, 'city': 'city'},
] %}

{%- for e in entities %}
{%- if e.id is none %}
{%- set record_id = dbt.concat(['project_code', "'|'", 'partner_name_raw', "'|'", 'role']) %}
{%- else %}
{%- set record_id = e.id %}
{%- endif %}

{{ e.cte }}_versions as (
    select
        {{ e.cte }}.*,
        {{ record_id }} as identity_record_id,
        min(extract_date) over (partition by {{ record_id }}) as first_seen_date,
        max(extract_date) over (partition by {{ record_id }}) as last_seen_date
    from {{ e.cte }}
),

{{ e.cte }}_records as (
    select
        '{{ e.department }}' as department,
        '{{ e.entity }}' as entity,
        identity_record_id as record_id,
        {{ e.name }}_raw as name_raw,
        {{ e.name }}_clean as name_clean,
        {{ identity_core_key(e.name ~ '_core') }} as name_core,
        {#- A group's (集团) or holding's (控股) own name: its members carry its 字号. -#}
        coalesce({{ e.name }}_core like '%集团' or {{ e.name }}_core like '%控股', false)
            as is_group_name,
        {{ e.name }}_region as name_region,
        {{ identity_legal_family(e.name ~ '_legal_form') }} as name_legal_family,
        {{ identity_legal_kind(e.name ~ '_legal_form') }} as name_legal_kind,
        {% if e.uscc -%}
        case when uscc_status = 'valid' then uscc end as uscc,
        uscc as uscc_clean,
        uscc_status,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as uscc,
        cast(null as {{ dbt.type_string() }}) as uscc_clean,
        'missing' as uscc_status,
        {%- endif %}
        {% if e.phone -%}
        {{ e.phone }} as phone,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as phone,
        {%- endif %}
        {% if e.city -%}
        {{ e.city }} as city,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as city,
        {%- endif %}
        source_file,
        source_row_number,
        loaded_at,
        first_seen_date,
        last_seen_date
    from {{ e.cte }}_versions
    where is_latest_version
),
{%- endfor %}

records_unioned as (
    {%- for e in entities %}
    select * from {{ e.cte }}_records
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

{#- A USCC failing its check: every swap of two adjacent (different) characters; the repair is
    the one swap that makes a valid code, when exactly one does. -#}
codes_to_repair as (
    select distinct uscc_clean
    from records_unioned
    where uscc_status = 'invalid_check'
),

swap_positions as (
    {%- for position in range(1, 18) %}
    select {{ position }} as swap_position{{ ' union all' if not loop.last }}
    {%- endfor %}
),

codes_swapped as (
    select
        codes_to_repair.uscc_clean,
        {{ uscc_adjacent_swap('codes_to_repair.uscc_clean', 'swap_positions.swap_position') }}
            as candidate_uscc
    from codes_to_repair
    cross join swap_positions
    where substr(codes_to_repair.uscc_clean, swap_positions.swap_position, 1)
        <> substr(codes_to_repair.uscc_clean, swap_positions.swap_position + 1, 1)
),

codes_repaired as (
    select
        uscc_clean,
        min(candidate_uscc) as uscc_repaired
    from codes_swapped
    where {{ uscc_status('candidate_uscc') }} = 'valid'
    group by uscc_clean
    having count(*) = 1
),

records_with_tax_code as (
    select
        records_unioned.*,
        codes_repaired.uscc_repaired,
        case
            when records_unioned.uscc_status = 'valid'
                then substr(records_unioned.uscc_clean, 9, 9)
            when codes_repaired.uscc_repaired is not null
                then substr(codes_repaired.uscc_repaired, 9, 9)
            when records_unioned.uscc_status = 'legacy_tax_id'
                and {{ org_code_check_ok('records_unioned.uscc_clean', 7) }}
                then substr(records_unioned.uscc_clean, 7, 9)
        end as tax_code,
        case
            when records_unioned.uscc_status = 'valid' then 'uscc'
            when codes_repaired.uscc_repaired is not null then 'uscc_repaired'
            when records_unioned.uscc_status = 'legacy_tax_id'
                and {{ org_code_check_ok('records_unioned.uscc_clean', 7) }}
                then 'legacy_tax_id'
        end as tax_code_source
    from records_unioned
    left join codes_repaired
        on records_unioned.uscc_clean = codes_repaired.uscc_clean
),

{#- Province and level of every region the seed knows (one province per region). -#}
known_regions as (
    select distinct region, province, region_level
    from regions
    where region_level in ('province', 'city')
),

{#- The record's region: the region in its name, else its own city (CRM, registry); a province
    in the name with a city of that province gives the city (the more precise of the two). -#}
records_with_region as (
    select
        records_with_tax_code.*,
        case
            when name_regions.region_level = 'province'
                and city_regions.province = records_with_tax_code.name_region
                then records_with_tax_code.city
            else coalesce(records_with_tax_code.name_region, records_with_tax_code.city)
        end as region_key,
        {#- Where the code was issued: a USCC's characters 3-8 and a legacy number's first six
            are the registering authority's administrative division (GB 32100-2015, GB/T 2260);
            the first four of them name its city. -#}
        case records_with_tax_code.tax_code_source
            when 'uscc' then substr(records_with_tax_code.uscc_clean, 3, 4)
            when 'uscc_repaired' then substr(records_with_tax_code.uscc_repaired, 3, 4)
            when 'legacy_tax_id' then substr(records_with_tax_code.uscc_clean, 1, 4)
        end as tax_code_division
    from records_with_tax_code
    left join known_regions as name_regions
        on records_with_tax_code.name_region = name_regions.region
    left join known_regions as city_regions
        on records_with_tax_code.city = city_regions.region
),

{#- region_province: the province the region lies in (itself for a province), NULL when the
    seed does not know the region; regions compare through it (identity_regions_conflict). -#}
records_with_province as (
    select
        records_with_region.*,
        known_regions.province as region_province
    from records_with_region
    left join known_regions
        on records_with_region.region_key = known_regions.region
),

anchor_authority as (
    select
        department,
        authority_rank
    from survivorship
    where attribute = 'anchor'
),

{#- The industry word a core ends with (longest of the seed's words). -#}
records_with_industry_word as (
    select
        records_unioned.*,
        {{ identity_industry_word('records_unioned.name_core', 'words') }} as name_industry_word
    from records_with_province as records_unioned
    {{ identity_industry_word_joins('industry_words', 'records_unioned.name_core', 'words') }}
),

records_keyed as (
    select
        {{ dbt.concat(['records_unioned.department', "'|'", 'records_unioned.entity', "'|'",
                       'records_unioned.record_id']) }} as record_key,
        {#- Sorts by first seen, then department authority, then record: the minimum over a
            cluster is its anchor record. -#}
        {{ dbt.concat([
            'cast(records_unioned.first_seen_date as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(coalesce(anchor_authority.authority_rank, 9) as ' ~ dbt.type_string() ~ ')',
            "'|'", 'records_unioned.department', "'|'", 'records_unioned.entity', "'|'",
            'records_unioned.record_id']) }} as anchor_sort_key,
        records_unioned.*,
        {#- The stem (字号): the core without its industry word. A name typed without a legal
            form (a bare stem such as 中鼎经纬, or 中鼎经纬实业) is a short name: it says which
            company only through the full names it starts (placed after clustering), whether
            or not the seed knows the word that follows the stem. -#}
        case
            when records_unioned.name_industry_word is not null
                then substring(records_unioned.name_core, 1,
                               length(records_unioned.name_core)
                               - length(records_unioned.name_industry_word))
            else records_unioned.name_core
        end as name_stem,
        (records_unioned.name_legal_family is null) as is_short_name,
        coalesce(anchor_authority.authority_rank, 9) as authority_rank
    from records_with_industry_word as records_unioned
    left join anchor_authority
        on records_unioned.department = anchor_authority.department
)

select * from records_keyed
