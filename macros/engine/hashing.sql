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

{#- A 64-bit hash of a row's columns (a list of expressions) to join rows on
    (macros/cleaning/deliveries.sql, rejoin_versions): equal rows hash equal, and a NULL in one
    column never hashes like a NULL in another. DuckDB's hash() combines the columns in order and
    hashes NULL to a constant. Spark's xxhash64 skips NULL arguments, so (NULL, 'x') and
    ('x', NULL) would hash equal: each column is followed by its own null flag. -#}
{% macro version_hash(columns) -%}
    {{ return(adapter.dispatch('version_hash', 'tiering')(columns)) }}
{%- endmacro %}

{% macro default__version_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__version_hash(columns) -%}
    xxhash64(
        {%- for column in columns %}
        {{ column }}, {{ column }} is null{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
