{#- Raw-layer column lists per entity, mirroring tiering/contract.py (tests/test_staging.py
    checks they agree). Used to build unit-test fixtures for sources, which dbt cannot
    introspect because the raw layer is read through external locations. -#}
{% macro raw_columns(department, entity) -%}
    {%- set columns = {
        'crm.clients': ['crm_id', 'client_name', 'uscc', 'contact_name', 'contact_phone',
            'email', 'province', 'city', 'industry', 'client_type', 'account_manager',
            'association_member', 'listed', 'created_at', 'updated_at'],
        'finance.customers': ['customer_code', 'customer_name', 'tax_id'],
        'finance.receipts': ['voucher_no', 'customer_code', 'receipt_date', 'amount',
            'unit', 'fee_type', 'project_code'],
        'finance.statements': ['customer_code', 'fiscal_year', 'revenue', 'net_profit',
            'total_assets', 'total_liabilities', 'current_assets', 'current_liabilities',
            'operating_cash_flow', 'interest_expense', 'audited'],
        'risk.credit_profiles': ['risk_client_no', 'uscc', 'client_name',
            'internal_rating', 'rating_date', 'credit_limit', 'outstanding_balance',
            'collateral_value', 'max_overdue_days', 'guarantee_type', 'on_watchlist'],
        'risk.risk_events': ['event_id', 'risk_client_no', 'event_date', 'event_type',
            'amount', 'severity', 'note'],
        'projects.projects': ['project_code', 'project_name', 'project_type', 'province',
            'city', 'total_investment', 'financing_need', 'risk_level', 'status',
            'start_date', 'planned_end_date'],
        'projects.participations': ['project_code', 'partner_name', 'role',
            'committed_amount', 'contributed_amount', 'performance_rating',
            'delivered_on_time'],
        'service.tickets': ['ticket_id', 'opened_at', 'closed_at', 'caller_phone',
            'caller_name', 'company_mentioned', 'channel', 'category', 'satisfaction'],
        'external.registry': ['uscc', 'registered_name', 'former_names',
            'legal_representative', 'registered_capital', 'established_date',
            'registration_status', 'industry_code', 'province', 'city', 'listed_board',
            'association_memberships', 'litigation_count_12m', 'penalty_count_12m',
            'bureau_score'],
    } -%}
    {{ return(columns[department ~ '.' ~ entity]) }}
{%- endmacro %}

{#- SQL fixture for a source in a unit test: every raw column (NULL unless given) plus the
    lineage columns. rows: list of dicts; _extract_date defaults to 2026-10-31 and _row_number
    to the row's position. Usage in YAML: format: sql, rows: "{{ raw_fixture('crm', 'clients',
    [{'crm_id': 'CRM000001', 'client_name': '...'}]) }}" -#}
{% macro raw_fixture(department, entity, rows) -%}
    {%- for row in rows %}
    select
        {%- for column in raw_columns(department, entity) %}
        {%- if row.get(column) is none %}
        cast(null as {{ dbt.type_string() }}) as {{ column }},
        {%- else %}
        cast('{{ row[column] | replace("'", "''") }}' as {{ dbt.type_string() }}) as {{ column }},
        {%- endif %}
        {%- endfor %}
        '{{ department }}' as _department,
        '{{ entity }}' as _entity,
        cast('{{ row.get('_extract_date', '2026-10-31') }}' as date) as _extract_date,
        '{{ department }}/{{ row.get('_extract_date', '2026-10-31') }}/{{ entity }}' as _source_file,
        cast({{ row.get('_row_number', loop.index) }} as bigint) as _row_number,
        cast('2026-11-28 00:00:00' as {{ dbt.type_timestamp() }}) as _loaded_at
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
