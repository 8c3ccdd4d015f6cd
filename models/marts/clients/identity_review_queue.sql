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
      3 short_name_candidates a bare short name (字号 only) that is a client on its own, and
                              each client whose full name starts with it in a place that does
                              not conflict, when at most var
                              identity_review_max_short_name_candidates clients do (the rules
                              place a short name only with the only client carrying it)
    Measured on an independent delivery (docs/identity.md, "Data stewards' review queue"): most
    reason-1 pairs are one company, about half of the reason-2 pairs (one of a record's two
    candidate places) and a third of the reason-3 pairs (one of a short name's candidates). -#}
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

{#- Reason 3: bare short names that are clients on their own, and the clients carrying them. -#}
client_sizes as (
    select client_key, count(*) as record_count
    from clients
    group by client_key
),

lone_short_names as (
    select
        records.record_key,
        records.name_core,
        records.region_key,
        records.region_province
    from records
    inner join clients
        on records.record_key = clients.record_key
    inner join client_sizes
        on clients.client_key = client_sizes.client_key
    where records.is_short_name
      and records.name_core is not null
      and client_sizes.record_count = 1
),

short_lengths as (
    select distinct length(name_core) as stem_length
    from lone_short_names
),

stem_carriers as (
    select
        substring(records.name_core, 1, short_lengths.stem_length) as stem,
        records.record_key,
        records.region_key,
        records.region_province,
        clients.client_key
    from records
    inner join short_lengths
        on length(records.name_core) > short_lengths.stem_length
    inner join clients
        on records.record_key = clients.record_key
    where not records.is_short_name
),

short_name_carriers as (
    select
        lone_short_names.record_key as short_record_key,
        stem_carriers.client_key,
        min(stem_carriers.record_key) as carrier_record_key
    from lone_short_names
    inner join stem_carriers
        on lone_short_names.name_core = stem_carriers.stem
        and not {{ identity_regions_conflict(
            'lone_short_names.region_key', 'lone_short_names.region_province',
            'stem_carriers.region_key', 'stem_carriers.region_province') }}
    group by lone_short_names.record_key, stem_carriers.client_key
),

short_name_carrier_counts as (
    select short_record_key, count(*) as carrier_count
    from short_name_carriers
    group by short_record_key
),

short_name_pairs as (
    select
        case
            when short_name_carriers.short_record_key < short_name_carriers.carrier_record_key
                then short_name_carriers.short_record_key
            else short_name_carriers.carrier_record_key
        end as record_key_a,
        case
            when short_name_carriers.short_record_key < short_name_carriers.carrier_record_key
                then short_name_carriers.carrier_record_key
            else short_name_carriers.short_record_key
        end as record_key_b
    from short_name_carriers
    inner join short_name_carrier_counts
        on short_name_carriers.short_record_key = short_name_carrier_counts.short_record_key
    where short_name_carrier_counts.carrier_count
        <= {{ var('identity_review_max_short_name_candidates') }}
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
