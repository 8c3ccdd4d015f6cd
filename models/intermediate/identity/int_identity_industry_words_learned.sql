{#- One row per industry word (行业用语) matching splits names with: the words of seed
    identity_industry_words, and the words learnt from the names delivered. A name is
    region + 字号 + industry word + legal form; the industry words come from a small vocabulary
    that many 字号 share, so a suffix of the full names' cores that follows many different
    stems is an industry word, whatever vocabulary the deliveries use (食品, 陶瓷, 冷链物流 where
    the seed was written for 实业发展, 投资, ...). Learnt, over the distinct cores of full names
    (names with a legal form, registry former names included), for each suffix of 2 to 6
    characters that leaves a stem of at least 2:
      - it follows at least var identity_industry_word_min_stems distinct stems, and at least
        var identity_industry_word_min_share of all distinct cores (a share, so the bar grows
        with the data: the tail of a 字号 recurs more in more names, an industry word in
        proportion);
      - it is not the chance continuation of a shorter word: it follows at least
        var identity_industry_word_min_tail_ratio as many stems as the suffix one character
        shorter (华科技 after a few stems ending in 华 is not a word beside 科技; 网络科技 is,
        as often as 络科技).
    The longest word a core ends with wins (identity_industry_word), so a learnt fragment such
    as 络科技 never splits a core that 网络科技 splits. -#}
{%- set name_sources = [
    ('stg_crm__clients', 'client_name'),
    ('stg_finance__customers', 'customer_name'),
    ('stg_risk__credit_profiles', 'client_name'),
    ('stg_projects__participations', 'partner_name'),
    ('stg_external__registry', 'registered_name'),
] %}
with

{%- for model, name in name_sources %}

{{ model }} as (select * from {{ ref(model) }}),
{%- endfor %}

former_names as (select * from {{ ref('stg_external__registry_former_names') }}),

seed_words as (select * from {{ ref('identity_industry_words') }}),

full_name_cores as (
    {%- for model, name in name_sources %}
    select distinct {{ identity_core_key(name ~ '_core') }} as name_core
    from {{ model }}
    where is_latest_version
      and {{ name }}_legal_form is not null
      and {{ name }}_core is not null
    union
    {%- endfor %}
    select distinct {{ identity_core_key('former_name_core') }} as name_core
    from former_names
    where former_name_legal_form is not null
      and former_name_core is not null
),

word_lengths as (
    {%- for n in identity_industry_word_lengths() %}
    select {{ n }} as word_length{{ ' union all' if not loop.last }}
    {%- endfor %}
),

core_suffixes as (
    select distinct
        substring(full_name_cores.name_core,
                  length(full_name_cores.name_core) - word_lengths.word_length + 1,
                  word_lengths.word_length) as industry_word,
        substring(full_name_cores.name_core, 1,
                  length(full_name_cores.name_core) - word_lengths.word_length) as stem
    from full_name_cores
    cross join word_lengths
    where length(full_name_cores.name_core) - word_lengths.word_length >= 2
),

suffix_stems as (
    select industry_word, count(*) as stem_count
    from core_suffixes
    group by industry_word
),

core_total as (
    select count(*) as core_count
    from full_name_cores
),

learned_words as (
    select
        suffix_stems.industry_word,
        suffix_stems.stem_count
    from suffix_stems
    left join suffix_stems as shorter
        on length(suffix_stems.industry_word) > 2
        and shorter.industry_word = substring(suffix_stems.industry_word, 2,
                                              length(suffix_stems.industry_word) - 1)
    cross join core_total
    where suffix_stems.stem_count >= {{ var('identity_industry_word_min_stems', 5) }}
      and suffix_stems.stem_count
          >= {{ var('identity_industry_word_min_share', 0.005) }} * core_total.core_count
      and (shorter.industry_word is null
           or suffix_stems.stem_count
              >= {{ var('identity_industry_word_min_tail_ratio', 0.5) }} * shorter.stem_count)
),

words as (
    select
        seed_words.industry_word,
        'seed' as word_source,
        learned_words.stem_count
    from seed_words
    left join learned_words
        on seed_words.industry_word = learned_words.industry_word
    union all
    select
        learned_words.industry_word,
        'learned' as word_source,
        learned_words.stem_count
    from learned_words
    left join seed_words
        on learned_words.industry_word = seed_words.industry_word
    where seed_words.industry_word is null
)

select * from words
