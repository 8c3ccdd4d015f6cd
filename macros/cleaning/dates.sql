{#- Dates and timestamps from every format in the delivery contract:
      2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日 (optionally followed by a time),
      20240305 (the compact form many ERPs export),
      an Excel serial day number (45356 = 2024-03-05; days since 1899-12-30),
      ISO 8601 with an offset (2026-10-31T09:15:00+08:00: the Beijing wall-clock time; another
      offset, Z or -05:00, is converted to it).
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
        when {{ regex_matches(text, '^[0-9]{5}([.][0-9]+)?$') }}
            {#- a serial with a time of day (45356.5 = noon): the day -#}
            then cast({{ dbt.dateadd('day',
                                     'cast(floor(' ~ try_cast_as(text, 'double') ~ ') as '
                                     ~ dbt.type_int() ~ ') - 0',
                                     "cast('1899-12-30' as date)") }} as date)
        when {{ regex_matches(text, '^[0-9]{8}$') }}
            then {{ try_cast_as(dbt.concat(['substring(' ~ text ~ ', 1, 4)', "'-'",
                                            'substring(' ~ text ~ ', 5, 2)', "'-'",
                                            'substring(' ~ text ~ ', 7, 2)']), 'date') }}
        else {{ try_cast_as(_iso_date_text(text), 'date') }}
    end
{%- endmacro %}

{#- Timestamp (no time zone, local Beijing wall-clock time) from 'YYYY-MM-DD HH:MM:SS',
    ISO 8601 'YYYY-MM-DDTHH:MM:SS[.fff][+08:00]', a date in any parse_date form followed by a
    time ('2024/3/5 9:30', '2024年3月5日 09:30:00'; a one-digit hour), or a date alone
    (midnight). A time with another offset (Z, +00:00, -0500, -05) is moved to Beijing time
    (+08:00); one without an offset is taken as Beijing time. -#}
{% macro parse_timestamp(expr) -%}
    {%- set text = 'trim(' ~ fold_width(expr) ~ ')' -%}
    {%- set time_pattern = '^[^T ]+[T ]([0-9]{1,2}):([0-9]{2})(:[0-9]{2})?' -%}
    {%- set offset = regex_extract(text, '[0-9](Z|[+-][0-9]{2}(:?[0-9]{2})?)$', 1) -%}
    {%- set local = try_cast_as(dbt.concat([
            _iso_date_text(text), "' '",
            "lpad(" ~ regex_extract(text, time_pattern, 1) ~ ", 2, '0')", "':'",
            regex_extract(text, time_pattern, 2),
            "coalesce(" ~ regex_extract(text, time_pattern, 3) ~ ", '')"]),
        dbt.type_timestamp()) -%}
    {#- minutes from the stated offset to +08:00 (480 for Z; 0 without an offset) -#}
    {%- set shift -%}
        case
            when {{ offset }} is null then 0
            when {{ offset }} = 'Z' then 480
            else 480 - (case when substring({{ offset }}, 1, 1) = '-' then -1 else 1 end)
                * (cast(substring({{ offset }}, 2, 2) as int) * 60
                   + case when {{ char_length(offset) }} >= 5
                       then cast({{ dbt.right(offset, '2') }} as int) else 0 end)
        end
    {%- endset -%}
    coalesce(
        {{ add_minutes(local, shift) }},
        cast({{ parse_date(expr) }} as {{ dbt.type_timestamp() }})
    )
{%- endmacro %}
