{#- One row per override of seed tiering_overrides, as of the as-of date: the key it applies to
    now, the client's account manager, whether it is refused and why, and its status.
    Refused (never applied; the test on refusal_code fails the build with the reason):
      missing_approver              no approver named
      approver_is_account_manager   approved by the client's own account manager (dim_clients)
      missing_reason                no reason given
      unknown_tier                  tier_code not in the tier policy
      invalid_validity              valid_from or valid_to missing, or valid_to before valid_from
      validity_too_long             valid longer than override_max_validity_months
    Not refused but not applied: an override whose key is unknown (`unknown_client`), or whose key
    identity has retired (merged into another client, `key_retired`): the approval was given for
    a client that no longer exists as such; the successor enters tier_review_queue
    (override_key_retired) and a new override must be approved for it. Account manager and key
    are those of the as-of date. -#}
with

overrides as (select * from {{ ref('tiering_overrides') }}),

keys as (select * from {{ ref('int_dynamics_client_keys_mapped') }}),

clients as (select * from {{ ref('dim_clients') }}),

policy as (select * from {{ ref('tiering_tier_policy') }}),

overrides_resolved as (
    select
        overrides.override_id,
        overrides.client_key,
        keys.current_client_key,
        coalesce(keys.key_status, 'unknown') as key_status,
        overrides.tier_code,
        policy.tier_name,
        overrides.reason,
        trim(overrides.approver) as approver,
        clients.account_manager,
        policy.tier_rank,
        overrides.valid_from,
        overrides.valid_to
    from overrides
    left join keys
        on overrides.client_key = keys.client_key
    left join clients
        on keys.current_client_key = clients.client_key
    left join policy
        on overrides.tier_code = policy.tier_code
),

overrides_checked as (
    select
        *,
        case
            when approver is null or approver = '' then 'missing_approver'
            when account_manager is not null and approver = trim(account_manager)
                then 'approver_is_account_manager'
            when reason is null or trim(reason) = '' then 'missing_reason'
            when tier_rank is null then 'unknown_tier'
            when valid_from is null or valid_to is null or valid_to < valid_from
                then 'invalid_validity'
            when {{ dbt.datediff('valid_from', 'valid_to', 'month') }}
                > {{ dynamics_parameter('override_max_validity_months') }}
                then 'validity_too_long'
        end as refusal_code
    from overrides_resolved
),

overrides_explained as (
    select
        *,
        case refusal_code
            when 'missing_approver' then 'no approver'
            when 'approver_is_account_manager' then {{ dbt.concat([
                "'approved by '", "approver", "', the account manager of the client'"]) }}
            when 'missing_reason' then 'no reason'
            when 'unknown_tier'
                then {{ dbt.concat(["'unknown tier '", "coalesce(tier_code, '')"]) }}
            when 'invalid_validity' then 'valid_from / valid_to missing or reversed'
            when 'validity_too_long' then 'valid longer than override_max_validity_months'
        end as refusal_detail
    from overrides_checked
),

overrides_governed as (
    select
        override_id,
        client_key,
        current_client_key,
        key_status,
        tier_code,
        tier_name,
        reason,
        approver,
        account_manager,
        refusal_code,
        case
            when refusal_code is not null then {{ dbt.concat([
                "'override '", "override_id", "' for client '", "client_key",
                "' refused: '", "refusal_detail"]) }}
        end as refusal_message,
        case
            when refusal_code is not null then 'refused'
            when key_status = 'unknown' then 'unknown_client'
            when key_status = 'retired' then 'key_retired'
            when valid_from > {{ run_as_of_date_literal() }} then 'scheduled'
            when valid_to < {{ run_as_of_date_literal() }} then 'expired'
            else 'active'
        end as override_status,
        tier_rank,
        refusal_code is null and key_status = 'current' as is_applicable,
        valid_from,
        valid_to
    from overrides_explained
)

select * from overrides_governed
