{#- One row per record per blocking key: the records that share a (block_type, block_value)
    are the only ones compared, so matching work grows with block sizes, not with the square of
    the record count. Oversized blocks (> max_block_size records) are dropped: a value that
    common identifies nobody. -#}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

thresholds as (select * from {{ ref('identity_thresholds') }}),

uscc_keys as (
    select record_key, 'uscc' as block_type, uscc as block_value
    from records
    where uscc is not null
),

core_keys as (
    select record_key, 'core' as block_type, name_core as block_value
    from records
    where name_core is not null
),

{#- A registry entry also answers to its former names (renamed companies). -#}
former_name_keys as (
    select
        {{ dbt.concat(["'external|registry|'", 'former_names.uscc']) }} as record_key,
        'core' as block_type,
        {{ identity_core_key('former_names.former_name_core') }} as block_value
    from former_names
    where former_names.former_name_core is not null
),

{#- A phone seen on records with different strong identities is a shared switchboard (a group's
    parent and subsidiaries): two valid USCCs, two recognised industry words (same stem,
    different business), or two stems that are neither equal, a short form of each other, nor
    one character apart. -#}
phone_identities as (
    select
        phone,
        count(distinct uscc) as uscc_count,
        count(distinct name_industry_word) as industry_word_count,
        count(distinct name_stem) as stem_count,
        min(name_stem) as min_stem,
        max(name_stem) as max_stem
    from records
    where phone is not null
    group by phone
),

unshared_phones as (
    select phone
    from phone_identities
    where uscc_count <= 1
      and industry_word_count <= 1
      and (
          stem_count <= 1
          or (
              stem_count = 2
              and (
                  {{ identity_is_prefix('min_stem', 'max_stem') }}
                  or {{ identity_edit_distance('min_stem', 'max_stem') }} <= 1
              )
          )
      )
),

phone_keys as (
    select records.record_key, 'phone' as block_type, records.phone as block_value
    from records
    inner join unshared_phones
        on records.phone = unshared_phones.phone
),

{#- One wrong character: two equal-length cores at edit distance one agree on their first half
    or on their second half, so block on each half (with region and length). -#}
long_cores as (
    select
        records.record_key,
        records.name_core,
        records.name_region,
        length(records.name_core) as core_length,
        cast(floor(length(records.name_core) / 2) as integer) as half_length
    from records
    cross join thresholds
    where records.name_region is not null
      and length(records.name_core) >= thresholds.fuzzy_min_core_length
),

edit_keys as (
    select
        record_key,
        'edit_head' as block_type,
        {{ dbt.concat(['name_region', "'|'", 'cast(core_length as ' ~ dbt.type_string() ~ ')',
                       "'|'", 'substring(name_core, 1, half_length)']) }} as block_value
    from long_cores
    union all
    select
        record_key,
        'edit_tail' as block_type,
        {{ dbt.concat(['name_region', "'|'", 'cast(core_length as ' ~ dbt.type_string() ~ ')',
                       "'|'", 'substring(name_core, half_length + 1, core_length)']) }}
            as block_value
    from long_cores
),

{#- Short names: a bare stem (中鼎经纬) meets the full names with that stem, but only when the
    stem is unambiguous: one full name core among the records carrying it, in one region (a
    group's parent and subsidiaries, or one brand in two cities, make it ambiguous) -- block
    `stem`. A short name whose record states its city (CRM) is also compared within that
    city: block `stem_region` (stem|region, region from the name, else the record's city). -#}
stem_records as (
    select
        record_key,
        name_stem,
        name_core,
        is_short_name,
        coalesce(name_region, city) as region_key
    from records
    cross join thresholds
    where name_stem is not null
      and length(name_stem) >= thresholds.short_name_min_length
      and (is_short_name or name_industry_word is not null)
),

stem_identities as (
    select
        name_stem,
        count(distinct name_core) as core_count,
        count(distinct region_key) as region_count,
        sum(case when is_short_name then 1 else 0 end) as short_name_count
    from stem_records
    group by name_stem
),

stem_keys as (
    select stem_records.record_key, 'stem' as block_type, stem_records.name_stem as block_value
    from stem_records
    inner join stem_identities
        on stem_records.name_stem = stem_identities.name_stem
    where stem_identities.short_name_count > 0
      and stem_identities.core_count = 2
      and stem_identities.region_count <= 1
),

stem_region_identities as (
    select
        name_stem,
        region_key,
        count(distinct case when not is_short_name then name_core end) as full_core_count,
        sum(case when is_short_name then 1 else 0 end) as short_name_count
    from stem_records
    where region_key is not null
    group by name_stem, region_key
),

stem_region_keys as (
    select
        stem_records.record_key,
        'stem_region' as block_type,
        {{ dbt.concat(['stem_records.name_stem', "'|'", 'stem_records.region_key']) }}
            as block_value
    from stem_records
    inner join stem_region_identities
        on stem_records.name_stem = stem_region_identities.name_stem
        and stem_records.region_key = stem_region_identities.region_key
    where stem_region_identities.short_name_count > 0
      and stem_region_identities.full_core_count = 1
),

all_keys as (
    select * from uscc_keys
    union all
    select * from core_keys
    union all
    select * from former_name_keys
    union all
    select * from phone_keys
    union all
    select * from edit_keys
    union all
    select * from stem_keys
    union all
    select * from stem_region_keys
),

distinct_keys as (
    select distinct record_key, block_type, block_value
    from all_keys
),

block_sizes as (
    select block_type, block_value, count(*) as block_size
    from distinct_keys
    group by block_type, block_value
),

kept_keys as (
    select
        distinct_keys.record_key,
        distinct_keys.block_type,
        distinct_keys.block_value,
        block_sizes.block_size
    from distinct_keys
    inner join block_sizes
        on distinct_keys.block_type = block_sizes.block_type
        and distinct_keys.block_value = block_sizes.block_value
    cross join thresholds
    where block_sizes.block_size between 2 and thresholds.max_block_size
)

select * from kept_keys
