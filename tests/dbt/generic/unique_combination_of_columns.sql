{#- Grain test: no two rows share the same combination of the given columns.

    Two stages, so that a grain of text keys over a hundred million rows is not grouped by its
    strings: first the 64-bit hashes of the combinations that occur more than once (a group-by
    on integers), then the exact group-by only over the rows with such a hash. Equal
    combinations have equal hashes, so no duplicate escapes the first stage; a hash collision of
    two different combinations only costs the second stage a few rows, which it tells apart.
    Nulls are compared as equal, as in a plain group-by. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') %}
    with colliding_hashes as (
        select {{ tiering_key_hash(combination_of_columns) }} as key_hash
        from {{ model }}
        group by {{ tiering_key_hash(combination_of_columns) }}
        having count(*) > 1
    ),

    duplicated as (
        select
            {{ columns }},
            count(*) as row_count
        from {{ model }}
        where {{ tiering_key_hash(combination_of_columns) }} in (
            select key_hash from colliding_hashes
        )
        group by {{ columns }}
        having count(*) > 1
    )

    select * from duplicated
{% endtest %}
