{#- One row per governed override, as of the as-of date (int_dynamics_overrides_governed). -#}
with

overrides as (select * from {{ ref('int_dynamics_overrides_governed') }}),

published as (
    select
        override_id,
        client_key,
        current_client_key,
        override_status,
        tier_code,
        reason,
        approver,
        account_manager,
        refusal_code,
        refusal_message,
        is_applicable,
        valid_from,
        valid_to
    from overrides
)

select * from published
