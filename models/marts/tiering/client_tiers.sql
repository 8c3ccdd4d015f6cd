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

    Cost: the four boundaries are evaluated side by side in columns, every window runs over
    (client, profile) ordered by period on narrow rows, in two passes (the period before and
    the persistence window, a fixed frame of rows; then the latest decision), and the previous
    period's tier comes out of the same windows (a frame ending one row before), so the only
    join of tier rows with tier rows is the last one, which adds the composites' wide columns
    (scores, contributions, reasons) to the narrow result (docs/benchmarks.md).

    Incremental by period (delete+insert on DuckDB, insert_overwrite of the period partitions on
    Spark): a run builds the periods newer than the table's newest plus the as-of period, never
    one after the as-of date. The switches of a built period continue from the stored row of
    the period before (and the composites of the persistence window before it), so building
    month by month gives exactly what a full refresh computes over every period (tested), and a
    rebuilt month equals its first build. A run that builds more than
    var('tiering_tier_rows_per_statement') rows builds them in client batches (ranges of client
    keys, one statement each; macros/tiering/tiering_client_batches.sql): every window
    partitions by client, so the rows are those of one statement. -#}
-- depends_on: {{ ref('tiering_weight_profiles') }} (client batches count the profiles)
{{ config(
    materialized='incremental',
    incremental_strategy=tiering_incremental_strategy(),
    unique_key='period_date',
    partition_by=['period_date'],
    on_schema_change='append_new_columns',
    pre_hook=[
        "{{ tests_scope_recorded(tiering_tier_periods_written()) }}",
        "{{ period_versions_recorded(tiering_tier_periods_written()) }}",
    ],
    post_hook="{{ tiering_build_client_batches() }}",
) }}

