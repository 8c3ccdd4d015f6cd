{#- Delivery semantics shared by every staging model (docs/architecture.md, "dbt sources and
    staging"). Both return a select over the raw source restricted to deliveries on or before
    the run's as-of date (run_as_of_date(), macros/as_of_date.sql), with the lineage columns
    renamed (extract_date, source_file, source_row_number, loaded_at). A key delivered twice
    inside one delivery keeps its last row. -#}

{#- The newest period on or before the as-of date: the as-of date when it is a month end (as
    every scheduled refresh's is), else the month end before it. -#}
{% macro staging_period_bound() -%}
    {%- set as_of = modules.datetime.date.fromisoformat(run_as_of_date()) -%}
    {%- if (as_of + modules.datetime.timedelta(days=1)).day == 1 -%}
        {{ return(as_of.isoformat()) }}
    {%- endif -%}
    {{ return((as_of.replace(day=1) - modules.datetime.timedelta(days=1)).isoformat()) }}
{%- endmacro %}

{#- The delivered rows a staging model reads: the deliveries of the periods up to the as-of
    date (see delivery_period: a delivery cut before its month end belongs to the month end, so
    an as-of date inside a month reads the deliveries up to the month end before it), keys
    present. -#}
{% macro _staging_delivered_filter(key_columns) -%}
    _extract_date <= cast('{{ staging_period_bound() }}' as date)
    {%- for key in key_columns %}
    and {{ key }} is not null
    {%- endfor %}
{%- endmacro %}

{#- The period a delivery describes: the month end of its extract date. The contract cuts the
    monthly deliveries at month ends, and then this is the extract date itself; a department
    that cuts on another day of the month (the last business day, 2025-11-28 for November)
    still delivers November, and counts for 2025-11-30 with every other department's
    November. Staging's extract_date is this period (the folder's own date stays in
    source_file), so every department's deliveries of one month meet on one period. -#}
{% macro delivery_period(extract_date) -%}
    {{ return(adapter.dispatch('delivery_period', 'tiering')(extract_date)) }}
{%- endmacro %}
{% macro default__delivery_period(extract_date) -%}
    {{ dbt.last_day(extract_date, 'month') }}
{%- endmacro %}
{#- DuckDB and Spark have last_day (dbt's portable form goes through timestamps on Spark). -#}
{% macro duckdb__delivery_period(extract_date) -%}
    last_day({{ extract_date }})
{%- endmacro %}
{% macro spark__delivery_period(extract_date) -%}
    last_day({{ extract_date }})
{%- endmacro %}

{#- A snapshot delivery that a later delivery of the same entity in the same month replaces
    (a re-cut: 2025-11-28, then 2025-11-30): only the month's newest delivery is read. Each
    extract date lies in one month, so "is the newest of some month" is "is the newest of its
    own month". -#}
{% macro _snapshot_newest_of_month_filter(source_relation, filters) -%}
    _extract_date in (
        select max(_extract_date)
        from {{ source_relation }}
        where {{ filters }}
        group by {{ delivery_period('_extract_date') }}
    )
{%- endmacro %}

{#- Snapshot entity: one row per key per delivery, plus is_latest_delivery and
    is_latest_version (the newest delivered version of the key, even if it later vanished).
    One window sort of the rows (by key, newest delivery first, last row of a delivery first):
    the first row of a key's delivery is the one kept, the key's first row is its latest
    version. The newest delivery comes from a scalar subquery, not a window over every row (a
    window without a partition gathers the whole entity in one partition). -#}
{% macro snapshot_deliveries(source_relation, key_columns) -%}
    {%- set keys = key_columns | join(', ') -%}
    {%- set filters = _staging_delivered_filter(key_columns) -%}
    {%- set append_after = staging_append_after(source_relation, key_columns) -%}
    {%- if append_after is not none -%}
        {%- set filters = filters ~ "\n            and _extract_date > cast('" ~ append_after
                                  ~ "' as date)" -%}
    {%- endif -%}
    {%- set filters = filters ~ "\n            and "
                      ~ _snapshot_newest_of_month_filter(source_relation, filters) -%}
    select
        ranked.*,
        ranked.extract_date = (
            select {{ delivery_period('max(_extract_date)') }}
            from {{ source_relation }}
            where {{ filters }}
        ) as is_latest_delivery
    from (
        select
            delivered.*,
            {{ delivery_period('delivered._extract_date') }} as extract_date,
            delivered._source_file as source_file,
            delivered._row_number as source_row_number,
            delivered._loaded_at as loaded_at,
            row_number() over key_versions = 1 as is_latest_version,
            not coalesce({{ null_safe_equal('lag(delivered._extract_date) over key_versions',
                                            'delivered._extract_date') }}, false)
                as __is_last_row_of_delivery
        from {{ source_relation }} as delivered
        where {{ filters }}
        window key_versions as (
            partition by {{ keys }}
            order by delivered._extract_date desc, delivered._row_number desc
        )
    ) as ranked
    where ranked.__is_last_row_of_delivery
{%- endmacro %}

{#- Incremental entity: one row per key, the latest delivery wins (a correction), with
    extract_date of the winning delivery and first_extract_date of the key. Appending (see
    staging_by_delivery), the stored row of a key the new deliveries carry keeps its
    first_extract_date. -#}
{% macro incremental_deliveries(source_relation, key_columns) -%}
    {%- set keys = key_columns | join(', ') -%}
    {%- set append_after = staging_append_after(source_relation, key_columns) -%}
    select
        ranked.*,
        {%- if append_after is not none %}
        coalesce(stored.first_extract_date, ranked.__first_extract_date_delivered)
            as first_extract_date
        {%- else %}
        ranked.__first_extract_date_delivered as first_extract_date
        {%- endif %}
    from (
        select
            delivered.*,
            {{ delivery_period('delivered._extract_date') }} as extract_date,
            {{ delivery_period('min(delivered._extract_date) over (partition by ' ~ keys ~ ')') }}
                as __first_extract_date_delivered,
            delivered._source_file as source_file,
            delivered._row_number as source_row_number,
            delivered._loaded_at as loaded_at,
            row_number() over (
                partition by {{ keys }}
                order by delivered._extract_date desc, delivered._row_number desc
            ) as __version_rank
        from {{ source_relation }} as delivered
        where {{ _staging_delivered_filter(key_columns) }}
        {%- if append_after is not none %}
            and delivered._extract_date > cast('{{ append_after }}' as date)
        {%- endif %}
    ) as ranked
    {%- if append_after is not none %}
    left join {{ this }} as stored
        on {% for key in key_columns -%}
        stored.{{ key }} = ranked.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    {%- endif %}
    where ranked.__version_rank = 1
{%- endmacro %}

{#- A snapshot entity delivers the same row month after month (a client's record changes a few
    times a year, it is delivered 12 times a year), and the cleaning macros (names, codes, phones,
    dates, amounts) are the costly part of staging. The three macros below let a staging model
    clean each distinct delivered version once and join the result back to every delivered row:

        delivered as ({{ snapshot_deliveries(...) }}),
        versions as ({{ distinct_versions('delivered', content_columns) }}),
        cleaned as (select <cleaning of versions>, {{ version_columns(content_columns) }} from versions),
        ...
        versions_rejoined as ({{ rejoin_versions('delivered', 'codes_checked', content_columns,
                                                 carried_columns) }}),
        final as (select ... from versions_rejoined)

    content_columns are the raw columns the cleaning reads (every one of them, or two rows that
    differ only in an unlisted column would share a version); carried_columns are the key and
    lineage columns taken from the delivered row. Same result as cleaning every row
    (docs/standardisation.md, "Cost"); worth it where rows repeat (8-20 per version in crm
    clients, finance customers and statements), not where every month's row differs.

    Rows meet their version on a 64-bit hash of the content columns (version_hash), not on the
    columns themselves: at 1M clients the crm clients' select took 0.66 of the CPU time
    (docs/benchmarks.md, "Staging's versions joined on a hash"). Two distinct versions with one
    hash (about 1e-7 for the 2.3M versions of 1M clients) would join each of their rows twice,
    which the model's grain test (unique_combination_of_columns on key and extract_date)
    reports. -#}
{% macro distinct_versions(relation, content_columns) -%}
    select distinct {{ content_columns | join(', ') }}
    from {{ relation }}
{%- endmacro %}

{#- The hash of the raw content columns the cleaning carries, to join the rows on. -#}
{% macro version_columns(content_columns) -%}
        {{ version_hash(content_columns) }} as __version_hash
{%- endmacro %}

{% macro rejoin_versions(delivered, cleaned, content_columns, carried_columns) -%}
    {%- set delivered_columns = [] -%}
    {%- for column in content_columns -%}
        {%- do delivered_columns.append(delivered ~ '.' ~ column) -%}
    {%- endfor -%}
    select
        {%- for column in carried_columns %}
        {{ delivered }}.{{ column }},
        {%- endfor %}
        {{ cleaned }}.*
    from {{ delivered }}
    inner join {{ cleaned }}
        on {{ version_hash(delivered_columns) }} = {{ cleaned }}.__version_hash
{%- endmacro %}

{#- a = b, where NULL equals NULL. -#}
{% macro null_safe_equal(left, right) -%}
    {{ return(adapter.dispatch('null_safe_equal', 'tiering')(left, right)) }}
{%- endmacro %}
{% macro default__null_safe_equal(left, right) -%}
    {{ left }} is not distinct from {{ right }}
{%- endmacro %}
{% macro spark__null_safe_equal(left, right) -%}
    {{ left }} <=> {{ right }}
{%- endmacro %}
