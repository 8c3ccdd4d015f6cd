{#- Overrides of dbt's cross-database macros where dbt-spark falls short. A root-project macro
    named like a dbt-namespace implementation takes precedence over the adapter's. -#}

{#- dbt-spark's listagg ignores order_by_clause (collect_list order is not deterministic).
    Spark >= 4.0 has LISTAGG ... WITHIN GROUP (ORDER BY ...), the standard form. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error('tiering: listagg limit_num is not supported on Spark') }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }})
    {%- if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}

{#- dbt.datediff on Spark. dbt-spark 1.11 counts months with months_between plus a day-of-month
    correction, which between two month ends gives 2 for 2025-10-31 -> 2025-11-30 (Spark treats
    both as last days: months_between = 1, then 30 < 31 adds 1). dbt's datediff, and DuckDB's,
    count calendar boundaries: month = 12 * (years apart) + (months apart), so 1. Day and week
    are whole days and whole 7-day spans (DuckDB: date_diff('week') = days / 7, truncated);
    month, quarter and year are boundary counts. Finer parts keep dbt-spark's implementation. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(to_date({{ second_date }}), to_date({{ first_date }}))
    {%- elif datepart == 'week' -%}
        cast(datediff(to_date({{ second_date }}), to_date({{ first_date }})) / 7 as bigint)
    {%- elif datepart == 'month' -%}
        ((year({{ second_date }}) - year({{ first_date }})) * 12
            + (month({{ second_date }}) - month({{ first_date }})))
    {%- elif datepart == 'quarter' -%}
        ((year({{ second_date }}) - year({{ first_date }})) * 4
            + (quarter({{ second_date }}) - quarter({{ first_date }})))
    {%- elif datepart == 'year' -%}
        (year({{ second_date }}) - year({{ first_date }}))
    {%- else -%}
        {{ return(dbt_spark.spark__datediff(first_date, second_date, datepart)) }}
    {%- endif -%}
{%- endmacro %}
