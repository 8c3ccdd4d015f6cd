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

{#- The tier logic runs on narrow rows (keys, composite, guardrail, unstabilised tier); the
    wide columns of the composites (scores, contributions, reasons) join once at the end. -#}
composites as (
    select
        composites.client_key,
        composites.profile_code,
        composites.period_date,
        periods_to_build.period_index,
        composites.composite_score,
        composites.guardrail_code,
        composites.tier_rank as unstabilised_tier_rank
    from {{ ref('int_tiering_composites_weighted') }} as composites
    inner join periods_to_build
        on composites.period_date = periods_to_build.period_date
),

reason_codes as (select * from {{ ref('tiering_reason_codes') }}),

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
        cast(null as {{ dbt.type_string() }}) as tier_code
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

{#- Every boundary between two tiers: the lower score bound of each tier but the worst. The
    policy's five tiers (S A B C D, tier_rank 1-5: seed tests) have four, evaluated side by side
    in columns, so that every window below runs once over (client, profile) ordered by period. -#}
{%- set boundary_ranks = [1, 2, 3, 4] %}
boundary_scores as (
    select
        {%- for rank in boundary_ranks %}
        max(case when tier_rank = {{ rank }} then min_score end)
            as boundary_{{ rank }}_score{{ ',' if not loop.last }}
        {%- endfor %}
    from policy
),

rows_ordered as (
    select
        rows_in_play.*,
        boundary_scores.*,
        lag(period_index) over (
            partition by client_key, profile_code order by period_index
        ) as previous_period_index,
        lag(composite_score) over (
            partition by client_key, profile_code order by period_index
        ) as previous_composite_score
    from rows_in_play
    cross join boundary_scores
),

{#- A segment is a run of consecutive periods; each starts from its band. Per boundary: the side
    of the period (1 = at or above) and whether it changed against the period before. -#}
sides as (
    select
        *,
        case when previous_period_index = period_index - 1 then 0 else 1 end
            as is_segment_start,
        {%- for rank in boundary_ranks %}
        case when composite_score >= boundary_{{ rank }}_score then 1 else 0 end
            as is_above_{{ rank }},
        case
            when previous_period_index = period_index - 1
                and (case when previous_composite_score >= boundary_{{ rank }}_score
                    then 1 else 0 end)
                = (case when composite_score >= boundary_{{ rank }}_score then 1 else 0 end)
                then 0
            else 1
        end as is_side_change_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from rows_ordered
),

{#- Where the current run of periods on one side began: a segment start is always a change,
    so the window need not be split by segment. -#}
streaks as (
    select
        *,
        {%- for rank in boundary_ranks %}
        max(case when is_side_change_{{ rank }} = 1 then period_index end) over (
            partition by client_key, profile_code
            order by period_index
            rows between unbounded preceding and current row
        ) as side_since_period_index_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from sides
),

{#- The switch's state (1 = at or above the boundary) where a period decides it, else NULL. -#}
decisions as (
    select
        streaks.*,
        {%- for rank in boundary_ranks %}
        case
            when streaks.is_stored
                and streaks.period_index = first_period_to_build.period_index - 1
                then case
                    when streaks.stored_stable_band_tier_rank is null
                        then streaks.is_above_{{ rank }}
                    when streaks.stored_stable_band_tier_rank <= {{ rank }} then 1
                    else 0
                end
            when streaks.is_stored then null
            when streaks.is_segment_start = 1 then streaks.is_above_{{ rank }}
            when streaks.composite_score >= streaks.boundary_{{ rank }}_score + {{ margin }}
                then 1
            when streaks.composite_score < streaks.boundary_{{ rank }}_score - {{ margin }}
                then 0
            when streaks.period_index - streaks.side_since_period_index_{{ rank }} + 1
                >= {{ persistence }}
                then streaks.is_above_{{ rank }}
        end as decided_state_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from streaks
    cross join first_period_to_build
),

{#- The latest decision so far (period_index * 2 + state): every segment starts with one, so
    the running maximum never reaches into an earlier segment. -#}
switches as (
    select
        client_key,
        profile_code,
        period_date,
        is_stored,
        {%- for rank in boundary_ranks %}
        max(case
            when decided_state_{{ rank }} is not null
                then period_index * 2 + decided_state_{{ rank }}
        end) over (
            partition by client_key, profile_code
            order by period_index
            rows between unbounded preceding and current row
        ) as decision_code_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from decisions
),

{#- The stable band: the best tier whose lower boundary's switch is up. -#}
stable_bands as (
    select
        client_key,
        profile_code,
        period_date,
        case
            {%- for rank in boundary_ranks %}
            when mod(decision_code_{{ rank }}, 2) = 1 then {{ rank }}
            {%- endfor %}
            else (select max(tier_rank) from policy)
        end as stable_band_tier_rank
    from switches
    where not is_stored
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

{#- The override that applies to a client in a period (the latest valid_from wins): few rows,
    matched before they meet the tier rows. -#}
overrides_by_period as (
    select
        overrides.current_client_key as client_key,
        periods_to_build.period_date,
        overrides.override_id,
        overrides.reason as override_reason,
        overrides.approver as override_approver,
        overrides.tier_rank as override_tier_rank,
        overrides.valid_to as override_valid_to,
        row_number() over (
            partition by overrides.current_client_key, periods_to_build.period_date
            order by overrides.valid_from desc, overrides.override_id
        ) as override_rank
    from overrides
    inner join periods_to_build
        on periods_to_build.period_date >= overrides.valid_from
        and periods_to_build.period_date <= overrides.valid_to
),

overridden as (
    select
        ruled.*,
        overrides_by_period.override_id,
        overrides_by_period.override_reason,
        overrides_by_period.override_approver,
        overrides_by_period.override_tier_rank,
        overrides_by_period.override_valid_to,
        coalesce(overrides_by_period.override_tier_rank, ruled.rule_tier_rank)
            as final_tier_rank
    from ruled
    left join overrides_by_period
        on ruled.client_key = overrides_by_period.client_key
        and ruled.period_date = overrides_by_period.period_date
        and overrides_by_period.override_rank = 1
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

composites_wide as (
    select composites.*
    from {{ ref('int_tiering_composites_weighted') }} as composites
    inner join periods_to_build
        on composites.period_date = periods_to_build.period_date
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
        composites_wide.tier_code as unstabilised_tier_code,
        rule_tier.tier_code as rule_tier_code,
        previous_tiers.tier_code as previous_tier_code,
        composites_wide.guardrail_code,
        {%- for rank in [1, 2, 3] %}
        composites_wide.reason_code_{{ rank }},
        reason_{{ rank }}.reason_label as reason_label_{{ rank }},
        {%- endfor %}
        overridden.override_id,
        overridden.override_reason,
        overridden.override_approver,
        composites_wide.model_version,
        composites_wide.composite_score,
        {%- for dimension in dimensions %}
        composites_wide.{{ dimension }}_score,
        {%- endfor %}
        {%- for dimension in dimensions %}
        composites_wide.{{ dimension }}_contribution,
        {%- endfor %}
        {%- for dimension in dimensions %}
        composites_wide.{{ dimension }}_coverage,
        {%- endfor %}
        composites_wide.pd_12m,
        overridden.final_tier_rank as tier_rank,
        composites_wide.is_guardrail_binding,
        overridden.rule_tier_rank <> overridden.unstabilised_tier_rank as is_stability_holding,
        overridden.override_id is not null as is_override,
        overridden.override_valid_to
    from overridden
    inner join composites_wide
        on overridden.client_key = composites_wide.client_key
        and overridden.profile_code = composites_wide.profile_code
        and overridden.period_date = composites_wide.period_date
    inner join policy as final_tier
        on overridden.final_tier_rank = final_tier.tier_rank
    inner join policy as band_tier
        on composites_wide.band_tier_rank = band_tier.tier_rank
    inner join policy as stable_band_tier
        on overridden.stable_band_tier_rank = stable_band_tier.tier_rank
    inner join policy as rule_tier
        on overridden.rule_tier_rank = rule_tier.tier_rank
    left join previous_tiers
        on overridden.client_key = previous_tiers.client_key
        and overridden.profile_code = previous_tiers.profile_code
        and overridden.period_index = previous_tiers.next_period_index
    {%- for rank in [1, 2, 3] %}
    left join reason_codes as reason_{{ rank }}
        on composites_wide.reason_code_{{ rank }} = reason_{{ rank }}.reason_code
    {%- endfor %}
)

select * from tiers
