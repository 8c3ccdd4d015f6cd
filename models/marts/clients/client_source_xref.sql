{#- One row per identity-bearing source record: the client it belongs to and why. -#}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

clusters as (select * from {{ ref('int_identity_clients_resolved') }}),

pairs as (select * from {{ ref('int_identity_pairs_decided') }}),

tickets as (select * from {{ ref('int_identity_tickets_attributed') }}),

match_rules as (select * from {{ ref('identity_match_rules') }}),

matched_edges as (
    select record_key_a as record_key, match_rule, match_score
    from pairs
    where is_match
    union all
    select record_key_b as record_key, match_rule, match_score
    from pairs
    where is_match
),

edges_ranked as (
    select
        matched_edges.record_key,
        matched_edges.match_rule,
        matched_edges.match_score,
        row_number() over (
            partition by matched_edges.record_key
            order by matched_edges.match_score desc, match_rules.rule_order
        ) as edge_rank
    from matched_edges
    inner join match_rules
        on matched_edges.match_rule = match_rules.match_rule
),

best_edges as (
    select record_key, match_rule, match_score
    from edges_ranked
    where edge_rank = 1
),

records_linked as (
    select
        records.department,
        records.entity,
        records.record_id,
        clusters.client_key,
        case
            when best_edges.record_key is null and clusters.attach_rule is null
                then 'singleton'
            when records.record_key = clusters.anchor_record_key then 'anchor'
            when clusters.attach_rule is not null then clusters.attach_rule
            else best_edges.match_rule
        end as match_rule,
        case
            when best_edges.record_key is null and clusters.attach_rule is null then 1.0
            when records.record_key = clusters.anchor_record_key then 1.0
            when clusters.attach_rule is not null then attach_rules.match_score
            else best_edges.match_score
        end as match_score,
        records.first_seen_date,
        records.last_seen_date,
        records.source_file,
        records.source_row_number,
        records.loaded_at
    from records
    inner join clusters
        on records.record_key = clusters.record_key
    left join best_edges
        on records.record_key = best_edges.record_key
    left join match_rules as attach_rules
        on clusters.attach_rule = attach_rules.match_rule
),

tickets_linked as (
    select
        department,
        entity,
        record_id,
        client_key,
        match_rule,
        match_score,
        first_seen_date,
        last_seen_date,
        source_file,
        source_row_number,
        loaded_at
    from tickets
),

xref as (
    select * from records_linked
    union all
    select * from tickets_linked
)

select * from xref
