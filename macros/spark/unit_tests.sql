{#- Unit-test fixtures on Spark. dbt renders a fixture as one `select ... union all select ...`
    per row; Spark plans every branch of that union as its own one-row relation and partition, so
    a seed input given without rows (ref('regions'): the whole seed, ~100 rows), inlined into
    each of the cleaning macros' region/legal-form joins, made one unit test run ~200 tasks per
    join and take minutes. On Spark the rows become one inline table (`values (...), (...)`), a
    single local relation. Other engines keep dbt's own fixture SQL (dbt.get_fixture_sql). -#}
{% macro get_fixture_sql(rows, column_name_to_data_types) -%}
    {{ return(adapter.dispatch('get_fixture_sql', 'tiering')(rows, column_name_to_data_types)) }}
{%- endmacro %}

{% macro default__get_fixture_sql(rows, column_name_to_data_types) -%}
    {{ return(dbt.get_fixture_sql(rows, column_name_to_data_types)) }}
{%- endmacro %}

{% macro spark__get_fixture_sql(rows, column_name_to_data_types) -%}
    {%- if not column_name_to_data_types -%}
        {%- set this_or_defer_relation = defer_relation
            if (defer_relation and not load_relation(this)) else this -%}
        {%- set column_name_to_data_types = {} -%}
        {%- for column in adapter.get_columns_in_relation(this_or_defer_relation) -%}
            {%- do column_name_to_data_types.update({column.name | lower: column.data_type}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if not column_name_to_data_types or (rows | length) == 0 -%}
        {{ return(dbt.get_fixture_sql(rows, column_name_to_data_types)) }}
    {%- endif -%}
    {{ validate_fixture_rows(rows, row_number) }}
    {%- set names = column_name_to_data_types.keys() | list -%}
    {%- set sql -%}
-- Fixture for {{ model.name }} (one inline table, macros/spark/unit_tests.sql)
select * from values
{%- for row in rows %}
    {%- set formatted = format_row(row, column_name_to_data_types) %}
    (
    {%- for name in names -%}
        {{ formatted.get(name, safe_cast('null', column_name_to_data_types[name]) | trim) }}
        {%- if not loop.last %}, {% endif -%}
    {%- endfor -%}
    ){{ ',' if not loop.last }}
{%- endfor %}
    as fixture ({% for name in names %}{{ adapter.quote(name) }}{{ ', ' if not loop.last }}{% endfor %})
    {%- endset -%}
    {{ return(sql) }}
{%- endmacro %}
