{#- One row per record (except tickets): its cluster's label after bounded label propagation
    over matched pairs. A record's label starts as its anchor_sort_key (first seen, department
    authority, record id); each round takes the minimum label over the record and its matched
    neighbours. After enough rounds every connected component carries one label: the sort key
    of its anchor record (earliest first seen). The number of rounds is the var
    identity_label_propagation_rounds; the test `identity_clusters_converged` fails when it is too
    low. Portable SQL: the rounds are unrolled with a Jinja loop, each referencing the previous
    round once. -#}
{%- set rounds = var('identity_label_propagation_rounds', 16) | int %}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

pairs as (select * from {{ ref('int_identity_pairs_scored') }}),

{#- The rounds carry integers, not the record keys and sort keys (strings): at 1M clients the
    sixteen rounds over 3M records and their edges need a fifth of the memory. label_number
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

{#- Both directions plus a self loop per record, so one join per round carries every label. -#}
edges as (
    select record_number_a as record_number, record_number_b as neighbour_number
    from matched_pairs
    union all
    select record_number_b as record_number, record_number_a as neighbour_number
    from matched_pairs
    union all
    select record_number, record_number as neighbour_number
    from record_numbers
),

labels_0 as (
    select record_number, label_number as cluster_label
    from record_numbers
),
{% for round in range(1, rounds + 1) %}
labels_{{ round }} as (
    select
        edges.record_number,
        min(previous.cluster_label) as cluster_label
    from edges
    inner join labels_{{ round - 1 }} as previous
        on edges.neighbour_number = previous.record_number
    group by edges.record_number
),
{% endfor %}
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
    inner join labels_{{ rounds }} as final_labels
        on record_numbers.record_number = final_labels.record_number
    inner join anchors
        on final_labels.cluster_label = anchors.label_number
)

select * from clusters
