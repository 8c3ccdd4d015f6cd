{#- One row per identity-bearing source record except service tickets (those are attributed
    after clustering, see int_identity_tickets_attributed): crm clients, finance customers, risk
    credit profiles, project participations and registry entries, in their latest delivered
    version, with the fields matching uses and the record's anchor sort key. -#}
with

crm_clients as (select * from {{ ref('stg_crm__clients') }}),

finance_customers as (select * from {{ ref('stg_finance__customers') }}),

risk_credit_profiles as (select * from {{ ref('stg_risk__credit_profiles') }}),

project_participations as (select * from {{ ref('stg_projects__participations') }}),

registry as (select * from {{ ref('stg_external__registry') }}),

survivorship as (select * from {{ ref('identity_survivorship') }}),

industry_words as (select * from {{ ref('identity_industry_words') }}),

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
        {{ e.name }}_region as name_region,
        {{ identity_legal_family(e.name ~ '_legal_form') }} as name_legal_family,
        {% if e.uscc -%}
        case when uscc_status = 'valid' then uscc end as uscc,
        uscc_status,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as uscc,
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

anchor_authority as (
    select
        department,
        authority_rank
    from survivorship
    where attribute = 'anchor'
),

{#- The industry word a core ends with (longest of the seed's words), via one equality join
    per word length so it stays a hash join on a tiny table. -#}
{%- set word_lengths = [6, 5, 4, 3, 2] %}
records_with_industry_word as (
    select
        records_unioned.*,
        coalesce(
            {%- for n in word_lengths %}
            words_{{ n }}.industry_word{{ ',' if not loop.last }}
            {%- endfor %}
        ) as name_industry_word
    from records_unioned
    {%- for n in word_lengths %}
    left join industry_words as words_{{ n }}
        on length(words_{{ n }}.industry_word) = {{ n }}
        and length(records_unioned.name_core) > {{ n }}
        and substring(records_unioned.name_core, length(records_unioned.name_core) - {{ n - 1 }},
                      {{ n }}) = words_{{ n }}.industry_word
    {%- endfor %}
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
        {#- The stem (字号): the core without its industry word. A name typed as the bare stem
            (no legal form, no industry word) is a short name. -#}
        case
            when records_unioned.name_industry_word is not null
                then substring(records_unioned.name_core, 1,
                               length(records_unioned.name_core)
                               - length(records_unioned.name_industry_word))
            else records_unioned.name_core
        end as name_stem,
        (records_unioned.name_legal_family is null
            and records_unioned.name_industry_word is null) as is_short_name,
        coalesce(anchor_authority.authority_rank, 9) as authority_rank
    from records_with_industry_word as records_unioned
    left join anchor_authority
        on records_unioned.department = anchor_authority.department
)

select * from records_keyed
