{#- Numbers, amounts and booleans from delivered text.
    Amounts: thousands separators (1,234,567.89 and full-width ，), spaces, a currency sign or
    word (¥, RMB, CNY, 人民币) and a trailing unit word are removed; the unit comes from the unit
    column or from the text itself (万元 / 亿元 / 元); the result is in 元 as decimal(20, 2).
    Reversals stay negative: -123, −123 (the minus sign U+2212), (123.00) and 123.00- (the
    trailing minus of SAP-style ERP exports) are all -123. -#}

{% macro _number_text(expr) -%}
    {%- set folded = "replace(" ~ fold_width(expr) ~ ", '−', '-')" -%}
    {%- set stripped = regex_replace_all(
        folded, '[\s,元万亿¥￥]|[Rr][Mm][Bb]|[Cc][Nn][Yy]|人民币', '') -%}
    case
        when {{ regex_matches(stripped, '^[(][0-9.]+[)]$') }}
            then {{ dbt.concat(["'-'", "replace(replace(" ~ stripped ~ ", '(', ''), ')', '')"]) }}
        when {{ regex_matches(stripped, '^[0-9.]+-$') }}
            then {{ dbt.concat(["'-'", "replace(" ~ stripped ~ ", '-', '')"]) }}
        else {{ stripped }}
    end
{%- endmacro %}

{% macro parse_number(expr, type='double') -%}
    {{ try_cast_as(_number_text(expr), type) }}
{%- endmacro %}

{% macro parse_integer(expr) -%}
    {{ try_cast_as(try_cast_as(_number_text(expr), 'decimal(20, 4)'), 'bigint') }}
{%- endmacro %}

{#- A year as finance systems label it: 2025, 2025年, 2025年度, FY2025 (full-width too); else
    what parse_integer reads. -#}
{% macro parse_year(expr) -%}
    {%- set folded = fold_width(expr) -%}
    case
        when {{ regex_matches(folded, '^\s*([Ff][Yy]\s*)?[0-9]{4}\s*(年度|年)?\s*$') }}
            then {{ try_cast_as(regex_extract(folded, '[0-9]{4}'), 'bigint') }}
        else {{ parse_integer(expr) }}
    end
{%- endmacro %}

{#- Multiplier to 元 for a unit word; unknown or blank units count as 元. -#}
{% macro unit_multiplier(unit_expr) -%}
    case
        when {{ unit_expr }} like '%亿%' then 100000000
        when {{ unit_expr }} like '%万%' then 10000
        else 1
    end
{%- endmacro %}

{#- Amount in 元. `unit` is a column holding the unit word, or a literal like "'万元'". When the
    text itself names a unit (12.5万元), that wins. -#}
{#- Plain numbers (most amounts) take the short way: a cast, then the unit column. -#}
{% macro parse_amount(expr, unit="'元'") -%}
    {%- set folded = fold_width(expr) -%}
    {%- set plain = try_cast_as(expr, 'decimal(28, 6)') -%}
    case
        when {{ plain }} is not null
            then cast({{ plain }} * {{ unit_multiplier(unit) }} as decimal(20, 2))
        else cast(
            {{ try_cast_as(_number_text(expr), 'decimal(28, 6)') }}
            * case
                when {{ folded }} like '%亿%' or {{ folded }} like '%万%'
                    then {{ unit_multiplier(folded) }}
                else {{ unit_multiplier(unit) }}
            end
            as decimal(20, 2)
        )
    end
{%- endmacro %}

{#- 是/否, Y/N, yes/no, true/false, 1/0 (1.0/0.0), T/F, 有/无, a tick √ ✓ ✔ or cross × ✗ ✘ (how
    spreadsheets mark a box) to boolean; NULL when blank or unknown. -#}
{% macro parse_boolean(expr) -%}
    {%- set text = 'upper(trim(' ~ fold_width(expr) ~ '))' -%}
    case
        when {{ text }} in ('是', 'Y', 'YES', 'TRUE', 'T', '1', '1.0', '有', '对', '√', '✓', '✔')
            then true
        when {{ text }} in ('否', 'N', 'NO', 'FALSE', 'F', '0', '0.0', '无', '不是', '×', '✗', '✘')
            then false
    end
{%- endmacro %}
