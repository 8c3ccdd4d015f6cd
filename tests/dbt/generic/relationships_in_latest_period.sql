{#- Every key of the model's newest period exists in `to`.`field`.

    History rows (client_tiers, features) keep the client_key that was valid when their period
    was built; when later evidence merges or splits clients, older periods keep the old key and
    client_key_changes maps it (docs/identity.md). So only the newest period must point at the
    current dim_clients; a plain `relationships` test would fail on every merge. -#}
{% test relationships_in_latest_period(model, column_name, to, field,
                                       period_column='period_date') %}
    with

    latest as (
        select {{ column_name }} as key_value
        from {{ model }}
        where {{ period_column }} = (select max({{ period_column }}) from {{ model }})
    ),

    parents as (select {{ field }} as key_value from {{ to }})

    select latest.key_value
    from latest
    left join parents
        on latest.key_value = parents.key_value
    where latest.key_value is not null
        and parents.key_value is null
{% endtest %}
