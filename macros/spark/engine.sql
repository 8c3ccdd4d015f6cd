{#- Spark versions of the engine-specific building blocks in macros/cleaning/engine.sql
    (spark__regex_literal and spark__regex_matches live there, next to their defaults).
    Spark runs with ANSI mode off (dbt-spark forces it), so a plain cast already gives NULL on a
    bad value; try_cast (Spark >= 3.2) says so explicitly. Spark's cast of text to date accepts
    trailing text ('2024-03-05 xyz' is a date there, NULL on DuckDB): parse_date builds a clean
    'YYYY-MM-DD' first, so this does not reach the models. -#}

{#- Spark's regexp_replace is global already; its 4th argument is a start position, not flags.
    The replacement is plain text (no $ or backslash: group references differ between engines). -#}
{% macro spark__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ regex_literal(pattern) }}, '{{ replacement | replace("'", "\\'") }}')
{%- endmacro %}

{#- translate() maps code point for code point on both engines; Spark string literals treat a
    backslash as an escape, so quote the maps the Spark way. -#}
{% macro spark__translate_chars(expr, from_chars, to_chars) -%}
    translate({{ expr }},
              '{{ from_chars | replace("\\", "\\\\") | replace("'", "\\'") }}',
              '{{ to_chars | replace("\\", "\\\\") | replace("'", "\\'") }}')
{%- endmacro %}

{#- posexplode over from_json(..., 'array<string>'); positions are 0-based there. -#}
{% macro spark__unnest_json_string_array(relation, json_column, columns) -%}
    select
        {% for column in columns %}unnested.{{ column }},
        {% endfor %}unnested.element,
        unnested.element_index + 1 as element_position
    from (
        select
            {% for column in columns %}{{ column }},
            {% endfor %}posexplode(from_json({{ json_column }}, 'array<string>'))
                as (element_index, element)
        from {{ relation }}
        where {{ json_column }} is not null
    ) as unnested
    where unnested.element is not null
{%- endmacro %}

{#- Spark's json_array_length takes the text and gives NULL for text that is not a JSON array. -#}
{% macro spark__json_array_length(json_column) -%}
    cast(json_array_length({{ json_column }}) as int)
{%- endmacro %}

{#- The rest are spelled the same on Spark; explicit so that every dispatched macro has a Spark
    version to read (and to change) here. Spark's regexp_extract gives '' without a match, as
    DuckDB does; length counts characters; try_cast exists since Spark 3.2. -#}
{% macro spark__regex_extract(expr, pattern, group) -%}
    nullif(regexp_extract({{ expr }}, {{ regex_literal(pattern) }}, {{ group }}), '')
{%- endmacro %}

{% macro spark__char_length(expr) -%}
    char_length({{ expr }})
{%- endmacro %}

{% macro spark__try_cast_as(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{% macro spark__add_minutes(timestamp_expr, minutes) -%}
    timestampadd(MINUTE, cast({{ minutes }} as bigint), {{ timestamp_expr }})
{%- endmacro %}
