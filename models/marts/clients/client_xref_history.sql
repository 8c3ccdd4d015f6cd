{#- One row per run as-of date per identity-bearing record: the client_key the record had in
    the run for that as-of date. Incremental (the one exception to the folder's table
    materialization): a re-run for the same as-of date replaces that date's rows. Feeds
    client_key_changes. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='as_of_date',
    partition_by=['as_of_date'],
    pre_hook="{{ tests_scope_recorded(
        'select ' ~ run_as_of_date_literal() ~ ' as as_of_date', 'as_of_date') }}",
) }}
with

xref as (select * from {{ ref('client_source_xref') }}),

xref_as_of as (
    select
        {{ run_as_of_date_literal() }} as as_of_date,
        department,
        entity,
        record_id,
        client_key,
        match_rule,
        match_score,
        {{ dbt.current_timestamp() }} as recorded_at
    from xref
)

select * from xref_as_of
