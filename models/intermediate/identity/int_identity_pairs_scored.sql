{#- One row per candidate pair of records (record_key_a < record_key_b) that share at least one
    blocking key, with the first matching rule, its score and whether it is a match. Rules, in
    order (docs/identity.md):
      uscc          same valid USCC and the names agree (similar, short form, former name, or
                    a renamed stem with the same region and industry word)
      exact_name    same name core, same region (or both none), same legal-form family
      core_region   same core, compatible region and legal form, no conflicting USCCs
      former_name   one record's core is a former name of the other (a registry entry)
      short_name    a bare stem (中鼎经纬) and the one full name carrying that stem
      phone         same unshared phone and similar names (not a bare short name), compatible
                    region, same industry word
      fuzzy_core    equal-length long cores one character apart, same region, not two different
                    recognised industry words (seed identity_industry_words), and one of the two
                    cores is carried by a single record (a typo is rare; two names each seen on
                    several records are two companies)
    Never a match: conflicting regions (same brand in two cities) except by USCC, and different
    cores (parent and subsidiary: a different industry word after a shared stem). -#}
with

block_keys as (select * from {{ ref('int_identity_block_keys_generated') }}),

records as (select * from {{ ref('int_identity_records_unioned') }}),

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

thresholds as (select * from {{ ref('identity_thresholds') }}),

match_rules as (select * from {{ ref('identity_match_rules') }}),

candidate_pairs as (
    select
        left_keys.record_key as record_key_a,
        right_keys.record_key as record_key_b,
        max(case when left_keys.block_type in ('stem', 'stem_region') then 1 else 0 end) = 1
            as shares_stem_block
    from block_keys as left_keys
    inner join block_keys as right_keys
        on left_keys.block_type = right_keys.block_type
        and left_keys.block_value = right_keys.block_value
        and left_keys.record_key < right_keys.record_key
    group by left_keys.record_key, right_keys.record_key
),

registry_former_cores as (
    select distinct
        {{ dbt.concat(["'external|registry|'", 'uscc']) }} as record_key,
        {{ identity_core_key('former_name_core') }} as former_name_core
    from former_names
    where former_name_core is not null
),

core_counts as (
    select name_core, count(*) as record_count
    from records
    group by name_core
),

pairs_with_records as (
    select
        candidate_pairs.record_key_a,
        candidate_pairs.record_key_b,
        candidate_pairs.shares_stem_block
            and a.is_short_name <> b.is_short_name as is_unambiguous_short_name,
        coalesce(a.is_short_name or b.is_short_name, false) as is_short_name_pair,
        {#- A typo makes a core that (almost) no other record has; two cores that each appear on
            several records are two real names (华宇云帆 / 翔宇云帆), not a typo. -#}
        (core_counts_a.record_count = 1 or core_counts_b.record_count = 1) as is_rare_core_pair,
        a.name_core as core_a,
        b.name_core as core_b,
        a.uscc as uscc_a,
        b.uscc as uscc_b,
        coalesce(a.uscc = b.uscc, false) as is_same_uscc,
        coalesce(a.uscc <> b.uscc, false) as is_uscc_conflict,
        coalesce(a.name_region <> b.name_region, false) as is_region_conflict,
        coalesce(a.name_region = b.name_region, false)
            or (a.name_region is null and b.name_region is null) as is_same_region,
        coalesce(a.name_legal_family <> b.name_legal_family, false) as is_legal_form_conflict,
        coalesce(a.name_core = b.name_core, false) as is_same_core,
        coalesce(a.name_industry_word <> b.name_industry_word, false) as is_industry_conflict,
        coalesce(a.name_industry_word = b.name_industry_word, false) as is_same_industry_word,
        coalesce(a.name_region = b.name_region, false) as is_same_known_region,
        coalesce(a.phone = b.phone, false) as is_same_phone,
        coalesce(
            {{ identity_is_prefix('a.name_core', 'b.name_core') }}
            or {{ identity_is_prefix('b.name_core', 'a.name_core') }},
            false
        ) as is_short_form,
        coalesce(length(a.name_core) = length(b.name_core), false) as is_same_length,
        least(length(a.name_core), length(b.name_core)) as shorter_core_length,
        coalesce({{ identity_name_similarity('a.name_core', 'b.name_core') }}, 0)
            as core_similarity,
        {{ identity_edit_distance('a.name_core', 'b.name_core') }} as core_edit_distance,
        (former_of_b.former_name_core is not null or former_of_a.former_name_core is not null)
            as is_former_name
    from candidate_pairs
    inner join records as a
        on candidate_pairs.record_key_a = a.record_key
    inner join records as b
        on candidate_pairs.record_key_b = b.record_key
    left join core_counts as core_counts_a
        on a.name_core = core_counts_a.name_core
    left join core_counts as core_counts_b
        on b.name_core = core_counts_b.name_core
    left join registry_former_cores as former_of_b
        on candidate_pairs.record_key_b = former_of_b.record_key
        and a.name_core = former_of_b.former_name_core
    left join registry_former_cores as former_of_a
        on candidate_pairs.record_key_a = former_of_a.record_key
        and b.name_core = former_of_a.former_name_core
),

pairs_ruled as (
    select
        pairs_with_records.*,
        case
            when is_same_uscc
                and (core_similarity >= thresholds.uscc_name_min_similarity
                     or is_short_form or is_former_name
                     or (is_same_known_region and is_same_industry_word))
                then 'uscc'
            when is_same_core and is_same_region and not is_legal_form_conflict
                then 'exact_name'
            when is_same_core and not is_region_conflict and not is_legal_form_conflict
                and not is_uscc_conflict
                then 'core_region'
            when is_former_name and not is_region_conflict and not is_uscc_conflict
                then 'former_name'
            when is_unambiguous_short_name and not is_uscc_conflict
                then 'short_name'
            when is_same_phone and not is_region_conflict and not is_uscc_conflict
                and not is_industry_conflict
                and not is_short_name_pair
                and core_similarity >= thresholds.phone_name_min_similarity
                then 'phone'
            when is_same_length and is_same_region and not is_region_conflict
                and not is_legal_form_conflict and not is_uscc_conflict
                and not is_industry_conflict
                and is_rare_core_pair
                and shorter_core_length >= thresholds.fuzzy_min_core_length
                and core_edit_distance <= 1
                then 'fuzzy_core'
            when is_same_uscc then 'uscc_name_conflict'
            else 'no_match'
        end as match_rule
    from pairs_with_records
    cross join thresholds
),

pairs_scored as (
    select
        pairs_ruled.record_key_a,
        pairs_ruled.record_key_b,
        pairs_ruled.match_rule,
        case
            when pairs_ruled.match_rule in ('fuzzy_core', 'no_match', 'uscc_name_conflict')
                then least(match_rules.match_score, pairs_ruled.core_similarity)
            else match_rules.match_score
        end as match_score,
        match_rules.is_match,
        pairs_ruled.core_a,
        pairs_ruled.core_b,
        pairs_ruled.core_similarity
    from pairs_ruled
    inner join match_rules
        on pairs_ruled.match_rule = match_rules.match_rule
)

select * from pairs_scored
