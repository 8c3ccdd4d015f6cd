{#- One row per record per blocking key: the records that share a (block_type, block_value)
    are the only ones compared, so matching work grows with block sizes, not with the square of
    the record count. Oversized blocks (> max_block_size records) are dropped: a value that
    common identifies nobody. -#}
with

records as (select * from {{ ref('int_identity_records_unioned') }}),

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

thresholds as (select * from {{ ref('identity_thresholds') }}),

{#- Same organisation code: a valid USCC, a repaired transposed one, a legacy tax number. -#}
tax_code_keys as (
    select record_key, 'tax_code' as block_type, tax_code as block_value
    from records
    where tax_code is not null
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

{#- A phone seen on records with different identities is a shared switchboard (a group's parent
    and subsidiaries, a fund and its manager), never evidence on its own: two organisation
    codes, two recognised industry words, two legal-form families (有限公司 / 合伙企业), or two
    full names (short names say nothing) whose cores are not one typo apart (equal length, one
    character different). A parent typed without 集团 (粤星) and its
    subsidiary (粤星食品) are two names: the phone is shared. -#}
phone_identities as (
    select
        phone,
        count(distinct tax_code) as tax_code_count,
        count(distinct name_industry_word) as industry_word_count,
        count(distinct name_legal_family) as legal_family_count,
        count(distinct case when not is_short_name then name_core end) as core_count,
        min(case when not is_short_name then name_core end) as min_core,
        max(case when not is_short_name then name_core end) as max_core
    from records
    where phone is not null
    group by phone
),

unshared_phones as (
    select phone
    from phone_identities
    where tax_code_count <= 1
      and industry_word_count <= 1
      and legal_family_count <= 1
      and (
          core_count <= 1
          or (
              core_count = 2
              and length(min_core) = length(max_core)
              and {{ identity_edit_distance('min_core', 'max_core') }} <= 1
          )
      )
),

phone_keys as (
    select records.record_key, 'phone' as block_type, records.phone as block_value
    from records
    inner join unshared_phones
        on records.phone = unshared_phones.phone
),

{#- One wrong character: two equal-length cores one substitution apart share exactly one
    wildcard key (the core with one position replaced by *). Keys are built on distinct
    (core, region) values and kept only where two different cores share them, so the records'
    keys stay few. A record with a region (in its name, else its city) meets the cores of its
    region; a record without one meets every core sharing the key, whatever its region (the
    fuzzy_core rule then asks for a single such neighbour). -#}
long_cores as (
    select distinct records.name_core, records.region_key
    from records
    cross join thresholds
    where length(records.name_core) >= thresholds.fuzzy_min_core_length
        {#- a shorter core meets the cores of its own region only (fuzzy_core then also asks
            for the same region and the same known industry word) #}
        or (length(records.name_core) >= thresholds.fuzzy_min_located_core_length
            and records.region_key is not null)
),

wildcard_positions as (
    {%- for position in range(1, (var('identity_fuzzy_max_core_length', 24) | int) + 1) %}
    select {{ position }} as wildcard_position{{ ' union all' if not loop.last }}
    {%- endfor %}
),

core_wildcards as (
    select
        long_cores.name_core,
        long_cores.region_key,
        {{ dbt.concat([
            'substr(long_cores.name_core, 1, wildcard_positions.wildcard_position - 1)',
            "'*'",
            'substr(long_cores.name_core, wildcard_positions.wildcard_position + 1)',
        ]) }} as wildcard_key
    from long_cores
    cross join wildcard_positions
    where wildcard_positions.wildcard_position <= length(long_cores.name_core)
),

{#- Per region: keys two different cores of the region share (min <> max: more than one
    distinct core, without count(distinct)'s set per group). -#}
regional_wildcards as (
    select region_key, wildcard_key
    from core_wildcards
    where region_key is not null
    group by region_key, wildcard_key
    having min(name_core) <> max(name_core)
),

{#- Across regions: keys a core without region shares with another core. -#}
open_wildcards as (
    select wildcard_key
    from core_wildcards
    group by wildcard_key
    having min(name_core) <> max(name_core)
       and sum(case when region_key is null then 1 else 0 end) > 0
),

typo_keys as (
    select
        records.record_key,
        'typo' as block_type,
        {{ dbt.concat(['regional_wildcards.region_key', "'|'",
                       'regional_wildcards.wildcard_key']) }} as block_value
    from core_wildcards
    inner join regional_wildcards
        on core_wildcards.region_key = regional_wildcards.region_key
        and core_wildcards.wildcard_key = regional_wildcards.wildcard_key
    inner join records
        on core_wildcards.name_core = records.name_core
        and core_wildcards.region_key = records.region_key
    union all
    select
        records.record_key,
        'typo' as block_type,
        {{ dbt.concat(["'*|'", 'open_wildcards.wildcard_key']) }} as block_value
    from core_wildcards
    inner join open_wildcards
        on core_wildcards.wildcard_key = open_wildcards.wildcard_key
    inner join records
        on core_wildcards.name_core = records.name_core
        and coalesce(core_wildcards.region_key, '') = coalesce(records.region_key, '')
),

all_keys as (
    select * from tax_code_keys
    union all
    select * from core_keys
    union all
    select * from former_name_keys
    union all
    select * from phone_keys
    union all
    select * from typo_keys
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
