{#- Which build last wrote each period of a period mart, for the serving copy (docs/publishing.md,
    "Copying only what changed").

    Publishing copies a period mart (client_tiers) into the serving file period by period, and
    only the periods a build rewrote since the previous publish. It used to find them by
    fingerprinting every period of both copies (row count and the sum of the masked rows'
    hashes): at 1M clients a scan of the 150M-row history, twice, every month. Instead the
    model's pre-hook records here, in the build database, the periods the run is about to
    write, with dbt's invocation id as their version:

        main.period_versions (table_name, period_date, version, recorded_at)

    A first build or a full refresh replaces the table's every period; an incremental run the
    periods it writes (`written_periods`: the model's own rule, as a query on the table as it
    stands before the build). Publishing compares these versions with those it stored in the
    serving file and copies the periods whose version differs. A build that fails after its
    pre-hook leaves newer versions on unchanged periods: they are copied again, never missed.
    DuckDB only (publishing is). -#}
{% macro period_versions_recorded(written_periods, period_column='period_date') -%}
    {%- if not execute or target.type != 'duckdb' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set versions = this.database ~ '.main.period_versions' -%}
    create table if not exists {{ versions }} (
        table_name varchar, period_date date, version varchar, recorded_at timestamp);
    delete from {{ versions }}
    where table_name = '{{ this.identifier }}'
    {%- if is_incremental() %}
        and period_date in (select {{ period_column }} from ({{ written_periods }}) as written)
    {%- endif %};
    insert into {{ versions }}
    select distinct '{{ this.identifier }}', {{ period_column }}, '{{ invocation_id }}',
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
    from ({{ written_periods }}) as written
{%- endmacro %}
