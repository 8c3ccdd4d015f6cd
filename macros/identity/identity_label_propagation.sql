{#- Label propagation over matched pairs, as CTE definitions ending in
    `final_labels (record_number, cluster_label)`: every record's label becomes the smallest
    label_number of its connected component. `record_numbers` has record_number and
    label_number, `matched_pairs` record_number_a and record_number_b (CTE names of the calling
    model). Used by int_identity_clusters_propagated.

    DuckDB: a recursive CTE keyed on the record (`using key`), run to its fixpoint. Each
    iteration reads only the labels that changed in the one before and keeps a neighbour's
    label when it is smaller than the current one; the iterations stop when nothing changes.
    So it always converges, however long a chain of matches is. At 1M clients, 3.9M matched
    pairs settled after four rounds, in 9.1 s against 25.7 s for sixteen unrolled rounds
    (docs/identity.md, "Clustering").

    Other engines (Spark): var identity_label_propagation_rounds rounds (default 16),
    unrolled with a Jinja loop, each round one join and one group-by over every edge (both
    directions and a self loop per record). The test identity_clusters_converged fails when
    the rounds are too few. -#}
{% macro identity_label_propagation_ctes(record_numbers, matched_pairs) -%}
    {{ return(adapter.dispatch('identity_label_propagation_ctes', 'tiering')(
        record_numbers, matched_pairs)) }}
{%- endmacro %}

{% macro duckdb__identity_label_propagation_ctes(record_numbers, matched_pairs) -%}
final_labels as (
    with recursive

    edges as ({{ identity_match_edges(matched_pairs) }}),

    {#- `changed`: the rows the last iteration wrote; `recurring.labels`: every record's
        current label -#}
    labels (record_number, cluster_label) using key (record_number) as (
        select record_number, label_number as cluster_label
        from {{ record_numbers }}
        union
        select
            edges.record_number,
            min(changed.cluster_label) as cluster_label
        from labels as changed
        inner join edges
            on edges.neighbour_number = changed.record_number
        inner join recurring.labels as current_labels
            on edges.record_number = current_labels.record_number
        group by edges.record_number, current_labels.cluster_label
        having min(changed.cluster_label) < current_labels.cluster_label
    )

    select record_number, cluster_label from labels
)
{%- endmacro %}

{% macro default__identity_label_propagation_ctes(record_numbers, matched_pairs) -%}
{%- set rounds = var('identity_label_propagation_rounds', 16) | int %}
{#- Both directions plus a self loop per record, so one join per round carries every label. -#}
edges as (
    {{ identity_match_edges(matched_pairs) }}
    union all
    select record_number, record_number as neighbour_number
    from {{ record_numbers }}
),

labels_0 as (
    select record_number, label_number as cluster_label
    from {{ record_numbers }}
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
final_labels as (
    select record_number, cluster_label from labels_{{ rounds }}
)
{%- endmacro %}

{#- Every matched pair in both directions: (record_number, neighbour_number). -#}
{% macro identity_match_edges(matched_pairs) -%}
    select record_number_a as record_number, record_number_b as neighbour_number
    from {{ matched_pairs }}
    union all
    select record_number_b as record_number, record_number_a as neighbour_number
    from {{ matched_pairs }}
{%- endmacro %}
