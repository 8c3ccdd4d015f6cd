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
