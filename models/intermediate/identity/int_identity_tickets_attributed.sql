{#- One row per service ticket: the client it is attributed to. Tickets never create edges; they
    are attributed after clients are resolved, by every signal they carry, in this order:
      ticket_company_name   the mentioned company's core (+ compatible region) is the full name or
                            a registry former name of exactly one client (of exactly one known in
                            the region the mention states, when the others are known in none)
      ticket_short_name     a mention without legal form (a short name such as 中鼎经纬) that
                            exactly one client carries: a full name or former name starting with
                            it, or a client known only by that short name. A short name is never
                            taken for a full name (晶科 is not the group parent 晶科集团 alone)
      ticket_fuzzy_name     no client has or carries the name, but exactly one client's full name
                            is one character away (same length, compatible region)
      ticket_name_and_phone the name fits several clients and exactly one of them holds the
                            caller phone (a CRM contact phone, or learnt from other tickets)
      ticket_phone          the caller phone is held by exactly one client (CRM contact phones)
      ticket_phone_mention  other tickets from the same phone named exactly one client
      ticket_caller_name    a shared switchboard: the caller is the CRM contact or the registry's
                            legal representative of exactly one of the clients holding the phone
      ticket_shared_phone   a shared switchboard otherwise: the client holding it that other
                            tickets from it named most often, then the one the firm knows
                            best (most source records; then the earliest)
      ticket_new_client     a company no department knows, named in the ticket (or by another
                            ticket from the same phone): a prospect client keyed on that name
      ticket_unattributed   nothing identifies the company (no name, unknown phone): the
                            unknown-member client (var identity_unattributed_client_key), so
                            every ticket has exactly one client_key and no nameless client is
                            invented per phone
    A caller's name alone never attributes a ticket (people share names); it only picks among the
    clients a shared phone already narrowed the ticket to. -#}
with

tickets as (select * from {{ ref('stg_service__tickets') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

clients as (select * from {{ ref('int_identity_clients_resolved') }}),

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

crm_clients as (select * from {{ ref('stg_crm__clients') }} where is_latest_version),

registry as (select * from {{ ref('stg_external__registry') }} where is_latest_version),

thresholds as (select * from {{ ref('identity_thresholds') }}),

match_rules as (select * from {{ ref('identity_match_rules') }}),

regions as (select * from {{ ref('regions') }}),

records_clustered as (
    select
        records.record_key,
        records.name_core,
        records.name_stem,
        records.region_key,
        records.region_province,
        records.is_short_name,
        records.is_group_name,
        records.phone,
        clients.cluster_label,
        clients.client_key
    from records
    inner join clients
        on records.record_key = clients.record_key
),

short_name_only_clients as (
    select cluster_label
    from records_clustered
    group by cluster_label
    having min(case when is_short_name then 1 else 0 end) = 1
),

registry_former_names as (
    select
        {{ identity_core_key('former_names.former_name_core') }} as former_name_core,
        coalesce(former_names.former_name_core like '%集团'
                 or former_names.former_name_core like '%控股', false) as is_group_name,
        coalesce(former_names.former_name_region, records_clustered.region_key) as region_key,
        case
            when former_names.former_name_region is null then records_clustered.region_province
        end as region_province,
        records_clustered.cluster_label,
        records_clustered.client_key
    from former_names
    inner join records_clustered
        on records_clustered.record_key
            = {{ dbt.concat(["'external|registry|'", 'former_names.uscc']) }}
    where former_names.former_name_core is not null
),

{#- The regions each client is known in (its records' regions). -#}
client_known_regions as (
    select distinct cluster_label, region_key, region_province
    from records_clustered
    where region_key is not null
),

{#- A full name stating no region counts in the regions its client is known in (finance's
    玉龙食品有限责任公司 of a client known in 柳州 is no candidate for 重庆玉龙食品), as the short
    names' placement does; it stays without a region (a candidate for a mention of any region)
    only when its client is known nowhere. -#}
records_placed as (
    select
        records_clustered.name_core,
        records_clustered.name_stem,
        records_clustered.is_short_name,
        records_clustered.is_group_name,
        coalesce(records_clustered.region_key, client_known_regions.region_key) as region_key,
        case
            when records_clustered.region_key is null then client_known_regions.region_province
            else records_clustered.region_province
        end as region_province,
        records_clustered.cluster_label,
        records_clustered.client_key
    from records_clustered
    left join client_known_regions
        on records_clustered.region_key is null
        and records_clustered.cluster_label = client_known_regions.cluster_label
),

{#- Full names (and registry former names) of every client. -#}
name_index as (
    select distinct
        name_core, is_group_name, region_key, region_province, cluster_label, client_key,
        {#- the 字号's length when the core ends with a known industry word (else NULL) -#}
        case when length(name_stem) < length(name_core) then length(name_stem) end
            as known_stem_length
    from records_placed
    where name_core is not null
      and not is_short_name
    union
    select distinct
        former_name_core, is_group_name, region_key, region_province, cluster_label, client_key,
        cast(null as {{ dbt.type_int() }}) as known_stem_length
    from registry_former_names
),

{#- Clients known only by short names: they carry their short names' cores. -#}
short_name_only_cores as (
    select distinct
        records_clustered.name_core,
        records_clustered.region_key,
        records_clustered.region_province,
        records_clustered.cluster_label,
        records_clustered.client_key
    from records_clustered
    inner join short_name_only_clients
        on records_clustered.cluster_label = short_name_only_clients.cluster_label
),

known_regions as (
    select distinct region, province
    from regions
    where region_level in ('province', 'city')
),

tickets_latest as (
    select
        tickets.ticket_id,
        tickets.caller_phone,
        tickets.caller_name,
        {{ identity_core_key('tickets.company_mentioned_core') }} as company_mentioned_core,
        tickets.company_mentioned_region,
        known_regions.province as company_mentioned_province,
        tickets.company_mentioned_legal_form is null as is_short_mention,
        tickets.company_mentioned_clean,
        tickets.first_extract_date,
        tickets.extract_date,
        tickets.source_file,
        tickets.source_row_number,
        tickets.loaded_at
    from tickets
    left join known_regions
        on tickets.company_mentioned_region = known_regions.region
),

mentions as (
    select
        ticket_id,
        company_mentioned_core,
        company_mentioned_region,
        company_mentioned_province,
        is_short_mention
    from tickets_latest
    where company_mentioned_core is not null
),

{#- What a short mention can stand for: every client with a full name (or former name)
    starting with it, and every client known only by that short name. -#}
short_mention_lengths as (
    select distinct length(company_mentioned_core) as stem_length
    from mentions
    where is_short_mention
),

stem_index as (
    select distinct
        substring(name_index.name_core, 1, short_mention_lengths.stem_length) as stem,
        name_index.is_group_name,
        name_index.region_key,
        name_index.region_province,
        name_index.cluster_label,
        name_index.client_key
    from name_index
    inner join short_mention_lengths
        on length(name_index.name_core) >= short_mention_lengths.stem_length
    union
    select
        name_core as stem,
        false as is_group_name,
        region_key,
        region_province,
        cluster_label,
        client_key
    from short_name_only_cores
),

{#- One wrong character in the mention: wildcard keys (one position replaced by *) shared with a
    client's full name of the same length. A core shorter than fuzzy_min_core_length (down to
    fuzzy_min_located_core_length) only when the mention states the client's region and the
    wrong character is in the client's 字号 before a known industry word (泰州银源软件 for
    泰州银杉软件), as the fuzzy_core pair rule. -#}
wildcard_positions as (
    {%- for position in range(1, (var('identity_fuzzy_max_core_length', 24) | int) + 1) %}
    select {{ position }} as wildcard_position{{ ' union all' if not loop.last }}
    {%- endfor %}
),

mention_wildcards as (
    select
        mentions.ticket_id,
        mentions.company_mentioned_region,
        mentions.company_mentioned_province,
        length(mentions.company_mentioned_core) >= thresholds.fuzzy_min_core_length
            as is_long_core,
        wildcard_positions.wildcard_position,
        {{ dbt.concat([
            'substr(mentions.company_mentioned_core, 1, wildcard_positions.wildcard_position - 1)',
            "'*'",
            'substr(mentions.company_mentioned_core, wildcard_positions.wildcard_position + 1)',
        ]) }} as wildcard_key
    from mentions
    cross join wildcard_positions
    cross join thresholds
    where wildcard_positions.wildcard_position <= length(mentions.company_mentioned_core)
      and (length(mentions.company_mentioned_core) >= thresholds.fuzzy_min_core_length
           or (length(mentions.company_mentioned_core)
                   >= thresholds.fuzzy_min_located_core_length
               and mentions.company_mentioned_region is not null))
),

index_wildcards as (
    select
        name_index.region_key,
        name_index.region_province,
        name_index.cluster_label,
        name_index.client_key,
        name_index.known_stem_length,
        {{ dbt.concat([
            'substr(name_index.name_core, 1, wildcard_positions.wildcard_position - 1)',
            "'*'",
            'substr(name_index.name_core, wildcard_positions.wildcard_position + 1)',
        ]) }} as wildcard_key
    from name_index
    cross join wildcard_positions
    cross join thresholds
    where wildcard_positions.wildcard_position <= length(name_index.name_core)
      and (length(name_index.name_core) >= thresholds.fuzzy_min_core_length
           or (length(name_index.name_core) >= thresholds.fuzzy_min_located_core_length
               and name_index.region_key is not null
               and wildcard_positions.wildcard_position <= name_index.known_stem_length))
),

{#- Candidate clients by name, per stage; a ticket keeps only its first stage with a candidate. -#}
name_candidates_staged as (
    select
        mentions.ticket_id,
        1 as name_stage,
        false as is_group_carrier,
        mentions.company_mentioned_region is not null
            and name_index.region_key is not null as is_located,
        name_index.cluster_label,
        name_index.client_key
    from mentions
    inner join name_index
        on mentions.company_mentioned_core = name_index.name_core
        and not {{ identity_regions_conflict(
            'mentions.company_mentioned_region', 'mentions.company_mentioned_province',
            'name_index.region_key', 'name_index.region_province') }}
    where not mentions.is_short_mention
    union
    select
        mentions.ticket_id,
        2 as name_stage,
        stem_index.is_group_name as is_group_carrier,
        mentions.company_mentioned_region is not null
            and stem_index.region_key is not null as is_located,
        stem_index.cluster_label,
        stem_index.client_key
    from mentions
    inner join stem_index
        on mentions.company_mentioned_core = stem_index.stem
        and not {{ identity_regions_conflict(
            'mentions.company_mentioned_region', 'mentions.company_mentioned_province',
            'stem_index.region_key', 'stem_index.region_province') }}
    where mentions.is_short_mention
    union
    select
        mention_wildcards.ticket_id,
        3 as name_stage,
        false as is_group_carrier,
        mention_wildcards.company_mentioned_region is not null
            and index_wildcards.region_key is not null as is_located,
        index_wildcards.cluster_label,
        index_wildcards.client_key
    from mention_wildcards
    inner join index_wildcards
        on mention_wildcards.wildcard_key = index_wildcards.wildcard_key
        and (mention_wildcards.is_long_core
             or mention_wildcards.company_mentioned_region = index_wildcards.region_key)
        and not {{ identity_regions_conflict(
            'mention_wildcards.company_mentioned_region',
            'mention_wildcards.company_mentioned_province',
            'index_wildcards.region_key', 'index_wildcards.region_province') }}
),

first_name_stages as (
    select ticket_id, min(name_stage) as name_stage
    from name_candidates_staged
    group by ticket_id
),

name_candidates as (
    select name_candidates_staged.*
    from name_candidates_staged
    inner join first_name_stages
        on name_candidates_staged.ticket_id = first_name_stages.ticket_id
        and name_candidates_staged.name_stage = first_name_stages.name_stage
),

{#- A short name a group's or holding's own name carries (…集团, …控股) fits its members too,
    seen in the data or not: never one client. A mention stating a region that exactly one
    candidate is known in goes to it, ahead of candidates known in no region (a name typed
    without region, of a client no record places: 绍兴沧澜集团有限公司 is the 绍兴 client, not
    the projects' 沧澜集团有限公司 placed nowhere). -#}
name_candidates_counted as (
    select
        ticket_id,
        min(name_stage) as name_stage,
        max(case when is_group_carrier then 1 else 0 end) as has_group_carrier,
        count(distinct cluster_label) as candidate_count,
        count(distinct case when is_located then cluster_label end) as located_count,
        min(client_key) as client_key,
        min(case when is_located then client_key end) as located_client_key
    from name_candidates
    group by ticket_id
),

name_resolved as (
    select
        ticket_id,
        name_stage,
        case
            when has_group_carrier = 1 then 2
            when located_count = 1 then 1
            else candidate_count
        end as client_count,
        case when located_count = 1 then located_client_key else client_key end as client_key
    from name_candidates_counted
),

{#- Clients holding each phone: CRM contact phones. -#}
crm_phone_clients as (
    select distinct phone, cluster_label, client_key
    from records_clustered
    where phone is not null
),

crm_phone_index as (
    select
        phone,
        count(distinct cluster_label) as client_count
    from crm_phone_clients
    group by phone
),

{#- Phones learnt from tickets whose mentioned name resolved to one client, with how many
    tickets from the phone named the client. -#}
learnt_phone_mentions as (
    select
        tickets_latest.caller_phone as phone,
        name_resolved.client_key,
        count(*) as mention_count
    from tickets_latest
    inner join name_resolved
        on tickets_latest.ticket_id = name_resolved.ticket_id
    where name_resolved.client_count = 1
      and tickets_latest.caller_phone is not null
    group by tickets_latest.caller_phone, name_resolved.client_key
),

learnt_phone_clients as (
    select phone, client_key from learnt_phone_mentions
),

learnt_phone_index as (
    select phone, count(distinct client_key) as client_count, min(client_key) as client_key
    from learnt_phone_clients
    group by phone
),

phone_holders as (
    select phone, client_key from crm_phone_clients
    union
    select phone, client_key from learnt_phone_clients
),

{#- A name that fits several clients, narrowed by the caller phone to one. -#}
name_and_phone_resolved as (
    select
        name_candidates.ticket_id,
        count(distinct name_candidates.client_key) as client_count,
        min(name_candidates.client_key) as client_key
    from name_candidates
    inner join name_resolved
        on name_candidates.ticket_id = name_resolved.ticket_id
    inner join tickets_latest
        on name_candidates.ticket_id = tickets_latest.ticket_id
    inner join phone_holders
        on tickets_latest.caller_phone = phone_holders.phone
        and name_candidates.client_key = phone_holders.client_key
    where name_resolved.client_count > 1
    group by name_candidates.ticket_id
),

{#- People known per client: CRM contacts and registry legal representatives. -#}
client_people as (
    select distinct clients.client_key, crm_clients.contact_name as person_name
    from crm_clients
    inner join clients
        on clients.department = 'crm'
        and clients.entity = 'clients'
        and clients.record_id = crm_clients.crm_id
    where crm_clients.contact_name is not null
    union
    select distinct clients.client_key, registry.legal_representative as person_name
    from registry
    inner join clients
        on clients.department = 'external'
        and clients.entity = 'registry'
        and clients.record_id = registry.uscc
    where registry.legal_representative is not null
),

shared_phone_callers as (
    select
        tickets_latest.ticket_id,
        count(distinct crm_phone_clients.client_key) as client_count,
        min(crm_phone_clients.client_key) as client_key
    from tickets_latest
    inner join crm_phone_index
        on tickets_latest.caller_phone = crm_phone_index.phone
    inner join crm_phone_clients
        on tickets_latest.caller_phone = crm_phone_clients.phone
    inner join client_people
        on crm_phone_clients.client_key = client_people.client_key
        and tickets_latest.caller_name = client_people.person_name
    where crm_phone_index.client_count > 1
    group by tickets_latest.ticket_id
),

{#- On a switchboard that nothing else narrows, the caller is likelier to be the holder that
    other tickets from the switchboard named most often, then the client the firm knows best
    (its source records in every department), than its group's other members (measured on
    both generators: docs/benchmarks.md, "Identity resolution"). -#}
cluster_record_counts as (
    select cluster_label, count(*) as record_count
    from records_clustered
    group by cluster_label
),

crm_phone_ranked as (
    select
        crm_phone_clients.phone,
        crm_phone_clients.client_key,
        row_number() over (
            partition by crm_phone_clients.phone
            order by
                coalesce(learnt_phone_mentions.mention_count, 0) desc,
                cluster_record_counts.record_count desc,
                crm_phone_clients.cluster_label
        ) as holder_rank
    from crm_phone_clients
    inner join cluster_record_counts
        on crm_phone_clients.cluster_label = cluster_record_counts.cluster_label
    left join learnt_phone_mentions
        on crm_phone_clients.phone = learnt_phone_mentions.phone
        and crm_phone_clients.client_key = learnt_phone_mentions.client_key
),

phone_clients as (
    select
        crm_phone_index.phone,
        crm_phone_index.client_count,
        crm_phone_ranked.client_key
    from crm_phone_index
    inner join crm_phone_ranked
        on crm_phone_index.phone = crm_phone_ranked.phone
        and crm_phone_ranked.holder_rank = 1
),

{#- A mentioned company that resolves to no client: a prospect, keyed on its name core. -#}
prospect_mentions as (
    select
        mentions.ticket_id,
        {{ identity_client_key(dbt.concat(["'service|name|'",
            "mentions.company_mentioned_core"])) }} as client_key
    from mentions
    left join name_resolved
        on mentions.ticket_id = name_resolved.ticket_id
    where name_resolved.ticket_id is null
),

prospect_phones as (
    select
        tickets_latest.caller_phone,
        count(distinct prospect_mentions.client_key) as client_count,
        min(prospect_mentions.client_key) as client_key
    from tickets_latest
    inner join prospect_mentions
        on tickets_latest.ticket_id = prospect_mentions.ticket_id
    where tickets_latest.caller_phone is not null
    group by tickets_latest.caller_phone
),

tickets_attributed as (
    select
        tickets_latest.*,
        case
            when name_resolved.client_count = 1 and name_resolved.name_stage = 1
                then 'ticket_company_name'
            when name_resolved.client_count = 1 and name_resolved.name_stage = 2
                then 'ticket_short_name'
            when name_resolved.client_count = 1 and name_resolved.name_stage = 3
                then 'ticket_fuzzy_name'
            when name_and_phone_resolved.client_count = 1 then 'ticket_name_and_phone'
            when phone_clients.client_count = 1 then 'ticket_phone'
            when learnt_phone_index.client_count = 1 then 'ticket_phone_mention'
            when shared_phone_callers.client_count = 1 then 'ticket_caller_name'
            when phone_clients.client_count > 1 then 'ticket_shared_phone'
            when prospect_mentions.ticket_id is not null then 'ticket_new_client'
            when prospect_phones.client_count = 1 then 'ticket_new_client'
            else 'ticket_unattributed'
        end as match_rule,
        coalesce(
            case when name_resolved.client_count = 1 then name_resolved.client_key end,
            case
                when name_and_phone_resolved.client_count = 1
                    then name_and_phone_resolved.client_key
            end,
            case when phone_clients.client_count = 1 then phone_clients.client_key end,
            case when learnt_phone_index.client_count = 1 then learnt_phone_index.client_key end,
            case
                when shared_phone_callers.client_count = 1 then shared_phone_callers.client_key
            end,
            phone_clients.client_key,
            prospect_mentions.client_key,
            case when prospect_phones.client_count = 1 then prospect_phones.client_key end,
            '{{ var("identity_unattributed_client_key") }}'
        ) as client_key
    from tickets_latest
    left join name_resolved
        on tickets_latest.ticket_id = name_resolved.ticket_id
    left join name_and_phone_resolved
        on tickets_latest.ticket_id = name_and_phone_resolved.ticket_id
    left join phone_clients
        on tickets_latest.caller_phone = phone_clients.phone
    left join learnt_phone_index
        on tickets_latest.caller_phone = learnt_phone_index.phone
    left join shared_phone_callers
        on tickets_latest.ticket_id = shared_phone_callers.ticket_id
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
