{#- Data tests of a period model check the periods the run wrote, not the whole history
    (docs/quality.md, "A period model's data tests check the periods the run wrote").

    An incremental period model (client_tiers, the features, the scores, the outcomes, the
    xref history) rewrites a few periods a month and leaves every other period as an earlier
    run wrote and tested it. Its data tests are all period-local: a row's own columns, a grain
    that includes the period, the latest period's keys. So, on DuckDB, a test in the same dbt
    invocation as the model's build checks only the periods that build wrote: at 1M clients the
    tests of client_tiers alone scanned its 150M-row history for 100 node-seconds a month
    (docs/benchmarks.md).

    tests_scope_recorded(written_periods, period_column): the model's pre-hook. On an
    incremental run it runs `written_periods` (a query of the period values the build is about
    to write, the model's own predicate on the table as it stands before the build) and records
    them, with dbt's invocation id, as the table's comment:
        'tests-scope <invocation_id> <period_column> <period>,<period>,...'
    A first build or a full refresh writes every period and records nothing.

    get_where_subquery(relation): dbt's hook that puts a test's `where` config around the tested
    relation, overridden here to add the recorded scope when it belongs to this invocation. So:
      - a first build, a full refresh, a model without the pre-hook: every row is tested;
      - a standalone `dbt test` (another invocation id): every row is tested;
      - `--vars '{data_tests_scope: all}'` tests every row in any run;
      - a test whose check spans periods opts out with `config: {meta: {tests_scope: all}}`.
    Other engines (Spark) record nothing: every row is tested. -#}

{% macro tests_scope_recorded(written_periods, period_column='period_date') -%}
    {%- if not execute or target.type != 'duckdb' or not is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set periods = run_query(
        'select distinct cast(' ~ period_column ~ ' as varchar) from (' ~ written_periods
        ~ ') as written order by 1').columns[0].values() -%}
    comment on table {{ this }} is 'tests-scope {{ invocation_id }} {{ period_column }}
        {{- ' ' ~ (periods | reject('none') | join(',') or 'none') }}'
{%- endmacro %}

{#- The condition that limits a test of `relation` to the periods this invocation wrote, or
    none to test every row. -#}
{% macro tests_scope_condition(relation) -%}
    {%- if not execute or target.type != 'duckdb' or var('data_tests_scope', 'written') == 'all'
            or (config.get('meta') or {}).get('tests_scope') == 'all'
            or relation.identifier is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- 'tests-scope <invocation_id> <period_column> <periods>'
        (duckdb_table_comment: macros/cleaning/incremental_staging.sql) -#}
    {%- set parts = duckdb_table_comment(relation).split(' ') -%}
    {%- if parts | length != 4 or parts[0] != 'tests-scope' or parts[1] != invocation_id -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if parts[3] == 'none' -%}
        {{ return('1 = 0') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for period in parts[3].split(',') -%}
        {%- do literals.append("cast('" ~ period ~ "' as date)") -%}
    {%- endfor -%}
    {{ return(parts[2] ~ ' in (' ~ literals | join(', ') ~ ')') }}
{%- endmacro %}

{#- dbt's own macro (global_project .../tests/where_subquery.sql), with the scope added to the
    test's `where` config, and the placeholder {as_of_date} in it replaced by the run's as-of date
    as a DATE literal (dbt renders a `where` when it parses, before the date is known:
    macros/as_of_date.sql). The config is never the first thing after the relation in
    parentheses: Spark (non-ANSI) reads `from t where (x)` as the alias `where` with a column
    list. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') or '' -%}
    {%- if '{as_of_date}' in where -%}
        {%- set where = where | replace('{as_of_date}', run_as_of_date_literal()) -%}
    {%- endif -%}
    {%- set scope = tests_scope_condition(relation) -%}
    {%- if scope -%}
        {%- set where = scope ~ (' and (' ~ where ~ ')' if where else '') -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
