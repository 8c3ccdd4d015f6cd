{#- Tier history is built one period (month end) at a time. Every incremental tiering model
    deletes and re-inserts the periods it builds (config: incremental_strategy delete+insert,
    unique_key period_date; on Spark: insert_overwrite partitioned by period_date).

    tiering_is_period_to_build(upstream): predicate on `period_date` that is true on a full
    refresh for every period, and on an incremental run only for periods newer than the model's
    newest one, plus the as-of period itself (the newest period of `upstream` on or before
    the run's as-of date, run_as_of_date()), so that re-running a month rebuilds exactly that
    month.

    Period batches: one statement builds at most var('tiering_periods_per_statement') of those
    periods (0: all of them at once), the earliest first; the model's post-hook
    tiering_build_period_batches builds the rest, batch after batch, in the same run (see
    there). A first refresh at 1M clients x 24 periods in one statement spilled > 30 GB
    (docs/benchmarks.md, "Pipeline at scale"). -#}
{% macro tiering_is_period_to_build(upstream, period_column='period_date') -%}
    {%- set periods_per_statement = tiering_periods_per_statement() -%}
    {%- if periods_per_statement > 0 -%}
    (
        {{ tiering_period_in_scope(upstream, period_column) }}
        and {{ period_column }} > {{ tiering_period_cursor() }}
        and {{ period_column }} <= (
            select max(period_date)
            from (
                select distinct period_date
                from {{ upstream }}
                where {{ tiering_period_in_scope(upstream) }}
                    and period_date > {{ tiering_period_cursor() }}
                order by period_date
                limit {{ periods_per_statement }}
            ) as next_periods
        )
    )
    {%- else -%}
    {{ tiering_period_in_scope(upstream, period_column) }}
    {%- endif -%}
{%- endmacro %}

{#- The periods a run builds, all batches together (see tiering_is_period_to_build). -#}
{% macro tiering_period_in_scope(upstream, period_column='period_date') -%}
    {%- if is_incremental() -%}
    (
        {{ period_column }} > (select max(period_date) from {{ this }})
        or {{ period_column }} = (
            select max(period_date)
            from {{ upstream }}
            where period_date <= {{ run_as_of_date_literal() }}
        )
    )
    {%- else -%}
    {{ period_column }} <= {{ run_as_of_date_literal() }}
    {%- endif -%}
{%- endmacro %}

{#- The periods a run of a model built with tiering_is_period_to_build(upstream) writes, all
    batches together, as a query (its pre-hook records them: tests_scope_recorded). -#}
{% macro tiering_periods_written(upstream) -%}
    select distinct period_date from {{ upstream }}
    where {{ tiering_period_in_scope(upstream) }}
{%- endmacro %}

{#- client_tiers' periods: the delivered periods up to the as-of date newer than the table's
    newest stored period, and the as-of period; every one on a first build or a full refresh.
    One rule for the model (periods_to_build), its tests' scope and the periods it records as
    rewritten for publishing (period_versions_recorded), so they cannot drift apart.

    tiering_tier_built_until(): the newest stored period, read once as a literal (none on a
    first build): every client batch of the model builds the same periods, though the first
    batch's rows are stored before the next one runs.
    tiering_tier_periods_to_build(periods, built_until): the rows of `periods` (a relation with
    a period_date column: the delivered periods up to the as-of date) the run builds. -#}
{% macro tiering_tier_built_until() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_query('select max(period_date) from ' ~ this).columns[0].values()[0]) }}
{%- endmacro %}

{% macro tiering_tier_periods_to_build(periods, built_until) -%}
    select * from {{ periods }}
    {%- if built_until is not none %}
    where period_date > cast('{{ built_until }}' as date)
        or period_date = (select max(period_date) from {{ periods }})
    {%- endif %}
{%- endmacro %}

{#- The periods a run of client_tiers writes, as a query (its pre-hooks record them). -#}
{% macro tiering_tier_periods_written() -%}
    {%- set delivered -%}
        (select distinct period_date
         from {{ ref('int_tiering_dimensions_scored') }}
         where period_date <= {{ run_as_of_date_literal() }}) as delivered
    {%- endset -%}
    select period_date
    from ({{ tiering_tier_periods_to_build(delivered, tiering_tier_built_until()) }})
        as periods_written
{%- endmacro %}

{% macro tiering_periods_per_statement() -%}
    {{ return(var('tiering_periods_per_statement') | int) }}
{%- endmacro %}

{#- The batch's lower bound (exclusive) in the compiled SQL: the first statement starts before
    every period; the post-hook replaces this literal, comment included, by the newest period
    built so far to run the next batch with the same compiled SQL. -#}
{% macro tiering_period_cursor(after='1900-01-01') -%}
    cast('{{ after }}' as date) /* tiering_period_cursor */
{%- endmacro %}

{#- Post-hook of the models that call tiering_is_period_to_build: after the model's own
    statement has built the first batch, build the next ones until no period of `upstream`
    (a relation or subquery with a period_date column) is newer than the model's newest. Each
    batch is the model's compiled SQL with the cursor moved to the newest period built, written
    by the adapter's own incremental strategy (tiering_insert_period_batch). This is dbt's
    microbatch idea with data-driven batches: microbatch windows run from the config `begin` (or
    --event-time-start) to the wall clock (or --event-time-end), not from the table's newest
    period to the as-of period (docs/scaling.md, "Period batches").
    Only for models whose periods do not depend on each other: every batch runs the SQL the
    first statement was compiled to (on a first build, the full-refresh form), so a model that
    continues from its stored previous period (client_tiers) cannot be batched this way. -#}
{% macro tiering_build_period_batches(upstream) -%}
    {%- if execute and tiering_periods_per_statement() > 0 -%}
        {%- set first_cursor = tiering_period_cursor() -%}
        {%- if first_cursor not in sql -%}
            {{ exceptions.raise_compiler_error(
                "tiering_build_period_batches: " ~ this ~ " does not build its periods with "
                ~ "tiering_is_period_to_build") }}
        {%- endif -%}
        {%- set state = namespace(cursor=none) -%}
        {#- at most one batch per period: the loop ends well before -#}
        {%- for batch in range(1000) -%}
            {%- set built_until = run_query(
                'select max(period_date) from ' ~ this).columns[0].values()[0] -%}
            {%- if built_until is none or (built_until ~ '') == state.cursor -%}
                {%- break -%}
            {%- endif -%}
            {%- set state.cursor = built_until ~ '' -%}
            {%- set newer = run_query(
                'select count(*) from ' ~ upstream ~ ' where period_date > '
                ~ tiering_period_cursor(state.cursor[:10])).columns[0].values()[0] -%}
            {%- if newer == 0 -%}
                {%- break -%}
            {%- endif -%}
            {%- do tiering_insert_period_batch(
                sql.replace(first_cursor, tiering_period_cursor(state.cursor[:10]))) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The month ends at which crm or risk delivered, up to the as-of date (staging reads no later
    delivery): the periods of the features (int_tiering_client_features_built). -#}
{% macro tiering_delivered_periods() -%}
    (
        select distinct extract_date as period_date from {{ ref('stg_crm__clients') }}
        union
        select distinct extract_date as period_date from {{ ref('stg_risk__credit_profiles') }}
    )
{%- endmacro %}

{#- Insert the periods a SELECT returns into the model's table, replacing those periods: the
    strategy the model's incremental runs use (delete+insert on DuckDB, insert_overwrite of
    the period partitions on Spark; macros/spark/incremental.sql). -#}
{% macro tiering_insert_period_batch(batch_sql) -%}
    {{ return(adapter.dispatch('tiering_insert_period_batch', 'tiering')(batch_sql)) }}
{%- endmacro %}

{% macro default__tiering_insert_period_batch(batch_sql) -%}
    {%- set batch_relation = make_temp_relation(this, '__dbt_period_batch')
        .incorporate(type='table') -%}
    {%- do run_query(create_table_as(True, batch_relation, batch_sql)) -%}
    {%- set strategy = adapter.get_incremental_strategy_macro(
        context, config.get('incremental_strategy')) -%}
    {%- do run_query(strategy({
        'target_relation': this,
        'temp_relation': batch_relation,
        'unique_key': config.get('unique_key'),
        'dest_columns': adapter.get_columns_in_relation(this),
        'incremental_predicates': none,
    })) -%}
    {%- do adapter.drop_relation(batch_relation) -%}
{%- endmacro %}

{% macro spark__tiering_insert_period_batch(batch_sql) -%}
    {%- set batch_view = this
        .incorporate(path={'identifier': this.identifier ~ '__dbt_period_batch'})
        .include(database=false, schema=false) -%}
    {%- do run_query(create_table_as(True, batch_view, batch_sql)) -%}
    {%- do run_query(get_insert_overwrite_sql(batch_view, this, this)) -%}
    {%- do run_query('drop view if exists ' ~ batch_view) -%}
{%- endmacro %}

{#- Percentile rank in [0, 1] of a measure among the clients of the same period that have it
    (NULL stays NULL: missing is not the worst). higher_is_better=false inverts it. -#}
{% macro tiering_percentile(measure, higher_is_better=true, partition_by='period_date') -%}
    case
        when {{ measure }} is not null then
            {%- if not higher_is_better %} 1 - {% endif %}
            percent_rank() over (
                partition by {{ partition_by }}, case when {{ measure }} is null then 1 else 0 end
                order by {{ measure }}
            )
    end
{%- endmacro %}

{#- Dimension score 0-100: the weighted mean of components in [0, 1] (weights: seed
    tiering_dimension_components), each missing component counting as the neutral 0.5, so a
    client with no inputs scores 50 (coverage 0), never a silent zero. A component missing from
    the seed has no weight and makes the score NULL (caught by the not_null tests). -#}
{% macro tiering_dimension_score(components) -%}
    round(100.0 * (
        {%- for component in components %}
        {{ tiering_component_weight(component) }} * coalesce({{ component }}, 0.5)
        {{- ' +' if not loop.last }}
        {%- endfor %}
    ) / ({{ tiering_components_weight(components) }}), 2)
{%- endmacro %}

{#- Weighted share (0-1) of a dimension's components that are present. -#}
{% macro tiering_dimension_coverage(components) -%}
    round((
        {%- for component in components %}
        {{ tiering_component_weight(component) }}
            * case when {{ component }} is not null then 1.0 else 0.0 end
        {{- ' +' if not loop.last }}
        {%- endfor %}
    ) / ({{ tiering_components_weight(components) }}), 4)
{%- endmacro %}

{#- The weight of one component within its dimension, and the sum over a list of them. -#}
{% macro tiering_component_weight(component) -%}
    (select max(component_weight) from {{ ref('tiering_dimension_components') }}
     where component_code = '{{ component }}')
{%- endmacro %}

{% macro tiering_components_weight(components) -%}
    (select sum(component_weight) from {{ ref('tiering_dimension_components') }}
     where component_code in (
        {%- for component in components %}'{{ component }}'{{ ', ' if not loop.last }}{% endfor -%}
     ))
{%- endmacro %}

{#- A numeric tuning constant from seed tiering_parameters, as a scalar subquery. -#}
{% macro tiering_parameter(name) -%}
    (select max(parameter_value) from {{ ref('tiering_parameters') }}
     where parameter_name = '{{ name }}')
{%- endmacro %}

{#- Safe ratio: NULL when the denominator is NULL or 0. -#}
{% macro tiering_ratio(numerator, denominator) -%}
    {#- doubles: Spark divides decimals into a decimal rounded to 6 digits -#}
    case when ({{ denominator }}) <> 0
        then cast(({{ numerator }}) as double) / cast(({{ denominator }}) as double) end
{%- endmacro %}
