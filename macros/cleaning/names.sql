{#- Company names.
    clean: width folding (full-width ASCII and ideographic space), every bracket form to (),
    traditional to simplified, ASCII upper case, all whitespace removed; NULL when blank.
    split_company_name: branch, legal form and region split off the clean name (see
    docs/standardisation.md); uses the seeds `regions` and `legal_forms` through equality joins
    on fixed-length prefixes / suffixes, so it stays a hash join on a tiny table at any scale. -#}

{#- Lengths (in characters) tried for a leading/bracketed region and a legal-form suffix. The
    seeds' own tests (seeds/cleaning/_seeds.yml) keep every entry inside these ranges. -#}
{% macro _region_lengths() %}{{ return([8, 7, 6, 5, 4, 3, 2]) }}{% endmacro %}
{% macro _legal_form_lengths() %}{{ return([7, 6, 5, 4, 3, 2]) }}{% endmacro %}

{#- Suffix that marks a branch: the parent's name ends in a legal form (or 集团/银行), then comes
    the branch's own name ending in one of these words. -#}
{% macro _branch_pattern() -%}
^(.+(公司|企业|集团|银行|[)]))(.{2,}(分公司|分行|支行|办事处|分厂|营业部|分部|分所|分店))$
{%- endmacro %}

{#- A bracketed region whose opening bracket was typed wrong (浩宇興洛阳)商贸有限公司 for
    浩宇(洛阳)商贸有限公司): a closing bracket with none before or after it, after one character
    (the wrong one) and a two-character region. Group 1 is the text to drop (興洛阳)), group 2
    the region; split_company_name drops the text only when the region is one the seed knows,
    so a name with a stray bracket after anything else is split as before. -#}
{% macro _lone_bracket_pattern() -%}
^[^()]+?([^()]([^()]{2})[)])[^()]*$
{%- endmacro %}

