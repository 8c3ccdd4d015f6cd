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

matched_pairs as (
    select record_key_a, record_key_b
    from pairs
    where is_match
),

{#- Both directions plus a self loop per record, so one join per round carries every label. -#}
edges as (
    select record_key_a as record_key, record_key_b as neighbour_key
    from matched_pairs
    union all
    select record_key_b as record_key, record_key_a as neighbour_key
    from matched_pairs
    union all
    select record_key, record_key as neighbour_key
    from records
),

labels_0 as (
    select record_key, anchor_sort_key as cluster_label
    from records
),
{% for round in range(1, rounds + 1) %}
labels_{{ round }} as (
    select
        edges.record_key,
        min(previous.cluster_label) as cluster_label
    from edges
    inner join labels_{{ round - 1 }} as previous
        on edges.neighbour_key = previous.record_key
    group by edges.record_key
),
{% endfor %}
anchors as (
    select
        anchor_sort_key as cluster_label,
        record_key as anchor_record_key
    from records
),

clusters as (
    select
        records.record_key,
        records.department,
        records.entity,
        records.record_id,
        final_labels.cluster_label,
        anchors.anchor_record_key,
        {{ identity_client_key('anchors.anchor_record_key') }} as client_key
    from records
    inner join labels_{{ rounds }} as final_labels
        on records.record_key = final_labels.record_key
    inner join anchors
        on final_labels.cluster_label = anchors.cluster_label
)

select * from clusters
