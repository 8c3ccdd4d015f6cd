{#- Make every dbt source of this project readable by the engine (on-run-start hook).

    DuckDB: nothing to do; dbt-duckdb reads raw sources through meta.external_location
    (read_parquet over the raw layer) and `ml` tables live in warehouse.duckdb.
    Spark: for each source table, a catalog table <source schema>.<table> over Parquet files:
      - a source with an external_location (the raw layer): the path quoted in it, e.g.
        <raw_root>/crm/clients/*.parquet, so both engines read the same files (a trailing
        /*.parquet becomes the folder: same files, no glob warnings). If no path can be read
        from it, <raw_root>/<source name>/<table name>.
        Spark infers the schema (spark.sql.parquet.mergeSchema: extra delivered columns are
        kept, as with union_by_name). Spark skips files starting with `_`, so _schema.parquet
        does not help there: every raw entity needs at least one loaded delivery.
      - any other source (the `ml` tables the risk model writes): Parquet under
        var('spark_external_root', $TIERING_SPARK_EXTERNAL_ROOT or $TIERING_HOME/spark-external)
        /<schema>/<table>/ (tiering.spark_catalog.export_ml writes the risk model's there). When every
        YAML column has a data_type the table is declared with them (it then exists, empty,
        before the Python step first writes it); otherwise it is registered only when a node
        selected in this invocation reads it, so `dbt build --exclude tag:after_risk_model`
        runs before the files exist and the step after the risk model finds them.
    Tables are dropped and re-created on every run (metadata only; the data are the files), so
    a new delivery or a changed path is always picked up. -#}
{% macro tiering_register_sources() -%}
    {{ return(adapter.dispatch('tiering_register_sources', 'tiering')()) }}
{%- endmacro %}

{% macro default__tiering_register_sources() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__tiering_register_sources() -%}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- set used = [] -%}
        {%- for unique_id in selected_resources if unique_id in graph.nodes -%}
            {%- do used.extend(graph.nodes[unique_id].depends_on.nodes) -%}
        {%- endfor -%}
        {%- for node in graph.sources.values() if node.package_name == project_name -%}
            {%- set location = tiering_spark_source_location(node) -%}
            {%- set relation = node.schema ~ '.' ~ node.identifier -%}
            {%- set typed = node.columns.values() | selectattr('data_type') | list -%}
            {%- set declared = node.columns | length > 0
                and typed | length == node.columns | length
                and not tiering_source_external_location(node) -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- if declared or tiering_source_external_location(node) or node.unique_id in used -%}
                {%- do run_query('drop table if exists ' ~ relation) -%}
                {%- set ddl -%}
                    create table {{ relation }}
                    {%- if declared %} (
                        {%- for column in typed %}
                        {{ column.name }} {{ column.data_type }}{% if not loop.last %},{% endif %}
                        {%- endfor %}
                    ){%- endif %}
                    using parquet
                    location '{{ location }}'
                {%- endset -%}
                {%- do run_query(ddl) -%}
                {{ log('tiering: source ' ~ relation ~ ' -> ' ~ location, info=false) }}
            {%- else -%}
                {{ log('tiering: source ' ~ relation ~ ' not read by this run, not registered'
                       ~ ' (Parquet at ' ~ location ~ ')', info=false) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- dbt-duckdb's external_location of a source table (table meta, source meta, or config). -#}
{% macro tiering_source_external_location(node) -%}
    {%- set found = node.meta.get('external_location')
        or node.source_meta.get('external_location')
        or (node.config.meta or {}).get('external_location')
        or node.config.get('external_location') -%}
    {{ return(found or none) }}
{%- endmacro %}

{% macro tiering_spark_source_location(node) -%}
    {%- set external = tiering_source_external_location(node) -%}
    {%- if external -%}
        {%- set quoted = modules.re.findall("'([^']+)'", external) -%}
        {%- set path = quoted[0] if quoted else none -%}
        {%- if path and '{{' not in path -%}
            {%- set path = path.replace('{name}', node.name).replace('{identifier}', node.identifier) -%}
            {{ return(path[:-10] if path.endswith('/*.parquet') else path) }}
        {%- endif -%}
        {{ return(var('raw_root') ~ '/' ~ node.source_name ~ '/' ~ node.name) }}
    {%- endif -%}
    {%- set root = var('spark_external_root', env_var('TIERING_SPARK_EXTERNAL_ROOT',
                       env_var('TIERING_HOME', 'data') ~ '/spark-external')) -%}
    {{ return(root ~ '/' ~ node.schema ~ '/' ~ node.identifier) }}
{%- endmacro %}
