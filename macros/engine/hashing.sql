{#- A 64-bit hash of a combination of columns (a list of expressions), nulls included: equal
    combinations hash equal (tests/dbt/generic/unique_combination_of_columns.sql). -#}
{% macro tiering_key_hash(columns) -%}
    {{ return(adapter.dispatch('tiering_key_hash', 'tiering')(columns)) }}
{%- endmacro %}

{% macro default__tiering_key_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__tiering_key_hash(columns) -%}
    xxhash64({{ columns | join(', ') }})
{%- endmacro %}