{%- set dimensions = ['value', 'credit', 'risk_tolerance', 'influence', 'potential', 'loyalty'] %}
{%- set margin = dynamics_parameter('stability_margin_points') %}
{#- The persistence as a number: it bounds a window frame (a literal on every engine). -#}
{%- set persistence_rows = [dynamics_parameter_value('stability_persistence_periods') | int, 1]
    | max %}
{#- A table built before the stability rule existed has no stable_band_tier_code: its rows seed
    the switches from their composite (run a full refresh or a backfill to restate them). -#}
{%- set stored_columns = [] %}
{%- set built_until = none %}
{%- if is_incremental() %}
    {%- set stored_columns = adapter.get_columns_in_relation(this)
        | map(attribute='name') | map('lower') | list %}
    {#- the newest stored period, as a literal (macros/tiering/tiering_periods.sql) -#}
    {%- set built_until = tiering_tier_built_until() %}
{%- endif %}
{#- The clients are built in ranges of client keys of at most
    var('tiering_tier_rows_per_statement') rows per statement
    (macros/tiering/tiering_client_batches.sql): the first range here, the others in the
    post-hook. Every window below partitions by client, so a range's rows are those of one
    statement over every client. -#}
{%- set client_batches = tiering_client_batch_bounds(
    ref('int_tiering_dimensions_scored'), built_until) %}

with

policy as (select * from {{ ref('tiering_tier_policy') }}),

reason_codes as (select * from {{ ref('tiering_reason_codes') }}),

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
        where period_date <= {{ run_as_of_date_literal() }}
    ) as delivered
),

{#- the periods newer than the stored ones, and the as-of period (the rule the pre-hooks
    record: macros/tiering/tiering_periods.sql) -#}
periods_to_build as (
    {{ tiering_tier_periods_to_build('periods', built_until) }}
),

first_period_to_build as (
    select min(period_index) as period_index from periods_to_build
),

{#- The tier logic runs on narrow rows (keys, composite, guardrail, unstabilised tier). -#}
composites as (
    select
        composites.client_key,
        composites.profile_code,
        composites.period_date,
        periods_to_build.period_index,
        composites.composite_score,
        composites.tier_rank as unstabilised_tier_rank,
        {{ dynamics_guardrail_floor_rank('composites.guardrail_code', 'policy') }}
            as guardrail_floor_rank
    from {{ ref('int_tiering_composites_weighted') }} as composites
    inner join periods_to_build
        on composites.period_date = periods_to_build.period_date
    where {{ tiering_client_in_batch('composites.client_key', client_batches) }}
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
        stored.unstabilised_tier_code,
        stored.tier_code
    from {{ this }} as stored
    inner join periods
        on stored.period_date = periods.period_date
    cross join first_period_to_build
    where periods.period_index < first_period_to_build.period_index
        and periods.period_index >= first_period_to_build.period_index - {{ persistence_rows }} + 1
        and {{ tiering_client_in_batch('stored.client_key', client_batches) }}
    {%- else %}
    select
        client_key,
        profile_code,
        period_date,
        period_index,
        composite_score,
        cast(null as {{ dbt.type_string() }}) as stable_band_tier_code,
        cast(null as {{ dbt.type_string() }}) as unstabilised_tier_code,
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
        guardrail_floor_rank,
        unstabilised_tier_rank,
        cast(null as {{ dbt.type_int() }}) as stored_stable_band_tier_rank,
        cast(null as {{ dbt.type_int() }}) as stored_tier_rank,
        false as is_stored
    from composites
    union all
    select
        stored.client_key,
        stored.profile_code,
        stored.period_date,
        stored.period_index,
        stored.composite_score,
        cast(null as {{ dbt.type_int() }}) as guardrail_floor_rank,
        unstabilised_policy.tier_rank as unstabilised_tier_rank,
        stable_band_policy.tier_rank as stored_stable_band_tier_rank,
        tier_policy.tier_rank as stored_tier_rank,
        true as is_stored
    from stored
    left join policy as unstabilised_policy
        on stored.unstabilised_tier_code = unstabilised_policy.tier_code
    left join policy as stable_band_policy
        on stored.stable_band_tier_code = stable_band_policy.tier_code
    left join policy as tier_policy
        on stored.tier_code = tier_policy.tier_code
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

{#- Per boundary, at the row: the side (1 = at or above) and the state the hysteresis margin
    decides (1 beyond it above, 0 beyond it below, else NULL). -#}
rows_sided as (
    select
        rows_in_play.*,
        {%- for rank in boundary_ranks %}
        {%- set boundary = 'boundary_scores.boundary_' ~ rank ~ '_score' %}
        case when rows_in_play.composite_score >= {{ boundary }} then 1 else 0 end
            as is_above_{{ rank }},
        case
            when rows_in_play.composite_score >= {{ boundary }} + {{ margin }} then 1
            when rows_in_play.composite_score < {{ boundary }} - {{ margin }} then 0
        end as margin_state_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from rows_in_play
    cross join boundary_scores
),

{#- One pass of windows over (client, profile) ordered by period: the period before, and the
    persistence window (the row and the persistence_rows - 1 rows before it): how many rows it
    holds, its first period and, per boundary, how many of its rows are above. The periods of a
    client are distinct, so a window of persistence_rows rows starting persistence_rows - 1
    periods back holds consecutive periods. -#}
{%- set persistence_frame = 'rows between '
    ~ ((persistence_rows - 1) ~ ' preceding' if persistence_rows > 1 else 'current row')
    ~ ' and current row' %}
rows_ordered as (
    select
        rows_sided.*,
        lag(period_index) over (
            partition by client_key, profile_code order by period_index
        ) as previous_period_index,
        lag(guardrail_floor_rank) over (
            partition by client_key, profile_code order by period_index
        ) as previous_guardrail_floor_rank,
        lag(stored_tier_rank) over (
            partition by client_key, profile_code order by period_index
        ) as previous_stored_tier_rank,
        lag(unstabilised_tier_rank) over (
            partition by client_key, profile_code order by period_index
        ) as previous_unstabilised_tier_rank,
        lag(is_stored) over (
            partition by client_key, profile_code order by period_index
        ) as is_previous_stored,
        count(*) over (
            partition by client_key, profile_code order by period_index
            {{ persistence_frame }}
        ) as persistence_row_count,
        min(period_index) over (
            partition by client_key, profile_code order by period_index
            {{ persistence_frame }}
        ) as persistence_first_period_index,
        {%- for rank in boundary_ranks %}
        sum(is_above_{{ rank }}) over (
            partition by client_key, profile_code order by period_index
            {{ persistence_frame }}
        ) as persistence_above_count_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from rows_sided
),

{#- The switch's state (1 = at or above the boundary) where a period decides it, else NULL: the
    stored state of the period before the first to build; a segment (a run of consecutive
    periods) starts from its band; beyond the margin; on one side for the whole persistence
    window. -#}
decisions as (
    select
        rows_ordered.client_key,
        rows_ordered.profile_code,
        rows_ordered.period_date,
        rows_ordered.period_index,
        rows_ordered.is_stored,
        rows_ordered.guardrail_floor_rank,
        rows_ordered.previous_period_index,
        rows_ordered.previous_guardrail_floor_rank,
        rows_ordered.previous_stored_tier_rank,
        rows_ordered.previous_unstabilised_tier_rank,
        rows_ordered.is_previous_stored,
        {%- for rank in boundary_ranks %}
        case
            when rows_ordered.is_stored
                and rows_ordered.period_index = first_period_to_build.period_index - 1
                then case
                    when rows_ordered.stored_stable_band_tier_rank is null
                        then rows_ordered.is_above_{{ rank }}
                    when rows_ordered.stored_stable_band_tier_rank <= {{ rank }} then 1
                    else 0
                end
            when rows_ordered.is_stored then null
            when rows_ordered.previous_period_index is null
                or rows_ordered.previous_period_index <> rows_ordered.period_index - 1
                then rows_ordered.is_above_{{ rank }}
            when rows_ordered.margin_state_{{ rank }} is not null
                then rows_ordered.margin_state_{{ rank }}
            when rows_ordered.persistence_row_count = {{ persistence_rows }}
                and rows_ordered.persistence_first_period_index
                    = rows_ordered.period_index - {{ persistence_rows - 1 }}
                and rows_ordered.persistence_above_count_{{ rank }}
                    in (0, {{ persistence_rows }})
                then rows_ordered.is_above_{{ rank }}
        end as decided_state_{{ rank }}{{ ',' if not loop.last }}
        {%- endfor %}
    from rows_ordered
    cross join first_period_to_build
),

{#- The latest decision so far (period_index * 2 + state), for the row and for the row before
    it: every segment starts with a decision, so the running maximum never reaches into an
    earlier segment. -#}
switches as (
    select
        client_key,
        profile_code,
        period_date,
        period_index,
        is_stored,
        guardrail_floor_rank,
        previous_period_index,
        previous_guardrail_floor_rank,
        previous_stored_tier_rank,
        previous_unstabilised_tier_rank,
        is_previous_stored,
        {%- for rank in boundary_ranks %}
        {%- set last_boundary = loop.last %}
        {%- for frame_end, name in [('current row', 'decision_code'),
                                    ('1 preceding', 'previous_decision_code')] %}
        max(case
            when decided_state_{{ rank }} is not null
                then period_index * 2 + decided_state_{{ rank }}
        end) over (
            partition by client_key, profile_code
            order by period_index
            rows between unbounded preceding and {{ frame_end }}
        ) as {{ name }}_{{ rank }}{{ ',' if not (loop.last and last_boundary) }}
        {%- endfor %}
        {%- endfor %}
    from decisions
),

{#- The stable band: the best tier whose lower boundary's switch is up; then the guardrails. -#}
ruled as (
    select
        client_key,
        profile_code,
        period_date,
        period_index,
        stable_band_tier_rank,
        greatest(stable_band_tier_rank, guardrail_floor_rank) as rule_tier_rank,
        case
            when previous_period_index = period_index - 1 and is_previous_stored
                then previous_stored_tier_rank
            when previous_period_index = period_index - 1
                then greatest(previous_stable_band_tier_rank, previous_guardrail_floor_rank)
        end as previous_rule_tier_rank,
        previous_period_index = period_index - 1 and not is_previous_stored
            as is_previous_built,
        case
            when previous_period_index = period_index - 1 then previous_unstabilised_tier_rank
        end as previous_unstabilised_tier_rank
    from (
        select
            switches.*,
            {%- for name in ['decision_code', 'previous_decision_code'] %}
            case
                {%- for rank in boundary_ranks %}
                when mod({{ name }}_{{ rank }}, 2) = 1 then {{ rank }}
                {%- endfor %}
                else (select max(tier_rank) from policy)
            end as {{ name | replace('decision_code', 'stable_band_tier_rank') }}
            {{- ',' if not loop.last }}
            {%- endfor %}
        from switches
        where not is_stored
    ) as banded
),

{#- The override that applies to a client in a period (the latest valid_from wins): few rows,
    matched before they meet the tier rows. -#}
overrides_by_period as (
    select
        overrides.current_client_key as client_key,
        periods_to_build.period_index,
        overrides.override_id,
        overrides.reason as override_reason,
        overrides.approver as override_approver,
        overrides.tier_rank as override_tier_rank,
        overrides.valid_to as override_valid_to,
        row_number() over (
            partition by overrides.current_client_key, periods_to_build.period_index
            order by overrides.valid_from desc, overrides.override_id
        ) as override_rank
    from overrides
    inner join periods_to_build
        on periods_to_build.period_date >= overrides.valid_from
        and periods_to_build.period_date <= overrides.valid_to
),

winning_overrides as (
    select * from overrides_by_period where override_rank = 1
),

{#- The final tier of the row and of the period before it (the stored tier when that period was
    built earlier, else its rule tier or its override). -#}
decided as (
    select
        ruled.*,
        winning_overrides.override_id,
        winning_overrides.override_reason,
        winning_overrides.override_approver,
        winning_overrides.override_valid_to,
        coalesce(winning_overrides.override_tier_rank, ruled.rule_tier_rank) as final_tier_rank,
        case
            when ruled.is_previous_built
                then coalesce(previous_overrides.override_tier_rank, ruled.previous_rule_tier_rank)
            else ruled.previous_rule_tier_rank
        end as previous_tier_rank
    from ruled
    left join winning_overrides
        on ruled.client_key = winning_overrides.client_key
        and ruled.period_index = winning_overrides.period_index
    left join winning_overrides as previous_overrides
        on ruled.client_key = previous_overrides.client_key
        and ruled.period_index - 1 = previous_overrides.period_index
),

{#- The composites' wide columns (scores, contributions, reasons), joined once. -#}
composites_wide as (
    select composites.*
    from {{ ref('int_tiering_composites_weighted') }} as composites
    inner join periods_to_build
        on composites.period_date = periods_to_build.period_date
    where {{ tiering_client_in_batch('composites.client_key', client_batches) }}
),

tiers as (
    select
        decided.client_key,
        decided.period_date,
        decided.profile_code,
        final_tier.tier_code,
        final_tier.tier_name,
        composites_wide.band_tier_code,
        stable_band_tier.tier_code as stable_band_tier_code,
        composites_wide.tier_code as unstabilised_tier_code,
        rule_tier.tier_code as rule_tier_code,
        previous_tier.tier_code as previous_tier_code,
        composites_wide.guardrail_code,
        {%- for rank in [1, 2, 3] %}
        composites_wide.reason_code_{{ rank }},
        reason_{{ rank }}.reason_label as reason_label_{{ rank }},
        {%- endfor %}
        decided.override_id,
        decided.override_reason,
        decided.override_approver,
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
        decided.final_tier_rank as tier_rank,
        composites_wide.is_guardrail_binding,
        decided.rule_tier_rank <> composites_wide.tier_rank as is_stability_holding,
        decided.override_id is not null as is_override,
        decided.override_valid_to,
        previous_unstabilised_tier.tier_code as previous_unstabilised_tier_code
    from composites_wide
    inner join decided
        on composites_wide.client_key = decided.client_key
        and composites_wide.profile_code = decided.profile_code
        and composites_wide.period_date = decided.period_date
    inner join policy as final_tier
        on decided.final_tier_rank = final_tier.tier_rank
    inner join policy as stable_band_tier
        on decided.stable_band_tier_rank = stable_band_tier.tier_rank
    inner join policy as rule_tier
        on decided.rule_tier_rank = rule_tier.tier_rank
    left join policy as previous_tier
        on decided.previous_tier_rank = previous_tier.tier_rank
    left join policy as previous_unstabilised_tier
        on decided.previous_unstabilised_tier_rank = previous_unstabilised_tier.tier_rank
    {%- for rank in [1, 2, 3] %}
    left join reason_codes as reason_{{ rank }}
        on composites_wide.reason_code_{{ rank }} = reason_{{ rank }}.reason_code
    {%- endfor %}
)

select * from tiers
