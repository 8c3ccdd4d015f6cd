{#- Golden-record history: a type-2 snapshot of the attributes of dim_clients that tell a client's
    story (name, USCC, registry status, account manager, type, place, industry, listing), one
    version per client per change (docs/dynamics.md). Marts view: dim_clients_history.

    Time is the run's as-of date, not the wall clock (`check` strategy with updated_at =
    as_of_at), so a backfill month by month dates every change at the month it appeared.
    A client key identity retired (merged into another client) is kept with is_retired = true
    from the month it disappeared. Re-running a month, or building a month older than the
    newest one snapshotted, changes nothing (the current versions are re-offered unchanged). -#}
{% snapshot dim_clients_snapshot %}
{{ config(
    unique_key='client_key',
    strategy='check',
    check_cols=['registered_name', 'uscc', 'registration_status', 'account_manager',
                'client_type', 'province', 'city', 'industry_code', 'listed_board', 'is_retired'],
    updated_at='as_of_at',
) }}

{%- set existing = none %}
{%- if execute %}
    {%- set existing = adapter.get_relation(
        database=this.database, schema=this.schema, identifier=this.identifier) %}
{%- endif %}

with

clients as (
    select
        client_key,
        registered_name,
        uscc,
        registration_status,
        account_manager,
        client_type,
        province,
        city,
        industry_code,
        listed_board,
        false as is_retired,
        cast('{{ run_as_of_date() }}' as timestamp) as as_of_at
    from {{ ref('dim_clients') }}
    where not is_unattributed
),

{%- if existing is not none %}

snapshotted as (
    select
        client_key,
        registered_name,
        uscc,
        registration_status,
        account_manager,
        client_type,
        province,
        city,
        industry_code,
        listed_board,
        is_retired,
        as_of_at
    from {{ existing }}
    where dbt_valid_to is null
),

replay as (
    select coalesce(max(as_of_at) > cast('{{ run_as_of_date() }}' as timestamp), false)
        as is_replay
    from snapshotted
),

offered as (
    select clients.*
    from clients
    cross join replay
    where not replay.is_replay
    union all
    select
        snapshotted.client_key,
        snapshotted.registered_name,
        snapshotted.uscc,
        snapshotted.registration_status,
        snapshotted.account_manager,
        snapshotted.client_type,
        snapshotted.province,
        snapshotted.city,
        snapshotted.industry_code,
        snapshotted.listed_board,
        true as is_retired,
        cast('{{ run_as_of_date() }}' as timestamp) as as_of_at
    from snapshotted
    cross join replay
    left join clients
        on snapshotted.client_key = clients.client_key
    where not replay.is_replay
        and clients.client_key is null
    union all
    select snapshotted.*
    from snapshotted
    cross join replay
    where replay.is_replay
)

{%- else %}

offered as (select * from clients)

{%- endif %}

select * from offered

{% endsnapshot %}
