{#- Incremental models that rebuild whole periods (delete the periods they build, insert them
    again) say so through this macro instead of naming an engine's strategy:

        {{ config(
            materialized='incremental',
            incremental_strategy=tiering_incremental_strategy(),
            unique_key='period_date',
            partition_by=['period_date'],
        ) }}

    DuckDB: delete+insert on unique_key (partition_by is ignored by dbt-duckdb's incremental
    materialization). Spark: insert_overwrite of the Parquet table partitioned by partition_by,
    with spark.sql.sources.partitionOverwriteMode=DYNAMIC (dbt-spark sets it), so exactly the
    partitions (periods) present in the new batch are replaced; unique_key is not used there.
    The two are the same operation when unique_key and partition_by name the same column(s).
    Merge (Delta / Iceberg) is not used: their jars are not on PyPI (docs/scaling.md). -#}
{% macro tiering_incremental_strategy() -%}
    {{ return(adapter.dispatch('tiering_incremental_strategy', 'tiering')()) }}
{%- endmacro %}

{% macro default__tiering_incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__tiering_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}
