{#- None of the listed columns holds a NULL: dbt's not_null for several columns of one model in
    one scan and one test. A failure returns one row per column holding NULLs: column_name and
    null_rows (docs/quality.md, "One not-null test per model").

    Each dbt test is a node with its own compile, query and bookkeeping (about 0.1 s on DuckDB
    whatever the table's size, 0.3 s and more on Spark); a model with eleven required columns
    had eleven. A column with one not_null of its own (the only required column of a seed, a
    not_null with its own `where`) keeps dbt's. -#}
{% test not_null_columns(model, column_names) %}
    with null_counts as (
        select
            {%- for column in column_names %}
            sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
            {{- "," if not loop.last }}
            {%- endfor %}
        from {{ model }}
    )
    {%- for column in column_names %}
    select '{{ column }}' as column_name, nulls_{{ loop.index }} as null_rows
    from null_counts
    where nulls_{{ loop.index }} > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}
{% endtest %}
