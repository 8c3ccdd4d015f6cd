{#- One row per client per period per weight profile: the tier history (docs/dynamics.md).

    Tier of a row, in order:
      band tier        the composite score's band (tier policy), as int_tiering_composites_weighted
      stable band tier the band tier after the stability rule: for every band boundary the
                       client is on one side of, it moves to the other side only when the composite
                       crosses the boundary by stability_margin_points (hysteresis) or stays on the
                       other side for stability_persistence_periods consecutive periods
      rule tier        the stable band tier after the guardrails (applied at once: never held)
      tier_code        an applicable override valid at the period, else the rule tier

    The stability rule is path-dependent, but per boundary it is a two-state switch whose state
    is the direction of the latest "decisive" period (crossed by the margin, or across for the
    persistence periods), so it needs no recursion: window functions over the client's
    consecutive periods find the latest decisive period. A segment of consecutive periods starts
    at the client's first period (or after a gap) from its band tier.

    Incremental by period (delete+insert on DuckDB, insert_overwrite of the period partitions on
    Spark): a run builds the periods newer than the table's newest plus the as-of period, never
    one after the as-of date. The switches of a built period continue from the stored row of
    the period before (and the composites of the persistence window before it), so building
    month by month gives exactly what a full refresh computes over every period (tested), and a
    rebuilt month equals its first build. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
) }}

