{#- One row per service ticket: the client it is attributed to. In order of preference:
      ticket_company_name   the mentioned company resolves by name (core, compatible region;
                            else a bare stem) to exactly one client
      ticket_phone          the caller phone is held by exactly one client (CRM contact phones)
      ticket_phone_mention  other tickets from the same phone named exactly one client
      ticket_shared_phone   a shared switchboard: the earliest client holding the phone
      ticket_new_client     a company no department knows, named in the ticket (or by another
                            ticket from the same phone): a prospect client keyed on that name
      ticket_unattributed   nothing identifies the company (no name, unknown phone): the
                            unknown-member client (var identity_unattributed_client_key), so
                            every ticket has exactly one client_key and no nameless client is
                            invented per phone -#}
with

tickets as (select * from {{ ref('stg_service__tickets') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

clusters as (select * from {{ ref('int_identity_clusters_propagated') }}),

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

match_rules as (select * from {{ ref('identity_match_rules') }}),

records_clustered as (
    select
        records.name_core,
        records.name_region,
        records.name_stem,
        records.name_industry_word,
        records.phone,
        clusters.cluster_label,
        clusters.client_key
    from records
    inner join clusters
        on records.record_key = clusters.record_key
),

name_index as (
    select distinct name_core, name_region, cluster_label, client_key
    from records_clustered
    where name_core is not null
    union
    select distinct
        {{ identity_core_key('former_names.former_name_core') }} as name_core,
        former_names.former_name_region as name_region,
        clusters.cluster_label,
        clusters.client_key
    from former_names
    inner join clusters
        on clusters.department = 'external'
        and clusters.entity = 'registry'
        and clusters.record_id = former_names.uscc
    where former_names.former_name_core is not null
),

phone_index as (
    select
        phone,
        count(distinct cluster_label) as client_count,
        min(cluster_label) as earliest_cluster_label
    from records_clustered
    where phone is not null
    group by phone
),

phone_clients as (
    select distinct
        phone_index.phone,
        phone_index.client_count,
        records_clustered.client_key
    from phone_index
    inner join records_clustered
        on phone_index.phone = records_clustered.phone
        and phone_index.earliest_cluster_label = records_clustered.cluster_label
),

tickets_latest as (
    select
        ticket_id,
        caller_phone,
        {{ identity_core_key('company_mentioned_core') }} as company_mentioned_core,
        company_mentioned_region,
        company_mentioned_clean,
        first_extract_date,
        extract_date,
        source_file,
        source_row_number,
        loaded_at
    from tickets
),

mention_candidates as (
    select
        tickets_latest.ticket_id,
        count(distinct name_index.cluster_label) as client_count,
        min(name_index.client_key) as client_key
    from tickets_latest
    inner join name_index
        on tickets_latest.company_mentioned_core = name_index.name_core
        and coalesce(tickets_latest.company_mentioned_region = name_index.name_region, true)
    group by tickets_latest.ticket_id
),

{#- A short name (bare stem) mentioned: the one client whose full names carry that stem. -#}
stem_index as (
    select
        name_stem,
        count(distinct cluster_label) as client_count,
        min(client_key) as client_key
    from records_clustered
    where name_industry_word is not null
    group by name_stem
),

mention_resolved as (
    select
        tickets_latest.ticket_id,
        coalesce(
            case when mention_candidates.client_count = 1 then mention_candidates.client_key end,
            case
                when mention_candidates.ticket_id is null and stem_index.client_count = 1
                    then stem_index.client_key
            end
        ) as client_key
    from tickets_latest
    left join mention_candidates
        on tickets_latest.ticket_id = mention_candidates.ticket_id
    left join stem_index
        on tickets_latest.company_mentioned_core = stem_index.name_stem
    where mention_candidates.client_count = 1
       or (mention_candidates.ticket_id is null and stem_index.client_count = 1)
),

phone_mentions as (
    select
        tickets_latest.caller_phone,
        count(distinct mention_resolved.client_key) as client_count,
        min(mention_resolved.client_key) as client_key
    from tickets_latest
    inner join mention_resolved
        on tickets_latest.ticket_id = mention_resolved.ticket_id
    where tickets_latest.caller_phone is not null
    group by tickets_latest.caller_phone
),

{#- A mentioned company that resolves to no client: a prospect, keyed on its name core. -#}
prospect_mentions as (
    select
        tickets_latest.ticket_id,
        tickets_latest.caller_phone,
        {{ identity_client_key(dbt.concat(["'service|name|'",
            "tickets_latest.company_mentioned_core"])) }} as client_key
    from tickets_latest
    left join mention_resolved
        on tickets_latest.ticket_id = mention_resolved.ticket_id
    where tickets_latest.company_mentioned_core is not null
        and mention_resolved.ticket_id is null
),

prospect_phones as (
    select
        caller_phone,
        count(distinct client_key) as client_count,
        min(client_key) as client_key
    from prospect_mentions
    where caller_phone is not null
    group by caller_phone
),

tickets_attributed as (
    select
        tickets_latest.*,
        case
            when mention_resolved.client_key is not null then 'ticket_company_name'
            when phone_clients.client_count = 1 then 'ticket_phone'
            when phone_mentions.client_count = 1 then 'ticket_phone_mention'
            when phone_clients.client_count > 1 then 'ticket_shared_phone'
            when prospect_mentions.ticket_id is not null then 'ticket_new_client'
            when prospect_phones.client_count = 1 then 'ticket_new_client'
            else 'ticket_unattributed'
        end as match_rule,
        coalesce(
            mention_resolved.client_key,
            case when phone_clients.client_count = 1 then phone_clients.client_key end,
            case when phone_mentions.client_count = 1 then phone_mentions.client_key end,
            phone_clients.client_key,
            prospect_mentions.client_key,
            case when prospect_phones.client_count = 1 then prospect_phones.client_key end,
            '{{ var("identity_unattributed_client_key") }}'
        ) as client_key
    from tickets_latest
    left join mention_resolved
        on tickets_latest.ticket_id = mention_resolved.ticket_id
    left join phone_clients
        on tickets_latest.caller_phone = phone_clients.phone
    left join phone_mentions
        on tickets_latest.caller_phone = phone_mentions.caller_phone
    left join prospect_mentions
        on tickets_latest.ticket_id = prospect_mentions.ticket_id
    left join prospect_phones
        on tickets_latest.caller_phone = prospect_phones.caller_phone
),

tickets_scored as (
    select
        'service' as department,
        'tickets' as entity,
        tickets_attributed.ticket_id as record_id,
        tickets_attributed.client_key,
        tickets_attributed.match_rule,
        match_rules.match_score,
        tickets_attributed.caller_phone,
        tickets_attributed.company_mentioned_clean,
        tickets_attributed.first_extract_date as first_seen_date,
        tickets_attributed.extract_date as last_seen_date,
        tickets_attributed.source_file,
        tickets_attributed.source_row_number,
        tickets_attributed.loaded_at
    from tickets_attributed
    inner join match_rules
        on tickets_attributed.match_rule = match_rules.match_rule
)

select * from tickets_scored
