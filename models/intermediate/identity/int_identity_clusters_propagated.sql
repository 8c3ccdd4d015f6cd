{#- One row per record (except tickets): its cluster's label after label propagation over
    matched pairs. A record's label starts as its anchor_sort_key (first seen, department
    authority, record id); a record takes the minimum label over itself and its matched
    neighbours until nothing changes, so every connected component carries one label: the
    sort key of its anchor record (earliest first seen). Portable SQL
    (macros/identity/identity_label_propagation.sql): on DuckDB a recursive CTE run to its
    fixpoint; on other engines var identity_label_propagation_rounds rounds, unrolled. The
    test `identity_clusters_converged` fails if a matched pair ends in two clusters. -#}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

pairs as (select * from {{ ref('int_identity_pairs_decided') }}),

{#- The labels carry integers, not the record keys and sort keys (strings): at 1M clients the
    propagation over 3M records and their edges needs a fifth of the memory. label_number
    keeps the order of anchor_sort_key, so the minimum label is the same record. -#}
record_numbers as (
    select
        record_key,
        anchor_sort_key,
        row_number() over (order by record_key) as record_number,
        dense_rank() over (order by anchor_sort_key) as label_number
    from records
),

matched_pairs as (
    select
        numbers_a.record_number as record_number_a,
        numbers_b.record_number as record_number_b
    from pairs
    inner join record_numbers as numbers_a
        on pairs.record_key_a = numbers_a.record_key
    inner join record_numbers as numbers_b
        on pairs.record_key_b = numbers_b.record_key
    where pairs.is_match
),

{{ identity_label_propagation_ctes('record_numbers', 'matched_pairs') }},

anchors as (
    select
        label_number,
        anchor_sort_key as cluster_label,
        record_key as anchor_record_key
    from record_numbers
),

clusters as (
    select
        records.record_key,
        records.department,
        records.entity,
        records.record_id,
        anchors.cluster_label,
        anchors.anchor_record_key,
        {{ identity_client_key('anchors.anchor_record_key') }} as client_key
    from records
    inner join record_numbers
        on records.record_key = record_numbers.record_key
    inner join final_labels
        on record_numbers.record_number = final_labels.record_number
    inner join anchors
        on final_labels.cluster_label = anchors.label_number
)

select * from clusters
