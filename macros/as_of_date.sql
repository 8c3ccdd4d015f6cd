{#- The run's as-of date: everything is computed as of it, from the deliveries up to it.

    run_as_of_date() returns it as ISO text ('2026-10-31'); run_as_of_date_literal() as a DATE
    literal (cast('2026-10-31' as date)). Where it comes from, the first that is set:
      1. var('as_of_date'), when the invocation sets it:
         `dbt build --vars "{as_of_date: '2026-10-31'}"` (by hand, the benchmarks, the Spark
         suite, dbt unit tests' `overrides: vars:`);
      2. the environment variable TIERING_AS_OF_DATE, read while dbt executes (never while it
         parses): what `tiering` and Dagster's dbt steps set (orchestration/project.py);
      3. 2099-12-31: every delivery.
    Why the environment: dbt parses the whole project again whenever an invocation's `--vars`
    differ from those of its saved parse, and the as-of date changes every month, with every
    backfilled month and in most tests: `dbt parse` with a new date took 8.5 s in `--vars`
    against 3.0 s read from here (benchmarks/bench_parse.py). Read only at execution, the date
    lets a new month start from the saved parse (docs/operations.md, "Process settings").
    Nothing that dbt parses may depend on the date: configs and `where` configs are rendered at
    parse time, so a `where` names the date as the placeholder {as_of_date}, which
    get_where_subquery (macros/testing/tests_scoped_to_written_periods.sql) replaces while the
    test runs. -#}
{% macro run_as_of_date() -%}
    {%- set configured = var('as_of_date', '') | string | trim -%}
    {%- set source = "var('as_of_date')" -%}
    {%- if configured == '' and execute -%}
        {%- set configured = env_var('TIERING_AS_OF_DATE', '') | trim -%}
        {%- set source = 'the environment variable TIERING_AS_OF_DATE' -%}
    {%- endif -%}
    {%- if configured == '' -%}
        {{ return('2099-12-31') }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', configured) -%}
        {{ exceptions.raise_compiler_error(
            "The as-of date from " ~ source ~ " is '" ~ configured
            ~ "', not a date written YYYY-MM-DD") }}
    {%- endif -%}
    {%- set checked = modules.datetime.date.fromisoformat(configured) -%}
    {{ return(checked.isoformat()) }}
{%- endmacro %}

{% macro run_as_of_date_literal() -%}
    cast('{{ run_as_of_date() }}' as date)
{%- endmacro %}
