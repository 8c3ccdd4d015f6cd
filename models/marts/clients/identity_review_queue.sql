{#- One row per pair of source records a data steward should look at: the rules kept them in
    two clients, but a signal says they may be one company. A decision on the pair (seed
    identity_decisions, docs/identity.md) takes it off the queue. Reasons, in priority order:
      1 same_uscc_other_name  the same valid tax code (USCC or organisation code) and names the
                              rules found too different to trust the code (uscc_name_conflict),
                              in places that do not conflict: mostly a rename the registry does
                              not show (a code copied from the wrong row is mostly a company in
                              another city, left out)
      2 same_name_two_places  the same name core, one record not saying which of the places
                              that carry the core it is in (one brand in two cities, typed
                              without its city): the rules place it nowhere, a steward who
                              knows the client can; neither a bare short name nor on one phone
                              (a group's switchboard)
    Measured on an independent delivery (docs/identity.md, "Data stewards' review queue"): most
    reason-1 pairs are one company, and about half of the reason-2 pairs (one of a record's two
    candidate places). -#}
with

pairs as (select * from {{ ref('int_identity_pairs_decided') }}),

compared as (select * from {{ ref('int_identity_pairs_compared') }}),

clients as (select * from {{ ref('int_identity_clients_resolved') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

candidates as (
    select
        pairs.record_key_a,
        pairs.record_key_b,
        case
            when pairs.match_rule = 'uscc_name_conflict' then 1
            else 2
        end as review_priority,
        case
            when pairs.match_rule = 'uscc_name_conflict' then 'same_uscc_other_name'
            else 'same_name_two_places'
        end as review_reason,
        pairs.match_rule,
        pairs.core_similarity
    from pairs
    inner join compared
        on pairs.record_key_a = compared.record_key_a
        and pairs.record_key_b = compared.record_key_b
    where pairs.decision_id is null
      and not coalesce(compared.is_region_conflict, false)
      and (
          pairs.match_rule = 'uscc_name_conflict'
          or (pairs.match_rule = 'no_match'
              and coalesce(compared.is_same_core, false)
              and coalesce(compared.is_place_ambiguous, false)
              and not coalesce(compared.is_one_short_name, false)
              and not coalesce(compared.is_both_short_names, false)
              and not coalesce(compared.is_same_phone, false))
      )
),

queue as (
    select
        candidates.review_priority,
        candidates.review_reason,
        candidates.record_key_a,
        candidates.record_key_b,
        records_a.department as department_a,
        records_b.department as department_b,
        records_a.name_raw as name_a,
        records_b.name_raw as name_b,
        clients_a.client_key as client_key_a,
        clients_b.client_key as client_key_b,
        candidates.match_rule,
        candidates.core_similarity
    from candidates
    inner join clients as clients_a
        on candidates.record_key_a = clients_a.record_key
    inner join clients as clients_b
        on candidates.record_key_b = clients_b.record_key
    inner join records as records_a
        on candidates.record_key_a = records_a.record_key
    inner join records as records_b
        on candidates.record_key_b = records_b.record_key
    where clients_a.client_key <> clients_b.client_key
)

select * from queue
