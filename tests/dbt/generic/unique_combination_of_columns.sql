{#- Grain test: no two rows share the same combination of the given columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    with duplicated as (
        select
            {{ combination_of_columns | join(', ') }},
            count(*) as row_count
        from {{ model }}
        group by {{ combination_of_columns | join(', ') }}
        having count(*) > 1
    )

    select * from duplicated
{% endtest %}
