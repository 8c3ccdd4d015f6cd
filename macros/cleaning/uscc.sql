{#- Unified Social Credit Code (统一社会信用代码), GB 32100-2015.
    18 characters from 0-9 A-H J-N P-R T-U W-Y (no I O S V Z):
      1 registration authority, 2 entity category, 3-8 administrative division (digits),
      9-17 the organisation code (GB 11714: 8 characters + its own check character),
      18 check character: (31 - sum(value(c_i) * 3^(i-1) mod 31) mod 31) mod 31, as a character.
    Legacy tax registration numbers: 15 characters, a 6-digit division code + the 9-character
    organisation code. -#}

{% macro _uscc_alphabet() %}0123456789ABCDEFGHJKLMNPQRTUWXY{% endmacro %}
{% macro _org_code_alphabet() %}0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ{% endmacro %}

{#- Upper case, full-width folded, spaces / dashes / dots removed; NULL when nothing is left. -#}
{% macro clean_uscc(expr) -%}
    nullif({{ regex_replace_all('upper(' ~ fold_width(expr) ~ ')', '[\s._/-]+', '') }}, '')
{%- endmacro %}

{#- Value of the character at 1-based position `pos` in alphabet (0-based; -1 if absent). -#}
{% macro _char_value(expr, pos, alphabet) -%}
    ({{ dbt.position('substr(' ~ expr ~ ', ' ~ pos ~ ', 1)', "'" ~ alphabet ~ "'") }} - 1)
{%- endmacro %}

{#- True when the 18-character code's last character is the GB 32100-2015 check character. -#}
{% macro uscc_check_character_ok(uscc) -%}
    {%- set weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] -%}
    (
        substr({{ uscc }}, 18, 1) = substr(
            '{{ _uscc_alphabet() }}',
            mod(31 - mod(
                {%- for w in weights %}
                {{ _char_value(uscc, loop.index, _uscc_alphabet()) }} * {{ w }}
                {%- if not loop.last %} +{% endif %}
                {%- endfor %}
            , 31), 31) + 1,
            1
        )
    )
{%- endmacro %}

{#- True when the 9-character organisation code starting at `start` passes GB 11714. -#}
{% macro org_code_check_ok(code, start=1) -%}
    {%- set weights = [3, 7, 9, 10, 5, 8, 4, 2] -%}
    (
        substr({{ code }}, {{ start + 8 }}, 1) = substr(
            '0123456789X0',
            mod(11 - mod(
                {%- for w in weights %}
                {{ _char_value(code, start + loop.index0, _org_code_alphabet()) }} * {{ w }}
                {%- if not loop.last %} +{% endif %}
                {%- endfor %}
            , 11), 11) + 1,
            1
        )
    )
{%- endmacro %}

{#- valid / invalid_check / legacy_tax_id / malformed / missing, from a cleaned code. -#}
{% macro uscc_status(uscc) -%}
    case
        when {{ uscc }} is null then 'missing'
        when {{ regex_matches(uscc, '^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$') }}
            then case
                when {{ uscc_check_character_ok(uscc) }} and {{ org_code_check_ok(uscc, 9) }}
                    then 'valid'
                else 'invalid_check'
            end
        when {{ regex_matches(uscc, '^[0-9]{6}[0-9A-Z]{8}[0-9X]$') }} then 'legacy_tax_id'
        else 'malformed'
    end
{%- endmacro %}

{#- The embedded organisation code (GB 11714) of a USCC or a legacy tax id, else NULL. -#}
{% macro uscc_org_code(uscc, status) -%}
    case
        when {{ status }} in ('valid', 'invalid_check') then substr({{ uscc }}, 9, 9)
        when {{ status }} = 'legacy_tax_id' then substr({{ uscc }}, 7, 9)
    end
{%- endmacro %}

{#- The code with the characters at `position` and `position` + 1 swapped (1-based; both
    arguments are SQL expressions). Repairs the contract's transposed pair: see
    int_identity_records_unioned. -#}
{% macro uscc_adjacent_swap(code, position) -%}
    {{ dbt.concat([
        'substr(' ~ code ~ ', 1, ' ~ position ~ ' - 1)',
        'substr(' ~ code ~ ', ' ~ position ~ ' + 1, 1)',
        'substr(' ~ code ~ ', ' ~ position ~ ', 1)',
        'substr(' ~ code ~ ', ' ~ position ~ ' + 2)',
    ]) }}
{%- endmacro %}
