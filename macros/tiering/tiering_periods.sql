{#- Tier history is built one period (month end) at a time. Every incremental tiering model
    deletes and re-inserts the periods it builds (config: incremental_strategy delete+insert,
    unique_key period_date; on Spark: insert_overwrite partitioned by period_date).

    tiering_is_period_to_build(upstream): predicate on `period_date` that is true on a full
    refresh for every period, and on an incremental run only for periods newer than the model's
    newest one, plus the as-of period itself (the newest period of `upstream` on or before
    var('as_of_date')), so that re-running a month rebuilds exactly that month. -#}
{% macro tiering_is_period_to_build(upstream, period_column='period_date') -%}
    {%- if is_incremental() -%}
    (
        {{ period_column }} > (select max(period_date) from {{ this }})
        or {{ period_column }} = (
            select max(period_date)
            from {{ upstream }}
            where period_date <= cast('{{ var("as_of_date") }}' as date)
        )
    )
    {%- else -%}
    {{ period_column }} <= cast('{{ var("as_of_date") }}' as date)
    {%- endif -%}
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