{%- set dimensions = ['value', 'credit', 'risk_tolerance', 'influence', 'potential', 'loyalty'] %}
{%- set margin = dynamics_parameter('stability_margin_points') %}
{%- set persistence = dynamics_parameter('stability_persistence_periods') %}
{#- A table built before the stability rule existed has no stable_band_tier_code: its rows seed
    the switches from their composite (run a full refresh or a backfill to restate them). -#}
{%- set stored_columns = [] %}
{%- if is_incremental() %}
    {%- set stored_columns = adapter.get_columns_in_relation(this)
        | map(attribute='name') | map('lower') | list %}
{%- endif %}

with

policy as (select * from {{ ref('tiering_tier_policy') }}),

overrides as (
    select * from {{ ref('int_dynamics_overrides_governed') }}
    where is_applicable
),

{#- The periods delivered up to the as-of date, numbered: consecutive periods differ by one. -#}
periods as (
    select
        period_date,
        dense_rank() over (order by period_date) as period_index
    from (
        select distinct period_date
        from {{ ref('int_tiering_dimensions_scored') }}
        where period_date <= {{ dynamics_as_of() }}
    ) as delivered
),

periods_to_build as (
    select * from periods
    {%- if is_incremental() %}
    where period_date > (select max(period_date) from {{ this }})
        or period_date = (select max(period_date) from periods)
    {%- endif %}
),

first_period_to_build as (
    select min(period_index) as period_index from periods_to_build
),

composites as (
    select
        composites.*,
        periods_to_build.period_index
    from {{ ref('int_tiering_composites_weighted') }} as composites
    inner join periods_to_build
        on composites.period_date = periods_to_build.period_date
),

reasons as (
    select reasons.*
    from {{ ref('int_tiering_reasons_ranked') }} as reasons
    inner join periods_to_build
        on reasons.period_date = periods_to_build.period_date
),

{#- Stored rows of the periods just before the first period to build: the seed of the switches
    (the period right before) and the composites of the persistence window. -#}
stored as (
    {%- if is_incremental() %}
    select
        stored.client_key,
        stored.profile_code,
        stored.period_date,
        periods.period_index,
        stored.composite_score,
        {%- if 'stable_band_tier_code' in stored_columns %}
        stored.stable_band_tier_code,
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as stable_band_tier_code,
        {%- endif %}
        stored.tier_code
    from {{ this }} as stored
    inner join periods
        on stored.period_date = periods.period_date
    cross join first_period_to_build
    where periods.period_index < first_period_to_build.period_index
        and periods.period_index >= first_period_to_build.period_index - {{ persistence }} + 1
    {%- else %}
    select
        client_key,
        profile_code,
        period_date,
        period_index,
        composite_score,
        cast(null as {{ dbt.type_string() }}) as stable_band_tier_code,
        tier_code
    from composites
    where 1 = 0
    {%- endif %}
),

rows_in_play as (
    select
        client_key,
        profile_code,
        period_date,
        period_index,
        composite_score,
        cast(null as {{ dbt.type_int() }}) as stored_stable_band_tier_rank,
        false as is_stored
    from composites
    union all
    select
        stored.client_key,
        stored.profile_code,
        stored.period_date,
        stored.period_index,
        stored.composite_score,
        policy.tier_rank as stored_stable_band_tier_rank,
        true as is_stored
    from stored
    left join policy
        on stored.stable_band_tier_code = policy.tier_code
),

segment_starts as (
    select
        *,
        case
            when lag(period_index) over (
                partition by client_key, profile_code order by period_index
            ) = period_index - 1 then 0
            else 1
        end as is_segment_start
    from rows_in_play
),

segments as (
    select
        *,
        sum(is_segment_start) over (
            partition by client_key, profile_code
            order by period_index
            rows between unbounded preceding and current row
        ) as segment_number
    from segment_starts
),

{#- Every boundary between two tiers: the lower score bound of each tier but the worst. -#}
boundaries as (
    select
        tier_rank as boundary_tier_rank,
        min_score as boundary_score
    from policy
    where tier_rank < (select max(tier_rank) from policy)
),

sides as (
    select
        segments.*,
        boundaries.boundary_tier_rank,
        boundaries.boundary_score,
        case when segments.composite_score >= boundaries.boundary_score then 1 else 0 end
            as is_above
    from segments
    cross join boundaries
),

side_changes as (
    select
        *,
        case
            when lag(is_above) over (
                partition by client_key, profile_code, boundary_tier_rank, segment_number
                order by period_index
            ) = is_above then 0
            else 1
        end as is_side_change
    from sides
),

side_runs as (
    select
        *,
        sum(is_side_change) over (
            partition by client_key, profile_code, boundary_tier_rank, segment_number
            order by period_index
            rows between unbounded preceding and current row
        ) as side_run_number
    from side_changes
),

streaks as (
    select
        *,
        row_number() over (
            partition by client_key, profile_code, boundary_tier_rank, segment_number,
                side_run_number
            order by period_index
        ) as periods_on_side
    from side_runs
),

{#- The switch's state (1 = at or above the boundary) where a period decides it, else NULL. -#}
decisions as (
    select
        streaks.*,
        case
            when streaks.is_stored and streaks.period_index = first_period_to_build.period_index - 1
                then case
                    when streaks.stored_stable_band_tier_rank is null then streaks.is_above
                    when streaks.stored_stable_band_tier_rank <= streaks.boundary_tier_rank
                        then 1
                    else 0
                end
            when streaks.is_stored then null
            when streaks.is_segment_start = 1 then streaks.is_above
            when streaks.composite_score >= streaks.boundary_score + {{ margin }} then 1
            when streaks.composite_score < streaks.boundary_score - {{ margin }} then 0
            when streaks.periods_on_side >= {{ persistence }} then streaks.is_above
        end as decided_state
    from streaks
    cross join first_period_to_build
),

switches as (
    select
        *,
        max(case when decided_state is not null then period_index * 2 + decided_state end)
            over (
                partition by client_key, profile_code, boundary_tier_rank, segment_number
                order by period_index
                rows between unbounded preceding and current row
            ) as decision_code
    from decisions
),

stable_bands as (
    select
        client_key,
        profile_code,
        period_date,
        coalesce(
            min(case when mod(decision_code, 2) = 1 then boundary_tier_rank end),
            (select max(tier_rank) from policy)
        ) as stable_band_tier_rank
    from switches
    where not is_stored
    group by client_key, profile_code, period_date
),

ruled as (
    select
        composites.*,
        stable_bands.stable_band_tier_rank,
        greatest(
            stable_bands.stable_band_tier_rank,
            {{ dynamics_guardrail_floor_rank('composites.guardrail_code', 'policy') }}
        ) as rule_tier_rank
    from composites
    inner join stable_bands
        on composites.client_key = stable_bands.client_key
        and composites.profile_code = stable_bands.profile_code
        and composites.period_date = stable_bands.period_date
),

overrides_matched as (
    select
        ruled.*,
        overrides.override_id,
        overrides.reason as override_reason,
        overrides.approver as override_approver,
        overrides.tier_rank as override_tier_rank,
        overrides.valid_to as override_valid_to,
        row_number() over (
            partition by ruled.client_key, ruled.profile_code, ruled.period_date
            order by overrides.valid_from desc, overrides.override_id
        ) as override_rank
    from ruled
    left join overrides
        on ruled.client_key = overrides.current_client_key
        and ruled.period_date >= overrides.valid_from
        and ruled.period_date <= overrides.valid_to
),

overridden as (
    select
        *,
        coalesce(override_tier_rank, rule_tier_rank) as final_tier_rank
    from overrides_matched
    where override_rank = 1
),

previous_tiers as (
    select
        stored.client_key,
        stored.profile_code,
        stored.period_index + 1 as next_period_index,
        stored.tier_code
    from stored
    cross join first_period_to_build
    where stored.period_index = first_period_to_build.period_index - 1
    union all
    select
        overridden.client_key,
        overridden.profile_code,
        overridden.period_index + 1 as next_period_index,
        policy.tier_code
    from overridden
    inner join policy
        on overridden.final_tier_rank = policy.tier_rank
),

reasons_pivoted as (
    select
        client_key,
        period_date,
        profile_code,
        {%- for rank in [1, 2, 3] %}
        max(case when reason_rank = {{ rank }} then reason_code end) as reason_code_{{ rank }},
        max(case when reason_rank = {{ rank }} then reason_label end) as reason_label_{{ rank }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from reasons
    group by client_key, period_date, profile_code
),

tiers as (
    select
        overridden.client_key,
        overridden.period_date,
        overridden.profile_code,
        final_tier.tier_code,
        final_tier.tier_name,
        band_tier.tier_code as band_tier_code,
        stable_band_tier.tier_code as stable_band_tier_code,
        overridden.tier_code as unstabilised_tier_code,
        rule_tier.tier_code as rule_tier_code,
        previous_tiers.tier_code as previous_tier_code,
        overridden.guardrail_code,
        {%- for rank in [1, 2, 3] %}
        reasons_pivoted.reason_code_{{ rank }},
        reasons_pivoted.reason_label_{{ rank }},
        {%- endfor %}
        overridden.override_id,
        overridden.override_reason,
        overridden.override_approver,
        overridden.model_version,
        overridden.composite_score,
        {%- for dimension in dimensions %}
        overridden.{{ dimension }}_score,
        {%- endfor %}
        {%- for dimension in dimensions %}
        overridden.{{ dimension }}_contribution,
        {%- endfor %}
        {%- for dimension in dimensions %}
        overridden.{{ dimension }}_coverage,
        {%- endfor %}
        overridden.pd_12m,
        overridden.final_tier_rank as tier_rank,
        overridden.is_guardrail_binding,
        overridden.rule_tier_rank <> overridden.tier_rank as is_stability_holding,
        overridden.override_id is not null as is_override,
        overridden.override_valid_to
    from overridden
    inner join policy as final_tier
        on overridden.final_tier_rank = final_tier.tier_rank
    inner join policy as band_tier
        on overridden.band_tier_rank = band_tier.tier_rank
    inner join policy as stable_band_tier
        on overridden.stable_band_tier_rank = stable_band_tier.tier_rank
    inner join policy as rule_tier
        on overridden.rule_tier_rank = rule_tier.tier_rank
    left join previous_tiers
        on overridden.client_key = previous_tiers.client_key
        and overridden.profile_code = previous_tiers.profile_code
        and overridden.period_index = previous_tiers.next_period_index
    left join reasons_pivoted
        on overridden.client_key = reasons_pivoted.client_key
        and overridden.period_date = reasons_pivoted.period_date
        and overridden.profile_code = reasons_pivoted.profile_code
)

select * from tiers
