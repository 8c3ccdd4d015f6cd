{#- One row per record (except tickets): the client it belongs to after label propagation and
    after short names are placed (int_identity_short_names_placed: a cluster made only of bare
    stems joins the only client carrying its stem, short names of a stem no full name carries
    form one client per region; docs/identity.md, "Short names"). A placed cluster moves whole.
    The final cluster label is still some record's anchor_sort_key, so the client key stays the
    hash of the earliest record of the client's full names (a short name never anchors a client
    it joins). -#}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

clusters as (select * from {{ ref('int_identity_clusters_propagated') }}),

short_names as (select * from {{ ref('int_identity_short_names_placed') }}),

cluster_moves as (
    select distinct
        cluster_label,
        final_label,
        attach_rule
    from short_names
    where attach_rule is not null
),

anchors as (
    select
        anchor_sort_key as cluster_label,
        record_key as anchor_record_key
    from records
),

clients as (
    select
        records.record_key,
        records.department,
        records.entity,
        records.record_id,
        clusters.cluster_label as propagated_cluster_label,
        coalesce(cluster_moves.final_label, clusters.cluster_label) as cluster_label,
        cluster_moves.attach_rule,
        anchors.anchor_record_key,
        {{ identity_client_key('anchors.anchor_record_key') }} as client_key
    from records
    inner join clusters
        on records.record_key = clusters.record_key
    left join cluster_moves
        on clusters.cluster_label = cluster_moves.cluster_label
    inner join anchors
        on coalesce(cluster_moves.final_label, clusters.cluster_label) = anchors.cluster_label
)

select * from clients
