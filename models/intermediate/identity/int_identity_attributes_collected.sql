{#- One row per client, golden attribute and source record that knows a value for it (long
    format, values as strings), with the department's authority rank for that attribute (seed
    identity_survivorship) and the record's recency. dim_clients keeps, per client and attribute,
    the value of the best-ranked record: authority order, then most recently seen, then record id.
    Tickets name only the clients they alone know: a prospect (ticket_new_client) takes the
    mentioned company's name, the unknown member its var-given name. -#}
with

clusters as (select * from {{ ref('int_identity_clients_resolved') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

crm_clients as (select * from {{ ref('stg_crm__clients') }} where is_latest_version),

registry as (select * from {{ ref('stg_external__registry') }} where is_latest_version),

survivorship as (select * from {{ ref('identity_survivorship') }}),

crm_industry_sections as (select * from {{ ref('crm_industry_sections') }}),

tickets as (select * from {{ ref('int_identity_tickets_attributed') }}),

records_clustered as (
    select
        records.*,
        clusters.client_key
    from records
    inner join clusters
        on records.record_key = clusters.record_key
),

{#- Attributes every identity-bearing record can carry. -#}
record_values as (
    select client_key, department, record_id, last_seen_date,
        'registered_name' as attribute, name_clean as attribute_value
    from records_clustered
    union all
    select client_key, department, record_id, last_seen_date,
        'uscc' as attribute, uscc as attribute_value
    from records_clustered
),

crm_clustered as (
    select
        crm_clients.*,
        clusters.client_key,
        crm_industry_sections.industry_section as mapped_industry_section
    from crm_clients
    inner join clusters
        on clusters.department = 'crm'
        and clusters.entity = 'clients'
        and crm_clients.crm_id = clusters.record_id
    left join crm_industry_sections
        on crm_clients.industry = crm_industry_sections.industry_text
),

{%- set crm_attributes = {
    'province': 'province',
    'city': 'city',
    'industry_section': 'mapped_industry_section',
    'client_type': 'client_type',
    'contact_name': 'contact_name',
    'contact_phone': 'contact_phone',
    'contact_email': 'email',
    'account_manager': 'account_manager',
    'is_listed': 'is_listed',
} %}

crm_values as (
    {%- for attribute, column in crm_attributes.items() %}
    select client_key, 'crm' as department, crm_id as record_id, extract_date as last_seen_date,
        '{{ attribute }}' as attribute,
        cast({{ column }} as {{ dbt.type_string() }}) as attribute_value
    from crm_clustered
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

registry_clustered as (
    select
        registry.*,
        clusters.client_key
    from registry
    inner join clusters
        on clusters.department = 'external'
        and clusters.entity = 'registry'
        and registry.uscc = clusters.record_id
),

{%- set registry_attributes = {
    'province': 'province',
    'city': 'city',
    'industry_code': 'industry_code',
    'industry_section': 'industry_section',
    'registration_status': 'registration_status',
    'listed_board': 'listed_board',
    'is_listed': "case when listed_board is not null then 'true' end",
    'registered_capital_amount': 'registered_capital_amount',
    'established_date': 'established_date',
} %}

registry_values as (
    {%- for attribute, column in registry_attributes.items() %}
    select client_key, 'external' as department, uscc as record_id,
        extract_date as last_seen_date,
        '{{ attribute }}' as attribute,
        cast({{ column }} as {{ dbt.type_string() }}) as attribute_value
    from registry_clustered
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

ticket_values as (
    select client_key, department, record_id, last_seen_date,
        'registered_name' as attribute,
        case
            when match_rule = 'ticket_unattributed'
                then '{{ var("identity_unattributed_client_name") }}'
            else company_mentioned_clean
        end as attribute_value
    from tickets
    where match_rule in ('ticket_new_client', 'ticket_unattributed')
),

all_values as (
    select * from record_values
    union all
    select * from ticket_values
    union all
    select * from crm_values
    union all
    select * from registry_values
),

values_ranked as (
    select
        all_values.client_key,
        all_values.attribute,
        all_values.attribute_value,
        all_values.department,
        all_values.record_id,
        all_values.last_seen_date,
        survivorship.authority_rank,
        row_number() over (
            partition by all_values.client_key, all_values.attribute
            order by
                survivorship.authority_rank,
                all_values.last_seen_date desc,
                all_values.record_id
        ) as value_rank
    from all_values
    inner join survivorship
        on all_values.attribute = survivorship.attribute
        and all_values.department = survivorship.department
    where all_values.attribute_value is not null
)

select * from values_ranked