{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- translate() rebuilds its map on every row (cost grows with the map's length), so each map
    is guarded by a regex character class (compiled once, cheap) and the traditional map is
    tiered by frequency: a row pays only for the smallest map that covers its characters
    (see tiering/tools/gen_char_maps.py). `expr` is repeated: pass a column or a small
    expression. -#}
{% macro fold_width(expr) -%}
    case
        when {{ regex_matches(expr, '[' ~ char_map_width_class() ~ ']') }}
            then {{ translate_chars(expr, char_map_width_from(), char_map_width_to()) }}
        else {{ expr }}
    end
{%- endmacro %}

{% macro to_simplified(expr) -%}
    case
        when {{ regex_matches(expr, '[' ~ char_map_t2s_3_new() ~ ']') }}
            then {{ translate_chars(expr, char_map_t2s_3_from(), char_map_t2s_3_to()) }}
        when {{ regex_matches(expr, '[' ~ char_map_t2s_2_new() ~ ']') }}
            then {{ translate_chars(expr, char_map_t2s_2_from(), char_map_t2s_2_to()) }}
        when {{ regex_matches(expr, '[' ~ char_map_t2s_1_new() ~ ']') }}
            then {{ translate_chars(expr, char_map_t2s_1_from(), char_map_t2s_1_to()) }}
        else {{ expr }}
    end
{%- endmacro %}

{#- 傢俱 (家具 typed in traditional characters) is the one phrase of OpenCC's TSPhrases whose
    character-by-character conversion differs (家俱) in the company names of both generators
    (about 120,000 names converted to traditional and back); it is folded after the map. -#}
{% macro clean_company_name(expr) -%}
    nullif(replace({{ regex_replace_all('upper(' ~ to_simplified(fold_width(expr)) ~ ')', '\s+', '') }},
        '家俱', '家具'), '')
{%- endmacro %}

{#- A person's name or other free text: width folding, traditional to simplified, trimmed. -#}
{% macro clean_free_text(expr) -%}
    nullif(trim({{ to_simplified(fold_width(expr)) }}), '')
{%- endmacro %}

{#- select <relation>.*, <prefix>_branch, _legal_form, _region, _core (plus helper columns
    starting with __ that the calling model leaves out of its final column list).
    Needs the column <prefix>_clean in relation. `relation` may be a subquery with an alias
    (`(select ...) as names`); then pass the alias. -#}
{% macro split_company_name(relation, prefix, alias=none) -%}
    {%- set clean = prefix ~ '_clean' -%}
    {%- set rest = '__' ~ prefix ~ '_rest' -%}
    {%- set bracket = '__' ~ prefix ~ '_bracket' -%}
    {%- set lone_text = '__' ~ prefix ~ '_lone_bracket_text' -%}
    {%- set legal_form -%}
        coalesce(
            {%- for n in _legal_form_lengths() %}
            {{ prefix }}_lf{{ n }}.legal_form{% if not loop.last %},{% endif %}
            {%- endfor %}
        )
    {%- endset -%}
    {%- set leading_name -%}
        coalesce(
            {%- for n in _region_lengths() %}
            {{ prefix }}_lr{{ n }}.region_name{% if not loop.last %},{% endif %}
            {%- endfor %}
        )
    {%- endset -%}
    {%- set leading_region -%}
        coalesce(
            {%- for n in _region_lengths() %}
            {{ prefix }}_lr{{ n }}.region{% if not loop.last %},{% endif %}
            {%- endfor %}
        )
    {%- endset -%}
    {%- set without_legal_form -%}
        case
            when {{ legal_form }} is null then named.{{ rest }}
            else left(named.{{ rest }},
                      {{ char_length('named.' ~ rest) }} - {{ char_length(legal_form) }})
        end
    {%- endset -%}
    {%- set without_leading_region -%}
        case
            when {{ leading_name }} is null then {{ without_legal_form }}
            else substr({{ without_legal_form }}, {{ char_length(leading_name) }} + 1)
        end
    {%- endset -%}
    {%- set without_regions -%}
        case
            when {{ prefix }}_br.region_name is null then {{ without_leading_region }}
            when named.{{ lone_text }} is not null
                then replace({{ without_leading_region }}, named.{{ lone_text }}, '')
            else replace({{ without_leading_region }},
                         {{ dbt.concat(["'('", prefix ~ '_br.region_name', "')'"]) }}, '')
        end
    {%- endset -%}
    select
        named.*,
        named.__{{ prefix }}_branch as {{ prefix }}_branch,
        {{ legal_form }} as {{ prefix }}_legal_form,
        coalesce({{ leading_region }}, {{ prefix }}_br.region) as {{ prefix }}_region,
        nullif(replace({{ without_regions }}, '()', ''), '') as {{ prefix }}_core
    from (
        select
            {{ alias or relation }}.*,
            {{ regex_extract(clean, _branch_pattern(), 3) }} as __{{ prefix }}_branch,
            coalesce({{ regex_extract(clean, _branch_pattern(), 1) }}, {{ clean }}) as {{ rest }},
            coalesce(
                {{ regex_extract(clean, '[(]([^()]+)[)]', 1) }},
                {{ regex_extract(clean, _lone_bracket_pattern(), 2) }}
            ) as {{ bracket }},
            {{ regex_extract(clean, _lone_bracket_pattern(), 1) }} as {{ lone_text }}
        from {{ relation }}
    ) as named
    {%- for n in _legal_form_lengths() %}
    left join (
        select legal_form from {{ ref('legal_forms') }}
        where {{ char_length('legal_form') }} = {{ n }}
    ) as {{ prefix }}_lf{{ n }}
        on {{ prefix }}_lf{{ n }}.legal_form = right(named.{{ rest }}, {{ n }})
    {%- endfor %}
    {%- for n in _region_lengths() %}
    left join (
        select region_name, region from {{ ref('regions') }}
        where {{ char_length('region_name') }} = {{ n }} and not is_bracket_only
    ) as {{ prefix }}_lr{{ n }}
        on {{ prefix }}_lr{{ n }}.region_name = left(named.{{ clean }}, {{ n }})
    {%- endfor %}
    left join (
        select region_name, region from {{ ref('regions') }}
    ) as {{ prefix }}_br
        on {{ prefix }}_br.region_name = named.{{ bracket }}
{%- endmacro %}

{#- select <relation>.* with <prefix>_clean, _core, _region, _legal_form, _branch of the raw name
    in column <prefix>_raw, each DISTINCT raw name cleaned and split once, then joined back.
    Snapshot entities deliver the same names every month (at 100,000 clients: 1.9M crm rows,
    89k distinct names) and the cleaning is most of staging's cost. A staging model that
    appends a delivery also reuses the split of every name its newest stored delivery already
    carries (staging_stored_newest_delivery: 90% of a month's names at 100,000 clients), so
    only names new this month are cleaned. The split is a function of the raw name and the
    seeds alone, and the stored rows were built by the same code and seeds (the append path's
    condition), so the result is the same as cleaning every name. -#}
{% macro split_company_names_once(relation, prefix) -%}
    {%- set raw = prefix ~ '_raw' -%}
    {%- set split_columns = [raw, prefix ~ '_clean', prefix ~ '_core', prefix ~ '_region',
                             prefix ~ '_legal_form', prefix ~ '_branch'] -%}
    {%- set stored = staging_stored_newest_delivery() -%}
    {%- set distinct_names -%}
        (select
            distinct_names.{{ raw }},
            {{ clean_company_name('distinct_names.' ~ raw) }} as {{ prefix }}_clean
        from (
            select distinct {{ raw }} from {{ relation }} where {{ raw }} is not null
            {%- if stored is not none %}
            except
            select {{ raw }} from {{ stored }} as stored_names
            {%- endif %}
        ) as distinct_names) as names_cleaned
    {%- endset -%}
    select
        {{ relation }}.*,
        names_split.{{ prefix }}_clean,
        names_split.{{ prefix }}_core,
        names_split.{{ prefix }}_region,
        names_split.{{ prefix }}_legal_form,
        names_split.{{ prefix }}_branch
    from {{ relation }}
    left join (
        select {{ split_columns | join(', ') }}
        from ({{ split_company_name(distinct_names, prefix, alias='names_cleaned') }})
            as names_computed
        {%- if stored is not none %}
        union all
        select distinct {{ split_columns | join(', ') }}
        from {{ stored }} as stored_names
        where {{ raw }} in (select {{ raw }} from {{ relation }})
        {%- endif %}
    ) as names_split
        on {{ relation }}.{{ raw }} = names_split.{{ raw }}
{%- endmacro %}

{#- Province / city as delivered (北京 or 北京市, 广西壮族自治区) to the short form (北京, 广西). -#}
{% macro clean_region(expr) -%}
    nullif({{ regex_replace_all(regex_replace_all(to_simplified(fold_width(expr)), '\s+', ''),
        '(壮族自治区|回族自治区|维吾尔自治区|特别行政区|自治区|省|市)$', '') }}, '')
{%- endmacro %}

{#- Coded value as delivered: folded, trimmed, NULL when blank. -#}
{% macro clean_code(expr) -%}
    nullif(trim({{ fold_width(expr) }}), '')
{%- endmacro %}

{#- An optional label whose absence some exporters spell out (listed_board: 无, 未上市, N/A, -):
    NULL for those words, else clean_code. -#}
{% macro clean_optional_label(expr) -%}
    case
        when upper({{ clean_code(expr) }}) in ('无', '否', '未上市', '非上市', '不适用', 'N', 'NO',
                                               'NONE', 'NULL', 'NAN', 'N/A', 'NA', '-', '--', '—', '/')
            then null
        else {{ clean_code(expr) }}
    end
{%- endmacro %}
