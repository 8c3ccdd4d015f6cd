{#- Tier dynamics helpers (docs/dynamics.md). -#}

{#- A numeric tuning constant from seed tiering_dynamics_parameters, as a scalar subquery; or,
    to try a value without editing the seed (tuning, benchmarks), from the var
    `tiering_dynamics_parameters`:
    `--vars '{tiering_dynamics_parameters: {stability_margin_points: 0}}'`. -#}
{% macro dynamics_parameter(name) -%}
    {%- set overrides = var('tiering_dynamics_parameters', {}) or {} -%}
    (select
        {%- if name in overrides %} coalesce({{ overrides[name] | float }}, max(parameter_value))
        {%- else %} max(parameter_value){% endif %}
     from {{ ref('tiering_dynamics_parameters') }}
     where parameter_name = '{{ name }}')
{%- endmacro %}

{#- The same constant as a number known when the model compiles, for SQL that needs a literal
    (a window frame's bound: Spark accepts only a constant there). The var wins, else the seed
    is read when the model runs; while dbt parses (no database yet) a placeholder, 1. -#}
{% macro dynamics_parameter_value(name) -%}
    {%- set overrides = var('tiering_dynamics_parameters', {}) or {} -%}
    {%- if name in overrides and overrides[name] is not none -%}
        {{ return(overrides[name] | float) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set found = run_query(
        "select max(parameter_value) from " ~ ref('tiering_dynamics_parameters')
        ~ " where parameter_name = '" ~ name ~ "'").columns[0].values() -%}
    {%- if found | length == 0 or found[0] is none -%}
        {{ exceptions.raise_compiler_error(
            "seed tiering_dynamics_parameters has no value for " ~ name) }}
    {%- endif -%}
    {{ return(found[0] | float) }}
{%- endmacro %}

{#- The periods a monitoring model (int_dynamics_cohort_outcomes, tier_performance_by_tier,
    tier_performance) builds, as a predicate on period_date: every period on a full refresh; incrementally the periods newer
    than the table's, those whose outcome window is open as of the run (at most
    monitoring_outcome_months before the as-of date: the run in which a window closes computes
    it complete) and any period stored with an open window (after a past month was re-run). -#}
{% macro dynamics_outcome_periods_to_build(period_column='period_date') -%}
    {%- if is_incremental() -%}
    (
        {{ period_column }} > (select max(period_date) from {{ this }})
        or {{ dbt.datediff(period_column, run_as_of_date_literal(), 'month') }}
            <= {{ dynamics_parameter('monitoring_outcome_months') }}
        or {{ period_column }} in (
            select period_date from {{ this }} where not is_outcome_window_complete
        )
    )
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The periods of `tiers` (client_tiers) a monitoring model builds, as a query. -#}
{% macro dynamics_outcome_periods(tiers) -%}
    select period_date
    from (
        select distinct period_date
        from {{ tiers }}
        where period_date <= {{ run_as_of_date_literal() }}
    ) as built
    where {{ dynamics_outcome_periods_to_build() }}
{%- endmacro %}

{#- The lowest tier rank a guardrail allows (1 = best tier, i.e. no constraint): registry
    吊销/注销 and a live default force the worst tier, the credit floor and a recent serious
    delinquency cap at C. This mirrors
    the guardrails of int_tiering_composites_weighted (which applies them to the band tier);
    client_tiers applies the same guardrails to the stabilised tier, so that a guardrail
    downgrade takes effect at once whatever the stability rule holds. `policy` is a relation
    with the tier policy's columns. -#}
{% macro dynamics_guardrail_floor_rank(guardrail_code, policy) -%}
    case
        when {{ guardrail_code }} in ('registry_revoked', 'live_default')
            then (select max(tier_rank) from {{ policy }})
        when {{ guardrail_code }} in ('credit_floor', 'delinquency')
            then (select max(tier_rank) from {{ policy }} where tier_code = 'C')
        else (select min(tier_rank) from {{ policy }})
    end
{%- endmacro %}
