{#- One row per client_key the warehouse has known up to the as-of date (in client_xref_history
    or in this run's dim_clients): the key that holds its records now. A key of this run maps to
    itself (`current`); a key that disappeared (identity merged it into another client, or moved
    all its records elsewhere) maps to the key now holding most of the records it had when last
    recorded (`retired`); ties go to the smaller key. Tier history, overrides and realised
    defaults follow a client through a merge with it. -#}
with

history as (
    select * from {{ ref('client_xref_history') }}
    where as_of_date <= {{ run_as_of_date_literal() }}
),

current_xref as (select * from {{ ref('client_source_xref') }}),

clients as {{ inline_cte() }} (select * from {{ ref('dim_clients') }}),

last_recorded as (
    select client_key, max(as_of_date) as as_of_date
    from history
    group by client_key
),

records_of_old_keys as (
    select
        history.client_key as old_client_key,
        history.department,
        history.entity,
        history.record_id
    from history
    inner join last_recorded
        on history.client_key = last_recorded.client_key
        and history.as_of_date = last_recorded.as_of_date
    left join clients
        on history.client_key = clients.client_key
    where clients.client_key is null
),

successors_counted as (
    select
        records_of_old_keys.old_client_key,
        current_xref.client_key as new_client_key,
        count(*) as record_count
    from records_of_old_keys
    inner join current_xref
        on records_of_old_keys.department = current_xref.department
        and records_of_old_keys.entity = current_xref.entity
        and records_of_old_keys.record_id = current_xref.record_id
    group by records_of_old_keys.old_client_key, current_xref.client_key
),

successors_ranked as (
    select
        *,
        row_number() over (
            partition by old_client_key order by record_count desc, new_client_key
        ) as successor_rank
    from successors_counted
),

retired_keys as (
    select
        last_recorded.client_key,
        successors_ranked.new_client_key as current_client_key,
        'retired' as key_status,
        last_recorded.as_of_date as last_recorded_date
    from last_recorded
    inner join successors_ranked
        on last_recorded.client_key = successors_ranked.old_client_key
        and successors_ranked.successor_rank = 1
),

current_keys as (
    select
        clients.client_key,
        clients.client_key as current_client_key,
        'current' as key_status,
        {{ run_as_of_date_literal() }} as last_recorded_date
    from clients
),

mapped as (
    select * from current_keys
    union all
    select * from retired_keys
)

select * from mapped
