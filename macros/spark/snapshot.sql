{#- dbt snapshots on Spark over plain Parquet tables.

    dbt-spark's own snapshot materialization refuses any file format but Delta, Iceberg or Hudi,
    because it ends in a MERGE. Their jars come from Maven at session start, which a firm's
    cluster may not allow and this machine cannot reach (docs/scaling.md). This project-level
    materialization (dbt prefers the root project's materializations over the adapter's) keeps
    dbt's snapshot logic (strategy, staging table of inserts/updates/deletes, scd ids) and
    replaces only the MERGE with what Parquet can do: the merged result is written to a work
    table, then `insert overwrite` puts it onto the snapshot table, and the work table is
    dropped. A snapshot is small (one row per client version), so the rewrite is cheap; on Delta
    or Iceberg tables the adapter's MERGE is used as before. -#}

{% materialization snapshot, adapter='spark' %}

    {%- set target_table = model.get('alias', model.get('name')) -%}
    {%- set strategy_name = config.get('strategy') -%}
    {%- set file_format = config.get('file_format') or 'parquet' -%}
    {%- set grant_config = config.get('grants') -%}

    {%- set target_relation_exists, target_relation = get_or_create_relation(
            database=none, schema=model.schema, identifier=target_table, type='table') -%}

    {%- if not adapter.check_schema_exists(model.database, model.schema) -%}
        {%- do create_schema(model.schema) -%}
    {%- endif -%}
    {%- if not target_relation.is_table -%}
        {%- do exceptions.relation_wrong_type(target_relation, 'table') -%}
    {%- endif -%}
    {%- set uses_merge = file_format in ['delta', 'iceberg', 'hudi'] -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set strategy_macro = strategy_dispatch(strategy_name) -%}
    {%- set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'],
                                      target_relation_exists) -%}

    {%- if not target_relation_exists -%}
        {%- set build_sql = build_snapshot_table(strategy, model['compiled_code']) -%}
        {%- set final_sql = create_table_as(False, target_relation, build_sql) -%}
    {%- else -%}
        {%- set columns = config.get("snapshot_table_column_names")
                          or get_snapshot_table_column_names() -%}
        {{ adapter.valid_snapshot_target(target_relation, columns) }}
        {%- set staging_table = spark_build_snapshot_staging_table(strategy, sql,
                                                                  target_relation) -%}
        {%- do adapter.expand_target_column_types(from_relation=staging_table,
                                                  to_relation=target_relation) -%}
        {%- set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
                                  | rejectattr('name', 'in', ['dbt_change_type', 'DBT_CHANGE_TYPE',
                                                              'dbt_unique_key', 'DBT_UNIQUE_KEY'])
                                  | list -%}
        {%- do create_columns(target_relation, missing_columns) -%}
        {%- if uses_merge -%}
            {%- set source_columns = adapter.get_columns_in_relation(staging_table)
                                     | rejectattr('name', 'in', ['dbt_change_type',
                                                                 'DBT_CHANGE_TYPE',
                                                                 'dbt_unique_key',
                                                                 'DBT_UNIQUE_KEY'])
                                     | list -%}
            {%- set quoted_source_columns = [] -%}
            {%- for column in source_columns -%}
                {%- do quoted_source_columns.append(adapter.quote(column.name)) -%}
            {%- endfor -%}
            {%- set final_sql = snapshot_merge_sql(target=target_relation, source=staging_table,
                                                   insert_cols=quoted_source_columns) -%}
        {%- else -%}
            {%- set final_sql = tiering_parquet_snapshot_merge(target_relation, staging_table,
                                                               columns) -%}
        {%- endif -%}
    {%- endif -%}

    {% call statement('main') %}
        {{ final_sql }}
    {% endcall %}

    {%- if target_relation_exists and not uses_merge -%}
        {%- do adapter.drop_relation(tiering_snapshot_work_relation(target_relation)) -%}
    {%- endif -%}

    {%- set should_revoke = should_revoke(target_relation_exists, full_refresh_mode) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke) -%}
    {%- do persist_docs(target_relation, model) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {%- if staging_table is defined -%}
        {%- do post_snapshot(staging_table) -%}
    {%- endif -%}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{% macro tiering_snapshot_work_relation(target) -%}
    {{ return(api.Relation.create(schema=target.schema, identifier=target.identifier ~ '__dbt_merged',
                                  type='table')) }}
{%- endmacro %}


{#- What MERGE would leave, written to a work table: current versions that the staging table
    closes (update / delete) get its dbt_valid_to, every other row stays, and the staging
    table's inserts are appended. Returns the statement that overwrites the snapshot with it. -#}
{% macro tiering_parquet_snapshot_merge(target, source, columns) -%}
    {%- set work = tiering_snapshot_work_relation(target) -%}
    {%- set target_columns = adapter.get_columns_in_relation(target) | map(attribute='name')
                             | list -%}
    {%- set kept = [] -%}
    {%- for column in target_columns -%}
        {%- if column | lower == columns.dbt_valid_to | lower -%}
            {%- do kept.append('coalesce(closing.dbt_valid_to_new, snapshotted.'
                               ~ adapter.quote(column) ~ ') as ' ~ adapter.quote(column)) -%}
        {%- else -%}
            {%- do kept.append('snapshotted.' ~ adapter.quote(column)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do adapter.drop_relation(work) -%}
    {%- call statement('tiering_snapshot_work_table') -%}
        create table {{ work }} using parquet as
        with

        closing as (
            select
                {{ columns.dbt_scd_id }} as dbt_scd_id_closing,
                {{ columns.dbt_valid_to }} as dbt_valid_to_new
            from {{ source }}
            where dbt_change_type in ('update', 'delete')
        )

        select
            {{ kept | join(',\n            ') }}
        from {{ target }} as snapshotted
        left join closing
            on snapshotted.{{ columns.dbt_scd_id }} = closing.dbt_scd_id_closing
            and snapshotted.{{ columns.dbt_valid_to }} is null
        union all
        select
            {% for column in target_columns -%}
            {{ adapter.quote(column) }}{{ ',' if not loop.last }}
            {% endfor -%}
        from {{ source }}
        where dbt_change_type = 'insert'
    {%- endcall -%}
    insert overwrite table {{ target }}
    select
        {% for column in target_columns -%}
        {{ adapter.quote(column) }}{{ ',' if not loop.last }}
        {% endfor -%}
    from {{ work }}
{%- endmacro %}
