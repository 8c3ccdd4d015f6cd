{#- One row per short-names-only cluster and client carrying its stem (one row with no
    candidate when no client carries it): where the cluster is placed (final_label, read by
    int_identity_clients_resolved) and the candidates the placement weighed, which
    identity_review_queue shows a data steward when the rules placed the cluster nowhere.
    A short name (a bare stem such as 中鼎经纬: no legal form, no industry word) identifies a
    company only through the other names that carry its stem, so it is placed after
    clustering, by clients rather than records (typos, legal forms and
    departments of one company count once):
      short_name        a cluster made only of short names with one stem (and at most one
                        region: its CRM city, or a region in the name) joins the only client
                        that carries the stem (a full name or a registry former name starting
                        with it, whatever follows) in a compatible region; a short name that
                        states its region joins only a client known in that region. A
                        carrier's full name stating no region counts in the regions its
                        client is known in (cluster_regions). When the
                        short names state no region, a short-names-only cluster of the stem
                        elsewhere (a company known only by its short name) makes the stem
                        ambiguous too. Not when both carry tax codes (they would have matched
                        on it).
                        Never with a group's or holding's own name (…集团, …控股): its
                        members carry the 字号 too, seen in the data or not. Among several
                        carriers, the only one holding one of the short names' phones.
      short_name_project  among the carriers (several, or one whose place the rules above
                        leave open; the same guards first), the only one with a finance
                        customer that has at least short_name_project_min_receipts receipts
                        tied to a project the short names take part in (projects' partner
                        names): a customer paying interest or fees on a project is a party
                        to it.
      short_name_group  short-names-only clusters of a stem that no full name carries (in their
                        region) form one client per region; those without a region join the
                        stem's only region, or the stem's group when none has a region.
    No rule places a cluster with a client whose CRM records state industry sections (their
    free text through seed crm_industry_sections) and none of those its own CRM records state
    (industry_conflict): that is another company with the same 字号, the commonest wrong
    placement once names collide within a city (docs/identity.md).
    An ambiguous short name (a group's parent and subsidiaries, one brand in two cities, two
    unrelated companies with the same 字号) stays a client of its own (attach_rule NULL). The
    final label is still some record's anchor_sort_key, so the client key stays the hash of the
    earliest record of the client's full names (a short name never anchors a client it joins).
    carrier_record_key is the first record (or registry entry, by a former name) of the
    candidate carrying the stem there; short_record_key the cluster's first record;
    unplaced_reason why a cluster that clients carry joins none of them (several_carriers,
    group_name, both_tax_codes, carrier_place_unknown: it states its region and the carrier is
    known in none, stem_known_elsewhere: it states none and a company known only by the short
    name is in another region, industry_conflict: above). A cluster whose carriers all state
    another industry stands, like one no client carries, for a company of its own in its
    region (orphan_regions). -#}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

clusters as (select * from {{ ref('int_identity_clusters_propagated') }}),

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

participations as (select * from {{ ref('stg_projects__participations') }}),

receipts as (select * from {{ ref('stg_finance__receipts') }}),

thresholds as (select * from {{ ref('identity_thresholds') }}),

crm_clients as (select * from {{ ref('stg_crm__clients') }} where is_latest_version),

crm_industry_sections as (select * from {{ ref('crm_industry_sections') }}),

records_clustered as (
    select
        records.record_key,
        records.name_core,
        records.is_short_name,
        records.is_group_name,
        records.region_key,
        records.region_province,
        records.tax_code,
        records.phone,
        clusters.cluster_label
    from records
    inner join clusters
        on records.record_key = clusters.record_key
),

