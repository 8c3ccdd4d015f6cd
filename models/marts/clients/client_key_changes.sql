{#- One row per (old client_key, new client_key) whose records moved between the previous run's
    as-of date and this run's, with the kind of change:
      merge   records of two or more previous keys now share the new key (new evidence linked them)
      split   records of one previous key now sit under two or more keys
      rekey   all records of the old key moved to one new key (e.g. a ticket client that a later
              mention or CRM phone resolved to a known company)
    and why (the match rules by which the moved records now belong to the new key). Records that
    are new in this run are not changes. Empty on the first run. -#}
with

history as {{ inline_cte() }} (select * from {{ ref('client_xref_history') }}),

current_run as (
    select *
    from history
    where as_of_date = {{ run_as_of_date_literal() }}
),

previous_as_of as (
    select max(as_of_date) as as_of_date
    from history
    where as_of_date < {{ run_as_of_date_literal() }}
),

previous_run as (
    select history.*
    from history
    inner join previous_as_of
        on history.as_of_date = previous_as_of.as_of_date
),

records_compared as (
    select
        current_run.as_of_date,
        previous_run.as_of_date as previous_as_of_date,
        previous_run.client_key as old_client_key,
        current_run.client_key as new_client_key,
        current_run.match_rule
    from current_run
    inner join previous_run
        on current_run.department = previous_run.department
        and current_run.entity = previous_run.entity
        and current_run.record_id = previous_run.record_id
),

fan_in as (
    select new_client_key, count(distinct old_client_key) as old_key_count
    from records_compared
    group by new_client_key
),

fan_out as (
    select old_client_key, count(distinct new_client_key) as new_key_count
    from records_compared
    group by old_client_key
),

moved_rules as (
    select distinct
        as_of_date,
        previous_as_of_date,
        old_client_key,
        new_client_key,
        match_rule
    from records_compared
    where old_client_key <> new_client_key
),

moves as (
    select
        as_of_date,
        previous_as_of_date,
        old_client_key,
        new_client_key,
        {{ dbt.listagg('match_rule', "', '", 'order by match_rule') }} as reason
    from moved_rules
    group by as_of_date, previous_as_of_date, old_client_key, new_client_key
),

move_counts as (
    select old_client_key, new_client_key, count(*) as moved_record_count
    from records_compared
    where old_client_key <> new_client_key
    group by old_client_key, new_client_key
),

changes as (
    select
        moves.as_of_date,
        moves.previous_as_of_date,
        moves.old_client_key,
        moves.new_client_key,
        case
            when fan_out.new_key_count > 1 then 'split'
            when fan_in.old_key_count > 1 then 'merge'
            else 'rekey'
        end as change_type,
        moves.reason,
        move_counts.moved_record_count
    from moves
    inner join fan_in
        on moves.new_client_key = fan_in.new_client_key
    inner join fan_out
        on moves.old_client_key = fan_out.old_client_key
    inner join move_counts
        on moves.old_client_key = move_counts.old_client_key
        and moves.new_client_key = move_counts.new_client_key
)

select * from changes
