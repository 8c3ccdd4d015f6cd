{#- One row per client: the golden record. Each golden attribute is the value of the
    best-ranked source record (seed identity_survivorship: authority order, then recency) and
    <attribute>_source names the department it came from. -#}
{%- set golden = [
    'registered_name', 'uscc', 'province', 'city', 'industry_code', 'industry_section',
    'client_type', 'contact_name', 'contact_phone', 'contact_email', 'account_manager',
    'registration_status', 'listed_board', 'is_listed', 'registered_capital_amount',
    'established_date',
] %}
with

xref as (select * from {{ ref('client_source_xref') }}),

attribute_values as (select * from {{ ref('int_identity_attributes_collected') }}),

golden_attributes as (select * from {{ ref('identity_golden_attributes') }}),

sections as (select * from {{ ref('gbt4754_sections') }}),

clients as (
    select
        client_key,
        min(first_seen_date) as first_seen_date,
        max(last_seen_date) as last_seen_date,
        count(*) as source_record_count,
        {%- for department in ['crm', 'finance', 'risk', 'projects', 'service', 'external'] %}
        max(case when department = '{{ department }}' then 1 else 0 end) = 1
            as has_{{ department }}{{ ',' if not loop.last }}
        {%- endfor %}
    from xref
    group by client_key
),

best_values as (
    select client_key, attribute, attribute_value, department
    from attribute_values
    where value_rank = 1
),

golden_pivoted as (
    select
        client_key,
        {%- for attribute in golden %}
        max(case when attribute = '{{ attribute }}' then attribute_value end) as {{ attribute }},
        max(case when attribute = '{{ attribute }}' then department end) as {{ attribute }}_source,
        {%- endfor %}
        count(*) as known_attribute_count
    from best_values
    group by client_key
),

completeness as (
    select
        best_values.client_key,
        count(*) as known_key_attribute_count
    from best_values
    inner join golden_attributes
        on best_values.attribute = golden_attributes.attribute
    where golden_attributes.counts_for_completeness
    group by best_values.client_key
),

key_attribute_total as (
    select count(*) as key_attribute_count
    from golden_attributes
    where counts_for_completeness
),

dim as (
    select
        clients.client_key,
        golden_pivoted.registered_name,
        golden_pivoted.uscc,
        golden_pivoted.province,
        golden_pivoted.city,
        golden_pivoted.industry_code,
        golden_pivoted.industry_section,
        sections.section_name as industry_section_name,
        golden_pivoted.client_type,
        golden_pivoted.contact_name,
        golden_pivoted.contact_phone,
        golden_pivoted.contact_email,
        golden_pivoted.account_manager,
        golden_pivoted.registration_status,
        golden_pivoted.listed_board,
        {%- for attribute in golden %}
        golden_pivoted.{{ attribute }}_source,
        {%- endfor %}
        clients.source_record_count,
        cast(golden_pivoted.registered_capital_amount as decimal(20, 2))
            as registered_capital_amount,
        cast(
            coalesce(completeness.known_key_attribute_count, 0) * 1.0
            / key_attribute_total.key_attribute_count as decimal(5, 4)
        ) as completeness_score,
        coalesce(golden_pivoted.is_listed = 'true', false) as is_listed,
        clients.client_key = '{{ var("identity_unattributed_client_key") }}' as is_unattributed,
        not (clients.has_crm or clients.has_finance or clients.has_risk or clients.has_projects
            or clients.has_external) as is_service_only,
        clients.has_crm,
        clients.has_finance,
        clients.has_risk,
        clients.has_projects,
        clients.has_service,
        clients.has_external,
        cast(golden_pivoted.established_date as date) as established_date,
        clients.first_seen_date,
        clients.last_seen_date
    from clients
    cross join key_attribute_total
    left join golden_pivoted
        on clients.client_key = golden_pivoted.client_key
    left join completeness
        on clients.client_key = completeness.client_key
    left join sections
        on golden_pivoted.industry_section = sections.industry_section
)

select * from dim
