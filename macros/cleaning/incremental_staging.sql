{#- Incremental staging by delivery (DuckDB; docs/standardisation.md, "Incremental by
    delivery"). A staging table holds every delivery up to the as-of date, and a monthly refresh
    adds one: re-cleaning and re-writing the deliveries before it was most of staging's time.
    So on DuckDB the staging models of the departments' entities are incremental, and each run
    takes one of two paths:

      append   the table's comment (written by the last build) says which logic built it and
               which deliveries it holds: the hash of the model's code, of every project macro
               and of the seeds it reads, the newest delivery it holds (on or before the as-of
               date) and a digest of every delivery up to that one (extract date and load time).
               When the logic is the same and the raw layer still holds exactly those
               deliveries (nothing re-delivered, corrected or withdrawn), only the deliveries
               after the newest one are read, cleaned and inserted (delete+insert on
               extract_date for a snapshot entity, on the key for an incremental one).
      rebuild  anything else (the first build, a re-delivered or withdrawn month, a past month
               re-run, changed code or seeds): the table is emptied and every delivery up to
               the as-of date is rebuilt, as a full refresh would.

    Either way the table equals a full rebuild (tests/test_staging.py builds both and compares).
    A snapshot entity's flags (is_latest_version, is_latest_delivery) of the stored rows are
    brought up to date after an append. On Spark, with var staging_incremental: false or with
    var staging_materialized set to something else than `table`, the models are
    var('staging_materialized', 'table') rebuilt in full.

    Usage, first line of the model:
        {{ config(**staging_by_delivery('snapshot', 'crm', 'clients', ['crm_id'])) }} -#}
{% macro staging_by_delivery(kind, source_name, table_name, key_columns) -%}
    {%- if target.type == 'duckdb' and var('staging_incremental', true)
            and var('staging_materialized', 'table') == 'table' -%}
        {%- set source_call = "source('" ~ source_name ~ "', '" ~ table_name ~ "')" -%}
        {%- set keys = key_columns | string -%}
        {%- set post_hooks = [] -%}
        {%- if kind == 'snapshot' -%}
            {%- do post_hooks.append("{{ staging_delivery_flags_updated(" ~ source_call ~ ", "
                                     ~ keys ~ ") }}") -%}
        {%- endif -%}
        {%- do post_hooks.append("{{ staging_build_recorded(" ~ source_call ~ ", " ~ keys
                                 ~ ") }}") -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'delete+insert',
            'unique_key': 'extract_date' if kind == 'snapshot' else key_columns,
            'on_schema_change': 'sync_all_columns',
            'pre_hook': ["{{ staging_rebuild_emptied(" ~ source_call ~ ", " ~ keys ~ ") }}"],
            'post_hook': post_hooks,
        }) }}
    {%- else -%}
        {{ return({'materialized': var('staging_materialized', 'table')}) }}
    {%- endif -%}
{%- endmacro %}

{#- The hash of what a staging model's rows depend on besides the data: its code, the project's
    macros it calls, directly or through other macros, and the seeds it reads. dbt records the
    macros each node and each macro calls when it parses the project (depends_on.macros, with
    adapter.dispatch resolved to the engine's implementation). So a change to a macro no staging
    model calls, such as a test's or a mart's, does not rebuild staging's history. -#}
{% macro staging_logic_hash() -%}
    {%- set parts = [model.raw_code] -%}
    {%- set called = [] -%}
    {%- set state = namespace(next=model.depends_on.macros | list) -%}
    {#- breadth-first over the call graph; at most one round per level of calls -#}
    {%- for round in range(100) -%}
        {%- set found = [] -%}
        {%- for macro_id in state.next -%}
            {%- set name = macro_id.split('.')[-1] -%}
            {%- if macro_id.startswith('macro.tiering.') and name not in called
                    and name in context.tiering -%}
                {%- do called.append(name) -%}
                {%- do found.extend(context.tiering[name].macro.depends_on.macros) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if found | length == 0 -%}
            {%- break -%}
        {%- endif -%}
        {%- set state.next = found -%}
    {%- endfor -%}
    {%- for name in called | sort -%}
        {%- do parts.append(name ~ ':' ~ context.tiering[name].macro.macro_sql) -%}
    {%- endfor -%}
    {%- for node_id in model.depends_on.nodes | sort -%}
        {%- if node_id.startswith('seed.') -%}
            {%- do parts.append(node_id ~ ':' ~ graph.nodes[node_id].checksum.checksum) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('\n'))) }}
{%- endmacro %}

