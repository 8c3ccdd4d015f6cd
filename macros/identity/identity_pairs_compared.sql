{#- The candidate pairs and their comparisons: the SQL of int_identity_pairs_compared (see
    there), a macro so that the unit test of int_identity_pairs_scored can run it inline
    (var identity_pairs_compared_inline) on the contract's hard cases. -#}
{% macro identity_pairs_compared_sql() -%}
with

block_keys as {{ inline_cte() }} (select * from {{ ref('int_identity_block_keys_generated') }}),

records as {{ inline_cte() }} (select * from {{ ref('int_identity_records_unioned') }}),

former_names as {{ inline_cte() }} (
    select * from {{ ref('stg_external__registry_former_names') }}
),

industry_words as (select * from {{ ref('int_identity_industry_words_learned') }}),

thresholds as (select * from {{ ref('identity_thresholds') }}),

candidate_pairs as (
    select distinct
        left_keys.record_key as record_key_a,
        right_keys.record_key as record_key_b
    from block_keys as left_keys
    inner join block_keys as right_keys
        on left_keys.block_type = right_keys.block_type
        and left_keys.block_value = right_keys.block_value
        and left_keys.record_key < right_keys.record_key
),

registry_former_cores as (
    select distinct
        {{ dbt.concat(["'external|registry|'", 'uscc']) }} as record_key,
        {{ identity_core_key('former_name_core') }} as former_name_core
    from former_names
    where former_name_core is not null
),

