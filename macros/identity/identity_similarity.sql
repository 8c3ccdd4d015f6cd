{#- String similarity for identity resolution, dispatched per engine.

    identity_edit_distance(a, b): Levenshtein distance in characters (both DuckDB and Spark
    call it `levenshtein`; other engines add an implementation named <adapter>__identity_edit_distance).
    identity_name_similarity(a, b): 1 - distance / longer length, in [0, 1]; NULL when either is NULL.
-#}
{% macro identity_edit_distance(a, b) -%}
    {{ return(adapter.dispatch('identity_edit_distance', 'tiering')(a, b)) }}
{%- endmacro %}

{% macro default__identity_edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro duckdb__identity_edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro spark__identity_edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro identity_name_similarity(a, b) -%}
    (1.0 - 1.0 * {{ identity_edit_distance(a, b) }}
        / greatest(length({{ a }}), length({{ b }}), 1))
{%- endmacro %}

{#- True when one string starts with the other (short names). Portable: substring + length. -#}
{% macro identity_is_prefix(short, long) -%}
    (substring({{ long }}, 1, length({{ short }})) = {{ short }})
{%- endmacro %}

{#- The stable client key of a cluster: 'C' + the first 12 hex digits of the hash of its anchor. -#}
{% macro identity_client_key(anchor_expression) -%}
    {{ dbt.concat(["'C'", "substring(" ~ dbt.hash(anchor_expression) ~ ", 1, 12)"]) }}
{%- endmacro %}

{#- Family of a legal form. Departments type 有限公司 / 有限责任公司 interchangeably and drop
    股份 / 集团 (…股份有限公司 entered as …有限公司), so these are one family: within it only the
    company type spelled out tells two companies apart (identity_legal_kind). Other forms
    (合伙企业, 分公司 ...) keep their own family. -#}
{% macro identity_legal_family(legal_form) -%}
    case
        when {{ legal_form }} in ('有限公司', '有限责任公司', '股份有限公司', '集团有限公司',
                                  '集团股份有限公司', '责任有限公司')
            then '有限公司'
        else {{ legal_form }}
    end
{%- endmacro %}

{#- Which of the two company types of the Company Law a legal form states outright: a
    joint-stock company (股份有限公司, 集团股份有限公司) or a limited-liability one spelled out
    (有限责任公司). Departments drop 股份 (…有限公司), but do not spell a joint-stock company as
    有限责任公司: the two kinds are two companies. NULL for 有限公司 and every other form. -#}
{% macro identity_legal_kind(legal_form) -%}
    case
        when {{ legal_form }} like '%股份有限公司' then 'joint_stock'
        when {{ legal_form }} like '%有限责任公司' or {{ legal_form }} like '%责任有限公司'
            then 'limited_liability'
    end
{%- endmacro %}

{#- The core as matching uses it. 集团 and 控股 say how the company is organised (a group, a
    holding), not its trade, and people drop them as they drop 股份 (…物流集团有限公司 is also
    entered as …物流有限公司, 粤星控股集团有限公司 as 粤星集团有限公司 or 粤星有限公司), so a
    trailing 集团, then a trailing 控股, is dropped whenever a 字号 of at least two characters
    remains. Brackets staging
    left in the core hold no region the seed knows (a region typed wrong, 兆丰禾丰(恒津)酒业):
    they are not part of the 字号 and are dropped. -#}
{% macro identity_core_key(core) -%}
    {%- set unbracketed = regex_replace_all(core, '[(][^()]*[)]', '') -%}
    coalesce(
        {{ regex_extract(unbracketed, '^(.{2,}?)(控股)?(集团)?$', 1) }},
        nullif({{ unbracketed }}, '')
    )
{%- endmacro %}

{#- Industry word (行业用语) a name core ends with: the longest word of the seed
    identity_industry_words that the core ends with (and is longer than). Two parts, so that it
    stays one equality join per word length on a tiny table:
      select ..., {{ identity_industry_word(core, alias) }} as industry_word
      from relation {{ identity_industry_word_joins(words_relation, core, alias) }}
    Word lengths come from identity_industry_word_lengths (the seed's test keeps words inside). -#}
{% macro identity_industry_word_lengths() %}{{ return([6, 5, 4, 3, 2]) }}{% endmacro %}

{% macro identity_industry_word(core, alias) -%}
    coalesce(
        {%- for n in identity_industry_word_lengths() %}
        {{ alias }}_{{ n }}.industry_word{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro identity_industry_word_joins(words_relation, core, alias) -%}
    {%- for n in identity_industry_word_lengths() %}
    left join {{ words_relation }} as {{ alias }}_{{ n }}
        on length({{ alias }}_{{ n }}.industry_word) = {{ n }}
        and length({{ core }}) > {{ n }}
        and substring({{ core }}, length({{ core }}) - {{ n - 1 }}, {{ n }})
            = {{ alias }}_{{ n }}.industry_word
    {%- endfor %}
{%- endmacro %}

{#- Two regions conflict when both are known, differ, and neither is the province the other lies
    in (广东 and 深圳 agree; 深圳 and 广州 do not; a region the seed does not know agrees only with
    itself). `*_province` is the region's province from seed `regions` (NULL when unknown). -#}
{% macro identity_regions_conflict(region_a, province_a, region_b, province_b) -%}
    coalesce(
        {{ region_a }} <> {{ region_b }}
        and not coalesce({{ region_a }} = {{ province_b }}, false)
        and not coalesce({{ region_b }} = {{ province_a }}, false),
        false
    )
{%- endmacro %}