{#- The newest delivery up to `through` (NULL: the as-of date) and the digest of every delivery
    up to it, as one row (newest, digest). -#}
{% macro _staging_deliveries_digest_query(source_relation, key_columns, through=none) -%}
    select
        cast(max(extract_date) as varchar) as newest_extract_date,
        md5(coalesce(string_agg(
            cast(extract_date as varchar) || '@' || cast(loaded_at as varchar), ','
            order by extract_date), '')) as digest
    from (
        select _extract_date as extract_date, max(_loaded_at) as loaded_at
        from {{ source_relation }}
        where {{ _staging_delivered_filter(key_columns) }}
        {%- if through is not none %}
            and _extract_date <= cast('{{ through }}' as date)
        {%- endif %}
        group by _extract_date
    ) as deliveries
{%- endmacro %}

{#- The extract date after which deliveries are appended, or none to rebuild every delivery up
    to the as-of date. One query on the raw layer's delivery list, at execution time. -#}
{% macro staging_append_after(source_relation, key_columns, announce=true) -%}
    {#- (a dbt unit test of the model has no `this`: it tests the rebuild path) -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {#- 'staging-logic <hash> deliveries-through <date> <digest>' -#}
    {%- set parts = duckdb_table_comment(this).split(' ') -%}
    {%- set reason = none -%}
    {%- if parts | length != 5 or parts[0] != 'staging-logic' or parts[3] == 'none' -%}
        {%- set reason = 'no record of a previous build' -%}
    {%- elif parts[1] != staging_logic_hash() -%}
        {%- set reason = 'the model, a macro or a seed changed' -%}
    {%- elif parts[3] > staging_period_bound() -%}
        {%- set reason = 'it holds deliveries after the as-of date' -%}
    {%- else -%}
        {%- set now = run_query(_staging_deliveries_digest_query(
            source_relation, key_columns, parts[3])).rows[0] -%}
        {%- if now[0] != parts[3] or now[1] != parts[4] -%}
            {%- set reason = 'a delivery up to ' ~ parts[3]
                             ~ ' was re-delivered, corrected or withdrawn' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if announce -%}
        {%- if reason is none -%}
            {{ log('staging ' ~ this.identifier ~ ': append the deliveries after '
                   ~ parts[3], info=true) }}
        {%- else -%}
            {{ log('staging ' ~ this.identifier ~ ': rebuild, ' ~ reason, info=true) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none if reason is not none else parts[3]) }}
{%- endmacro %}

{#- The comment of a DuckDB table ('' when it has none): where a build records what it did. -#}
{% macro duckdb_table_comment(relation) -%}
    {%- set rows = run_query(
        "select comment from duckdb_tables() where database_name = '" ~ relation.database
        ~ "' and schema_name = '" ~ relation.schema
        ~ "' and table_name = '" ~ relation.identifier ~ "'").rows -%}
    {{ return(rows[0][0] if rows and rows[0][0] else '') }}
{%- endmacro %}

{#- pre-hook: the rebuild path starts from an empty table (rows of deliveries after the as-of
    date or withdrawn since go too). -#}
{% macro staging_rebuild_emptied(source_relation, key_columns) -%}
    {%- if is_incremental()
            and staging_append_after(source_relation, key_columns, announce=false) is none -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- post-hook (snapshot entities): the flags of the stored rows after deliveries were appended
    (nothing to do after a first build or a rebuild, whose rows were flagged over every
    delivery; the table's comment still describes the build before this one). -#}
{% macro staging_delivery_flags_updated(source_relation, key_columns) -%}
    {%- if staging_append_after(source_relation, key_columns, announce=false) is none -%}
        {{ return('') }}
    {%- endif -%}
    update {{ this }} as stored
    set is_latest_version = false
    from (
        select {{ key_columns | join(', ') }}, max(extract_date) as newest_extract_date
        from {{ this }}
        group by {{ key_columns | join(', ') }}
    ) as newest
    where stored.is_latest_version
        {%- for key in key_columns %}
        and stored.{{ key }} = newest.{{ key }}
        {%- endfor %}
        and stored.extract_date < newest.newest_extract_date;
    update {{ this }}
    set is_latest_delivery = false
    where is_latest_delivery
        and extract_date < (select max(extract_date) from {{ this }})
{%- endmacro %}

{#- post-hook: which logic built the table and which deliveries it holds, as its comment. -#}
{% macro staging_build_recorded(source_relation, key_columns) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set delivered = run_query(_staging_deliveries_digest_query(source_relation,
                                                                   key_columns)).rows[0] -%}
    comment on table {{ this }} is 'staging-logic {{ staging_logic_hash() }} deliveries-through
        {{- ' ' ~ (delivered[0] or 'none') }} {{ delivered[1] }}'
{%- endmacro %}

{#- The rows of the newest delivery an incremental staging table already holds, as a subquery,
    for the model to reuse their cleaning; none on a first build, a full refresh, a rebuild
    path's run (whose pre-hook emptied the table: its rows may come from other code or seeds)
    or an engine whose staging is rebuilt whole. On the append path the stored rows were built
    by the same code, macros and seeds as this run (staging_append_after), so a value cleaned
    then is the value cleaned now. The newest delivery is read while the model's select runs,
    before the new rows are inserted. Var staging_reuse_stored: false cleans every value anew
    (to measure what the reuse saves; the result is the same). -#}
{% macro staging_stored_newest_delivery() -%}
    {%- if not execute or this is none or not is_incremental() or target.type != 'duckdb'
            or not var('staging_reuse_stored', true) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return('(select * from ' ~ this ~ ' where extract_date = (select max(extract_date) from '
              ~ this ~ '))') }}
{%- endmacro %}