{#- The stem (字号) of each former name: a short name typed from the old name. -#}
registry_former_stems as (
    select distinct
        registry_former_cores.record_key,
        substring(registry_former_cores.former_name_core, 1,
                  length(registry_former_cores.former_name_core)
                  - length({{ identity_industry_word('registry_former_cores.former_name_core',
                                                     'words') }})) as former_name_stem
    from registry_former_cores
    {{ identity_industry_word_joins('industry_words', 'registry_former_cores.former_name_core',
                                    'words') }}
    where {{ identity_industry_word('registry_former_cores.former_name_core', 'words') }}
        is not null
),

{#- Where each name core is known to be: the regions of its records (and of the registry
    entries that carry it as a former name), as (province, city). -#}
core_places as (
    select distinct
        name_core,
        region_key,
        coalesce(region_province, region_key) as province,
        (region_province is null or region_key <> region_province) as is_city
    from records
    where name_core is not null
      and region_key is not null
    union
    select distinct
        registry_former_cores.former_name_core as name_core,
        records.region_key,
        coalesce(records.region_province, records.region_key) as province,
        (records.region_province is null or records.region_key <> records.region_province)
            as is_city
    from registry_former_cores
    inner join records
        on registry_former_cores.record_key = records.record_key
    where records.region_key is not null
),

core_province_places as (
    select
        name_core,
        province,
        count(distinct case when is_city then region_key end) as city_count
    from core_places
    group by name_core, province
),

core_spread as (
    select
        name_core,
        count(*) as province_count,
        max(city_count) as max_city_count
    from core_province_places
    group by name_core
),

{#- A record that does not say where it is (no region, or only a province) while its core is
    known in two places it could be (two cities, two provinces) is ambiguous: one brand in two
    cities. Its name cannot tell the two apart, so no name rule links it (a tax code still can). -#}
records_placed as (
    select
        records.record_key,
        case
            when records.region_key is null
                then coalesce(core_spread.province_count > 1
                              or core_spread.max_city_count > 1, false)
            when records.region_key = records.region_province
                then coalesce(core_province_places.city_count > 1, false)
            else false
        end as is_place_ambiguous
    from records
    left join core_spread
        on records.name_core = core_spread.name_core
    left join core_province_places
        on records.name_core = core_province_places.name_core
        and records.region_key = core_province_places.province
),

pairs_with_records as (
    select
        candidate_pairs.record_key_a,
        candidate_pairs.record_key_b,
        a.department as department_a,
        b.department as department_b,
        a.tax_code as tax_code_a,
        b.tax_code as tax_code_b,
        coalesce(a.is_short_name and b.is_short_name, false) as is_both_short_names,
        coalesce(a.is_short_name <> b.is_short_name, false) as is_one_short_name,
        a.name_core as core_a,
        b.name_core as core_b,
        coalesce(a.region_key, '') as region_key_a,
        coalesce(b.region_key, '') as region_key_b,
        coalesce(a.uscc = b.uscc, false) as is_same_uscc,
        coalesce(a.tax_code = b.tax_code, false) as is_same_tax_code,
        {#- Regions: the name's region, else the record's city; a province agrees with its
            cities (identity_regions_conflict). -#}
        {{ identity_regions_conflict('a.region_key', 'a.region_province',
                                     'b.region_key', 'b.region_province') }}
            as is_region_conflict,
        (a.region_key is not null and b.region_key is not null
            and not {{ identity_regions_conflict('a.region_key', 'a.region_province',
                                                 'b.region_key', 'b.region_province') }})
            or (a.region_key is null and b.region_key is null) as is_same_region,
        (a.region_key is not null and b.region_key is not null
            and not {{ identity_regions_conflict('a.region_key', 'a.region_province',
                                                 'b.region_key', 'b.region_province') }})
            as is_same_known_region,
        coalesce(placed_a.is_place_ambiguous or placed_b.is_place_ambiguous, false)
            as is_place_ambiguous,
        {#- another family, or a joint-stock company against a limited-liability one spelled
            out (identity_legal_kind) -#}
        coalesce(a.name_legal_family <> b.name_legal_family, false)
            or coalesce(a.name_legal_kind <> b.name_legal_kind, false) as is_legal_form_conflict,
        coalesce(a.name_core = b.name_core, false) as is_same_core,
        {#- Two recognised industry words differ unless one ends the other (新材料 / 材料: the
            extra character then belongs to the other name's stem). -#}
        coalesce(
            a.name_industry_word <> b.name_industry_word
            and substring(a.name_industry_word,
                          length(a.name_industry_word) - length(b.name_industry_word) + 1)
                <> b.name_industry_word
            and substring(b.name_industry_word,
                          length(b.name_industry_word) - length(a.name_industry_word) + 1)
                <> a.name_industry_word,
            false
        ) as is_industry_conflict,
        {#- Both without industry word (a group parent's bare 字号 + 集团) counts as the same. -#}
        coalesce(a.name_industry_word = b.name_industry_word,
                 a.name_industry_word is null and b.name_industry_word is null)
            as is_same_industry_word,
        coalesce(a.name_industry_word = b.name_industry_word, false)
            as is_same_known_industry_word,
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
        coalesce({{ identity_name_similarity('a.name_stem', 'b.name_stem') }}, 0)
            as stem_similarity,
        {{ identity_edit_distance('a.name_core', 'b.name_core') }} as core_edit_distance,
        (former_of_b.former_name_core is not null or former_of_a.former_name_core is not null)
            as is_former_name,
        (former_stem_of_b.former_name_stem is not null
            or former_stem_of_a.former_name_stem is not null) as is_former_short_name
    from candidate_pairs
    inner join records as a
        on candidate_pairs.record_key_a = a.record_key
    inner join records as b
        on candidate_pairs.record_key_b = b.record_key
    left join records_placed as placed_a
        on candidate_pairs.record_key_a = placed_a.record_key
    left join records_placed as placed_b
        on candidate_pairs.record_key_b = placed_b.record_key
    left join registry_former_cores as former_of_b
        on candidate_pairs.record_key_b = former_of_b.record_key
        and a.name_core = former_of_b.former_name_core
    left join registry_former_cores as former_of_a
        on candidate_pairs.record_key_a = former_of_a.record_key
        and b.name_core = former_of_a.former_name_core
    left join registry_former_stems as former_stem_of_b
        on candidate_pairs.record_key_b = former_stem_of_b.record_key
        and a.is_short_name
        and a.name_core = former_stem_of_b.former_name_stem
    left join registry_former_stems as former_stem_of_a
        on candidate_pairs.record_key_a = former_stem_of_a.record_key
        and b.is_short_name
        and b.name_core = former_stem_of_a.former_name_stem
    {# Two places that conflict are two companies unless a tax identifier says otherwise: no
        name, phone or typo rule links such a pair, and no rule's context counts it (only the
        pairs sharing a tax code feed the trust in codes), so it is not compared at all. These
        are the candidates that grow fastest with the client base (one 字号 + industry word in
        many cities shares a core block; docs/identity.md, "Pairs in two places"). #}
    where not (
        {{ identity_regions_conflict('a.region_key', 'a.region_province',
                                     'b.region_key', 'b.region_province') }}
        and not coalesce(a.tax_code = b.tax_code, false)
        and not coalesce(a.uscc = b.uscc, false)
    )
),

{#- Names that agree enough for two records sharing a tax code to be one company. A record
    delivered without a name does not disagree: its code alone places it. -#}
pairs_with_agreement as (
    select
        pairs_with_records.*,
        (stem_similarity >= thresholds.uscc_name_min_similarity
            or is_short_form or is_former_name or is_former_short_name
            or (is_same_known_region and is_same_industry_word)
            or (is_same_known_region and is_one_short_name)
            or coalesce(core_a, '') = '' or coalesce(core_b, '') = '') as is_name_agreeing
    from pairs_with_records
    cross join thresholds
)

select * from pairs_with_agreement
{%- endmacro %}
