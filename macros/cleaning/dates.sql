{#- Dates and timestamps from every format in the delivery contract:
      2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日 (optionally followed by a time),
      an Excel serial day number (45356 = 2024-03-05; days since 1899-12-30),
      ISO 8601 with an offset (2026-10-31T09:15:00+08:00: the local wall-clock time is kept).
    Impossible calendar dates (2024-02-30) give NULL; the models flag future dates. -#}

{% macro _iso_date_text(expr) -%}
    {%- set pattern = '^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})' -%}
    {{ dbt.concat([
        regex_extract(expr, pattern, 1), "'-'",
        "lpad(" ~ regex_extract(expr, pattern, 2) ~ ", 2, '0')", "'-'",
        "lpad(" ~ regex_extract(expr, pattern, 3) ~ ", 2, '0')"
    ]) }}
{%- endmacro %}

{% macro parse_date(expr) -%}
    {%- set text = 'trim(' ~ fold_width(expr) ~ ')' -%}
    case
        when {{ regex_matches(text, '^[0-9]{5}([.]0+)?$') }}
            then cast({{ dbt.dateadd('day', try_cast_as(text, 'double') ~ ' - 0',
                                     "cast('1899-12-30' as date)") }} as date)
        else {{ try_cast_as(_iso_date_text(text), 'date') }}
    end
{%- endmacro %}

{#- Timestamp (no time zone, local Beijing wall-clock time) from 'YYYY-MM-DD HH:MM:SS',
    ISO 8601 'YYYY-MM-DDTHH:MM:SS[.fff][+08:00]', or a date alone (midnight). -#}
{% macro parse_timestamp(expr) -%}
    {%- set text = 'trim(' ~ fold_width(expr) ~ ')' -%}
    {%- set pattern = '^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}(:[0-9]{2})?)' -%}
    coalesce(
        {{ try_cast_as(dbt.concat([regex_extract(text, pattern, 1), "' '",
                                    regex_extract(text, pattern, 2)]), dbt.type_timestamp()) }},
        cast({{ parse_date(expr) }} as {{ dbt.type_timestamp() }})
    )
{%- endmacro %}
