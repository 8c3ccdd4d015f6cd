{#- Engine-specific building blocks of the cleaning macros. Every function whose name, syntax or
    semantics differ between DuckDB and Spark lives here behind adapter.dispatch; the default__
    versions are the DuckDB ones; the Spark versions live in macros/spark/engine.sql.
    Regex patterns are passed WITHOUT SQL quoting and use the RE2 / java.util.regex common subset
    (groups, alternation, classes, quantifiers, anchors, \s \d); regex_literal quotes them. -#}

{% macro regex_literal(pattern) -%}
    {{ return(adapter.dispatch('regex_literal', 'tiering')(pattern)) }}
{%- endmacro %}
{% macro default__regex_literal(pattern) -%}
    '{{ pattern | replace("'", "''") }}'
{%- endmacro %}
{% macro spark__regex_literal(pattern) -%}
    '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#- First match of capture group `group`, NULL when there is no match (both engines give ''). -#}
{% macro regex_extract(expr, pattern, group=0) -%}
    {{ return(adapter.dispatch('regex_extract', 'tiering')(expr, pattern, group)) }}
{%- endmacro %}
{% macro default__regex_extract(expr, pattern, group) -%}
    nullif(regexp_extract({{ expr }}, {{ regex_literal(pattern) }}, {{ group }}), '')
{%- endmacro %}

{#- Replace every match (DuckDB needs the 'g' flag; Spark's regexp_replace is global). -#}
{% macro regex_replace_all(expr, pattern, replacement='') -%}
    {{ return(adapter.dispatch('regex_replace_all', 'tiering')(expr, pattern, replacement)) }}
{%- endmacro %}
{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ regex_literal(pattern) }}, '{{ replacement }}', 'g')
{%- endmacro %}

{#- True when the pattern matches somewhere in expr (anchor it for a full match). -#}
{% macro regex_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'tiering')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regex_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ regex_literal(pattern) }})
{%- endmacro %}
{% macro spark__regex_matches(expr, pattern) -%}
    ({{ expr }} rlike {{ regex_literal(pattern) }})
{%- endmacro %}

{#- Cast that yields NULL instead of failing (dbt.safe_cast is a plain cast on DuckDB). -#}
{% macro try_cast_as(expr, type) -%}
    {{ return(adapter.dispatch('try_cast_as', 'tiering')(expr, type)) }}
{%- endmacro %}
{% macro default__try_cast_as(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{#- Character-for-character replacement (from and to are equally long literal strings). -#}
{% macro translate_chars(expr, from_chars, to_chars) -%}
    {{ return(adapter.dispatch('translate_chars', 'tiering')(expr, from_chars, to_chars)) }}
{%- endmacro %}
{% macro default__translate_chars(expr, from_chars, to_chars) -%}
    translate({{ expr }}, '{{ from_chars }}', '{{ to_chars }}')
{%- endmacro %}

{#- Length in characters (code points). -#}
{% macro char_length(expr) -%}
    {{ return(adapter.dispatch('char_length', 'tiering')(expr)) }}
{%- endmacro %}
{% macro default__char_length(expr) -%}
    length({{ expr }})
{%- endmacro %}

{#- One row per element of a JSON array of strings held as text, e.g. '["甲","乙"]'.
    Returns a select over `relation` with `columns` kept, plus `element` (string) and
    `element_position` (1-based). Rows whose array is NULL or empty produce no rows. -#}
{% macro unnest_json_string_array(relation, json_column, columns) -%}
    {{ return(adapter.dispatch('unnest_json_string_array', 'tiering')(relation, json_column, columns)) }}
{%- endmacro %}
{% macro default__unnest_json_string_array(relation, json_column, columns) -%}
    select
        {% for column in columns %}unnested.{{ column }},
        {% endfor %}unnested.element,
        unnested.element_position
    from (
        select
            {% for column in columns %}{{ column }},
            {% endfor %}unnest(from_json({{ json_column }}, '["VARCHAR"]')) as element,
            generate_subscripts(from_json({{ json_column }}, '["VARCHAR"]'), 1) as element_position
        from {{ relation }}
        where {{ json_column }} is not null
    ) as unnested
    where unnested.element is not null
{%- endmacro %}

{#- Number of elements of a JSON array held as text; NULL when the text is NULL. -#}
{% macro json_array_length(json_column) -%}
    {{ return(adapter.dispatch('json_array_length', 'tiering')(json_column)) }}
{%- endmacro %}
{% macro default__json_array_length(json_column) -%}
    cast(json_array_length({{ try_cast_as(json_column, 'json') }}) as integer)
{%- endmacro %}


{#- A timestamp moved by a whole number of minutes; NULL stays NULL (dbt.dateadd on Spark
    asserts its input is not NULL). -#}
{% macro add_minutes(timestamp_expr, minutes) -%}
    {{ return(adapter.dispatch('add_minutes', 'tiering')(timestamp_expr, minutes)) }}
{%- endmacro %}
{% macro default__add_minutes(timestamp_expr, minutes) -%}
    ({{ timestamp_expr }} + to_minutes(cast({{ minutes }} as bigint)))
{%- endmacro %}
