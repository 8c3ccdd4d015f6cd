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
      3 short_name_candidates a bare short name (字号 only) the rules placed nowhere, and each
                              client carrying it where the placement weighed it (a full or
                              former name starting with it, in a place that does not
                              conflict: int_identity_short_names_placed), when at most var
                              identity_review_max_short_name_candidates clients do (the rules
                              place a short name only with the only client carrying it)
      4 one_typo_apart        two names one character apart, in places that do not conflict,
                              with the same industry word or none, that the typo rule did not
                              take for a typo (int_identity_pairs_scored, is_typo_unconfirmed:
                              the typo one character from two names, or its side better
                              supported than the other), unless each name carries a tax code
                              of its own (two registered companies)
      5 one_typo_apart_established  the same, both names established (a tax code, the
                              registry, several departments or more records than
                              identity_typo_max_records: neither looks like a typo):
                              where names are dense, mostly two companies
    Measured on an independent delivery (docs/identity.md, "Data stewards' review queue"): most
    reason-1 pairs are one company, about half of the reason-2 pairs (one of a record's two
    candidate places), a third of the reason-3 pairs (one of a short name's candidates), most
    reason-4 and reason-5 pairs; at 1,000,000 simulated clients (dense names) 39 % of the
    reason-4 and 7 % of the reason-5 pairs. -#}
with

pairs as (select * from {{ ref('int_identity_pairs_decided') }}),

compared as (select * from {{ ref('int_identity_pairs_compared') }}),

clients as (select * from {{ ref('int_identity_clients_resolved') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

short_names as (select * from {{ ref('int_identity_short_names_placed') }}),

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

{#- Reason 3: short-names-only clusters the rules placed nowhere, with each client that carries
    the stem where the placement weighed it (int_identity_short_names_placed), when at most var
    identity_review_max_short_name_candidates do: the cluster's first record against the record
    carrying the stem. -#}
short_name_pairs as (
    select
        case
            when short_record_key < carrier_record_key then short_record_key
            else carrier_record_key
        end as record_key_a,
        case
            when short_record_key < carrier_record_key then carrier_record_key
            else short_record_key
        end as record_key_b
    from short_names
    where attach_rule is null
      and candidate_label is not null
      and candidate_count <= {{ var('identity_review_max_short_name_candidates') }}
),

short_name_candidates as (
    select
        short_name_pairs.record_key_a,
        short_name_pairs.record_key_b,
        3 as review_priority,
        'short_name_candidates' as review_reason,
        pairs.match_rule,
        pairs.core_similarity
    from short_name_pairs
    left join pairs
        on short_name_pairs.record_key_a = pairs.record_key_a
        and short_name_pairs.record_key_b = pairs.record_key_b
    where pairs.decision_id is null
),

{#- Reasons 4 and 5: a typo the rules would not take (int_identity_pairs_scored). -#}
typo_candidates as (
    select
        pairs.record_key_a,
        pairs.record_key_b,
        case when pairs.is_typo_both_established then 5 else 4 end as review_priority,
        case
            when pairs.is_typo_both_established then 'one_typo_apart_established'
            else 'one_typo_apart'
        end as review_reason,
        pairs.match_rule,
        pairs.core_similarity
    from pairs
    where pairs.decision_id is null
      and pairs.is_typo_unconfirmed
),

{#- A pair listed for two reasons (a short name sharing a tax code with a carrier) once, under
    the first. -#}
all_candidates as (
    select *
    from (
        select
            listed.*,
            row_number() over (
                partition by listed.record_key_a, listed.record_key_b
                order by listed.review_priority
            ) as reason_rank
        from (
            select * from candidates
            union all
            select * from short_name_candidates
            union all
            select * from typo_candidates
        ) as listed
    ) as ranked
    where reason_rank = 1
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
    from all_candidates as candidates
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