{#- A tax code held by records of two clusters is disputed: the records whose names disagree
    with its holders copied it from the wrong row, so it says nothing about them. -#}
tax_code_clusters as (
    select tax_code, count(distinct cluster_label) as cluster_count
    from records_clustered
    where tax_code is not null
    group by tax_code
),

cluster_profiles as (
    select
        records_clustered.cluster_label,
        min(case when records_clustered.is_short_name then 1 else 0 end) as is_short_names_only,
        count(distinct records_clustered.name_core) as core_count,
        min(records_clustered.name_core) as short_core,
        count(distinct records_clustered.region_key) as region_count,
        min(records_clustered.region_key) as region_key,
        min(records_clustered.region_province) as region_province,
        count(distinct
            case when tax_code_clusters.cluster_count = 1 then records_clustered.tax_code end
        ) as tax_code_count
    from records_clustered
    left join tax_code_clusters
        on records_clustered.tax_code = tax_code_clusters.tax_code
    group by records_clustered.cluster_label
),

short_clusters as (
    select
        cluster_profiles.cluster_label,
        cluster_profiles.short_core,
        cluster_profiles.region_key,
        cluster_profiles.region_province,
        cluster_profiles.tax_code_count
    from cluster_profiles
    cross join thresholds
    where cluster_profiles.is_short_names_only = 1
      and cluster_profiles.core_count = 1
      and cluster_profiles.region_count <= 1
      and length(cluster_profiles.short_core) >= thresholds.short_name_min_length
),

{#- Former names of registry entries (a short name may be typed from the old name). -#}
former_cores as (
    select
        {{ dbt.concat(["'external|registry|'", 'uscc']) }} as record_key,
        {{ identity_core_key('former_name_core') }} as former_name_core,
        coalesce(former_name_core like '%集团' or former_name_core like '%控股', false)
            as is_group_name,
        former_name_region
    from former_names
    where former_name_core is not null
),

{#- Every full name (and registry former name) with its client and region, once, with the
    first record that carries it (the record a data steward is shown: identity_review_queue). -#}
full_names_typed as (
    select
        records_clustered.record_key,
        records_clustered.name_core as core,
        records_clustered.is_group_name,
        records_clustered.region_key,
        records_clustered.region_province,
        records_clustered.cluster_label
    from records_clustered
    where not records_clustered.is_short_name
      and records_clustered.name_core is not null
    union all
    select
        former_cores.record_key,
        former_cores.former_name_core as core,
        former_cores.is_group_name,
        coalesce(former_cores.former_name_region, records_clustered.region_key) as region_key,
        case
            when former_cores.former_name_region is null then records_clustered.region_province
        end as region_province,
        records_clustered.cluster_label
    from former_cores
    inner join records_clustered
        on former_cores.record_key = records_clustered.record_key
),

full_names as (
    select
        core,
        is_group_name,
        region_key,
        region_province,
        cluster_label,
        min(record_key) as record_key
    from full_names_typed
    group by core, is_group_name, region_key, region_province, cluster_label
),

{#- The regions a client is known in. A full name that states no region stands for its client
    in each of them: 五洲钢构有限公司 typed by projects in the cluster of 榆林五洲钢构 is a 榆林
    company, not a carrier of 五洲 anywhere. Only a client known in no region carries its stem
    everywhere. -#}
cluster_regions as (
    select distinct cluster_label, region_key, region_province
    from records_clustered
    where region_key is not null
),

full_names_located as (
    select
        full_names.record_key,
        full_names.core,
        full_names.is_group_name,
        coalesce(full_names.region_key, cluster_regions.region_key) as region_key,
        coalesce(full_names.region_province, cluster_regions.region_province)
            as region_province,
        full_names.cluster_label
    from full_names
    left join cluster_regions
        on full_names.cluster_label = cluster_regions.cluster_label
        and full_names.region_key is null
        and full_names.region_province is null
),

short_lengths as (
    select distinct length(short_core) as stem_length
    from short_clusters
),

{#- Every client carrying a stem: a full name starting with it, with the region it carries it
    in. Any full name that starts with the short name counts, whatever follows (an industry
    word the seed knows or not, or a longer 字号 such as 燕赵蓝鲸 for 燕赵): the short name is
    placed only when one client could be meant. -#}
stem_carriers as (
    select
        substring(full_names_located.core, 1, short_lengths.stem_length) as stem,
        full_names_located.is_group_name,
        full_names_located.region_key,
        full_names_located.region_province,
        full_names_located.cluster_label,
        min(full_names_located.record_key) as carrier_record_key
    from full_names_located
    inner join short_lengths
        on length(full_names_located.core) >= short_lengths.stem_length
    group by
        substring(full_names_located.core, 1, short_lengths.stem_length),
        full_names_located.is_group_name,
        full_names_located.region_key,
        full_names_located.region_province,
        full_names_located.cluster_label
),

cluster_tax_codes as (
    select cluster_label, count(distinct tax_code) as tax_code_count
    from records_clustered
    group by cluster_label
),

candidates as (
    select
        short_clusters.cluster_label,
        stem_carriers.cluster_label as candidate_label,
        stem_carriers.carrier_record_key,
        stem_carriers.region_key is not null as is_candidate_located,
        stem_carriers.is_group_name as is_candidate_group,
        cluster_tax_codes.tax_code_count as candidate_tax_code_count
    from short_clusters
    inner join stem_carriers
        on short_clusters.short_core = stem_carriers.stem
        and not {{ identity_regions_conflict(
            'short_clusters.region_key', 'short_clusters.region_province',
            'stem_carriers.region_key', 'stem_carriers.region_province') }}
    inner join cluster_tax_codes
        on stem_carriers.cluster_label = cluster_tax_codes.cluster_label
),

{#- The industry section each CRM record states (its free text through seed
    crm_industry_sections; text the seed does not map says nothing). A short name and a
    carrier whose CRM records state sections and share none are two companies: the same
    company's CRM records carry the same industry, another company of the same 字号 and city
    (a collision that grows with the number of companies) another. -#}
record_industries as (
    select
        records_clustered.cluster_label,
        crm_industry_sections.industry_section
    from records_clustered
    inner join crm_clients
        on records_clustered.record_key
            = {{ dbt.concat(["'crm|clients|'", 'crm_clients.crm_id']) }}
    inner join crm_industry_sections
        on crm_clients.industry = crm_industry_sections.industry_text
),

{#- Whether the deliveries' CRM industries are a company's own: the clusters the pair rules
    formed (industry plays no part in them) holding two or more CRM records with a section
    state one section, nearly always (the simulators: 0.998-1.000), where a CRM typing an
    industry at random would not. Else the veto is off. -#}
industry_agreement as (
    select
        count(*) as cluster_count,
        avg(case when section_count = 1 then 1.0 else 0.0 end) as agreeing_share
    from (
        select cluster_label, count(distinct industry_section) as section_count
        from record_industries
        group by cluster_label
        having count(*) >= 2
    ) as clusters_with_industries
),

cluster_industries as (
    select distinct cluster_label, industry_section
    from record_industries
    where cluster_label in (
        select cluster_label from candidates
        union all
        select candidate_label from candidates
    )
),

candidates_in_industry_conflict as (
    select
        candidate_pairs.cluster_label,
        candidate_pairs.candidate_label
    from (select distinct cluster_label, candidate_label from candidates) as candidate_pairs
    inner join cluster_industries as short_industries
        on candidate_pairs.cluster_label = short_industries.cluster_label
    inner join cluster_industries as candidate_industries
        on candidate_pairs.candidate_label = candidate_industries.cluster_label
    cross join industry_agreement
    where industry_agreement.cluster_count >= {{ var('identity_industry_veto_min_clusters') }}
      and industry_agreement.agreeing_share
          >= {{ var('identity_industry_veto_min_agreement') }}
    group by candidate_pairs.cluster_label, candidate_pairs.candidate_label
    having max(case
        when short_industries.industry_section = candidate_industries.industry_section then 1
        else 0
    end) = 0
),

{#- Candidates that also hold one of the short names' phones (a CRM contact phone). -#}
candidates_on_phone as (
    select distinct candidates.cluster_label, candidates.candidate_label
    from candidates
    inner join records_clustered as short_records
        on candidates.cluster_label = short_records.cluster_label
    inner join records_clustered as candidate_records
        on candidates.candidate_label = candidate_records.cluster_label
        and short_records.phone = candidate_records.phone
),

phone_candidate_counts as (
    select
        cluster_label,
        count(distinct candidate_label) as candidate_count,
        min(candidate_label) as candidate_label
    from candidates_on_phone
    group by cluster_label
),

{#- The projects the short names of a cluster take part in (projects' partner names), and the
    finance customers whose receipts are tied to those projects: a customer paying interest or
    fees on a project is a party to it. Reversals are left out. -#}
short_cluster_projects as (
    select distinct
        records_clustered.cluster_label,
        participations.project_code
    from records_clustered
    inner join short_clusters
        on records_clustered.cluster_label = short_clusters.cluster_label
    inner join participations
        on records_clustered.record_key
            = {{ dbt.concat(["'projects|participations|'", 'participations.record_id']) }}
    where participations.is_latest_version
      and participations.project_code is not null
),

project_customers as (
    select
        {{ dbt.concat(["'finance|customers|'", 'receipts.customer_code']) }} as record_key,
        receipts.project_code,
        count(distinct receipts.voucher_no) as receipt_count
    from receipts
    where receipts.project_code in (select project_code from short_cluster_projects)
      and not receipts.is_reversal
    group by receipts.customer_code, receipts.project_code
),

{#- Candidates a finance customer of which has enough receipts tied to one of the short
    names' projects. -#}
candidates_on_project as (
    select distinct candidates.cluster_label, candidates.candidate_label
    from candidates
    inner join short_cluster_projects
        on candidates.cluster_label = short_cluster_projects.cluster_label
    inner join records_clustered as candidate_records
        on candidates.candidate_label = candidate_records.cluster_label
    inner join project_customers
        on candidate_records.record_key = project_customers.record_key
        and short_cluster_projects.project_code = project_customers.project_code
    cross join thresholds
    where project_customers.receipt_count >= thresholds.short_name_project_min_receipts
),

project_candidate_counts as (
    select
        cluster_label,
        count(distinct candidate_label) as candidate_count,
        min(candidate_label) as candidate_label
    from candidates_on_project
    group by cluster_label
),

candidate_counts as (
    select
        candidates.cluster_label,
        count(distinct candidates.candidate_label) as candidate_count,
        min(candidates.candidate_label) as candidate_label,
        max(candidates.candidate_tax_code_count) as candidate_tax_code_count,
        max(case when candidates.is_candidate_located then 1 else 0 end)
            as is_candidate_located,
        max(case when candidates.is_candidate_group then 1 else 0 end) as has_group_candidate,
        min(phone_candidate_counts.candidate_count) as phone_candidate_count,
        min(phone_candidate_counts.candidate_label) as phone_candidate_label,
        min(project_candidate_counts.candidate_count) as project_candidate_count,
        min(project_candidate_counts.candidate_label) as project_candidate_label,
        count(distinct candidates_in_industry_conflict.candidate_label)
            as conflicting_candidate_count
    from candidates
    left join phone_candidate_counts
        on candidates.cluster_label = phone_candidate_counts.cluster_label
    left join project_candidate_counts
        on candidates.cluster_label = project_candidate_counts.cluster_label
    left join candidates_in_industry_conflict
        on candidates.cluster_label = candidates_in_industry_conflict.cluster_label
        and candidates.candidate_label = candidates_in_industry_conflict.candidate_label
    group by candidates.cluster_label
),

short_clusters_counted as (
    select
        short_clusters.*,
        coalesce(candidate_counts.candidate_count, 0) as candidate_count,
        candidate_counts.candidate_label,
        coalesce(candidate_counts.candidate_tax_code_count, 0) as candidate_tax_code_count,
        coalesce(candidate_counts.is_candidate_located, 0) as is_candidate_located,
        coalesce(candidate_counts.has_group_candidate, 0) as has_group_candidate,
        coalesce(candidate_counts.phone_candidate_count, 0) as phone_candidate_count,
        candidate_counts.phone_candidate_label,
        coalesce(candidate_counts.project_candidate_count, 0) as project_candidate_count,
        candidate_counts.project_candidate_label,
        coalesce(candidate_counts.conflicting_candidate_count, 0) as conflicting_candidate_count
    from short_clusters
    left join candidate_counts
        on short_clusters.cluster_label = candidate_counts.cluster_label
),

{#- Regions where only short names of a stem are seen, or short names whose CRM industry no
    carrier there shares: each stands for a company of its own. -#}
orphan_regions as (
    select
        short_core as stem,
        count(distinct region_key) as orphan_region_count,
        min(region_key) as orphan_region
    from short_clusters_counted
    where candidate_count = conflicting_candidate_count
      and region_key is not null
    group by short_core
),

{#- proposed_decision: how a cluster would be placed (carrier: the only one; phone: the only one
    holding its phone; project: the only one finance ties to its project), or why a cluster that
    clients carry is placed with none (the same order as the rules above); proposed_label: the
    client it would join. -#}
short_clusters_proposed as (
    select
        short_clusters_counted.*,
        orphan_regions.stem as orphan_stem,
        orphan_regions.orphan_region_count,
        orphan_regions.orphan_region,
        case
            when short_clusters_counted.candidate_count = 0 then 'no_carrier'
            when short_clusters_counted.tax_code_count > 0
                and short_clusters_counted.candidate_tax_code_count > 0
                then 'both_tax_codes'
            when short_clusters_counted.has_group_candidate = 1 then 'group_name'
            when short_clusters_counted.candidate_count = 1
                and short_clusters_counted.region_key is not null
                and short_clusters_counted.is_candidate_located = 1
                then 'carrier'
            when short_clusters_counted.candidate_count = 1
                and short_clusters_counted.region_key is null
                and orphan_regions.stem is null
                then 'carrier'
            when short_clusters_counted.phone_candidate_count = 1 then 'phone'
            when short_clusters_counted.project_candidate_count = 1 then 'project'
            when short_clusters_counted.candidate_count = 1
                and short_clusters_counted.region_key is not null
                then 'carrier_place_unknown'
            when short_clusters_counted.candidate_count = 1 then 'stem_known_elsewhere'
            else 'several_carriers'
        end as proposed_decision
    from short_clusters_counted
    left join orphan_regions
        on short_clusters_counted.short_core = orphan_regions.stem
),

short_clusters_labelled as (
    select
        short_clusters_proposed.*,
        case proposed_decision
            when 'carrier' then candidate_label
            when 'phone' then phone_candidate_label
            when 'project' then project_candidate_label
        end as proposed_label
    from short_clusters_proposed
),

{#- decision: the proposed one, unless the client it would join states another industry in CRM
    (industry_conflict). -#}
short_clusters_decided as (
    select
        short_clusters_labelled.*,
        case
            when candidates_in_industry_conflict.candidate_label is not null
                then 'industry_conflict'
            else short_clusters_labelled.proposed_decision
        end as decision
    from short_clusters_labelled
    left join candidates_in_industry_conflict
        on short_clusters_labelled.cluster_label = candidates_in_industry_conflict.cluster_label
        and short_clusters_labelled.proposed_label
            = candidates_in_industry_conflict.candidate_label
),

short_clusters_resolved as (
    select
        cluster_label,
        case when decision in ('carrier', 'phone', 'project') then proposed_label end
            as resolved_label,
        case decision
            when 'carrier' then 'short_name'
            when 'phone' then 'short_name'
            when 'project' then 'short_name_project'
        end as resolved_rule,
        case
            when decision in ('both_tax_codes', 'group_name', 'carrier_place_unknown',
                              'stem_known_elsewhere', 'several_carriers', 'industry_conflict')
                then decision
        end as unplaced_reason,
        case
            when candidate_count = 0 and tax_code_count = 0
                then case
                    when region_key is not null
                        then {{ dbt.concat(['short_core', "'|'", 'region_key']) }}
                    when orphan_stem is null
                        then {{ dbt.concat(['short_core', "'|'"]) }}
                    when orphan_region_count = 1
                        then {{ dbt.concat(['short_core', "'|'", 'orphan_region']) }}
                end
        end as group_value
    from short_clusters_decided
),

short_groups as (
    select group_value, min(cluster_label) as group_label
    from short_clusters_resolved
    where group_value is not null
    group by group_value
),

cluster_moves as (
    select
        short_clusters_resolved.cluster_label,
        coalesce(short_clusters_resolved.resolved_label, short_groups.group_label)
            as final_label,
        case
            when short_clusters_resolved.resolved_label is not null
                then short_clusters_resolved.resolved_rule
            when short_groups.group_label <> short_clusters_resolved.cluster_label
                then 'short_name_group'
        end as attach_rule
    from short_clusters_resolved
    left join short_groups
        on short_clusters_resolved.group_value = short_groups.group_value
    where short_clusters_resolved.resolved_label is not null
       or short_groups.group_label <> short_clusters_resolved.cluster_label
),

{#- The cluster's first record and the candidates' carrying records: what a steward is shown. -#}
short_cluster_records as (
    select
        records_clustered.cluster_label,
        min(records_clustered.record_key) as short_record_key
    from records_clustered
    inner join short_clusters
        on records_clustered.cluster_label = short_clusters.cluster_label
    group by records_clustered.cluster_label
),

candidate_clients as (
    select
        cluster_label,
        candidate_label,
        min(carrier_record_key) as carrier_record_key
    from candidates
    group by cluster_label, candidate_label
),

placed as (
    select
        short_clusters_counted.cluster_label,
        short_cluster_records.short_record_key,
        short_clusters_counted.short_core,
        short_clusters_counted.region_key,
        short_clusters_counted.candidate_count,
        candidate_clients.candidate_label,
        candidate_clients.carrier_record_key,
        coalesce(cluster_moves.final_label, short_clusters_counted.cluster_label) as final_label,
        cluster_moves.attach_rule,
        short_clusters_resolved.unplaced_reason
    from short_clusters_counted
    inner join short_clusters_resolved
        on short_clusters_counted.cluster_label = short_clusters_resolved.cluster_label
    inner join short_cluster_records
        on short_clusters_counted.cluster_label = short_cluster_records.cluster_label
    left join candidate_clients
        on short_clusters_counted.cluster_label = candidate_clients.cluster_label
    left join cluster_moves
        on short_clusters_counted.cluster_label = cluster_moves.cluster_label
)

select * from placed
