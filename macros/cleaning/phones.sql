{#- Phone numbers to one canonical form:
    mobile   13812345678 (11 digits starting 1[3-9]);
    landline 010-87654321: area code (010 and 02x: 3 digits; other 0xxx: 4 digits), a dash and
             the 7-8 digit number. Country code (+86 / 0086 / 86) and an extension (转 / ext / #,
             or a trailing dash group after a full landline) are dropped; after a country code the
             area code may lack its 0 (+86-755-87654321, 0086 21 12345678). NULL when the digits
             fit neither form (e.g. a landline without area code). A field holding several
             numbers (138-1234-5678 / 010-87654321; separated by / ; , | 、 or 或) gives its
             first.
    Two steps so the compiled SQL stays small: phone_digits(raw) in one CTE (digits only, the
    country code and extension removed), canonical_phone(<that column>) in a later one. -#}

{% macro phone_digits(expr) -%}
    {%- set folded = fold_width(expr) -%}
    {%- set first = regex_replace_all(folded, '\s*(/|;|,|[|]|、|或).*$', '') -%}
    {%- set no_marker = regex_replace_all(first, '(转|ext|EXT|分机|#).*$', '') -%}
    {%- set no_extension = 'coalesce(' ~ regex_extract(no_marker,
        '^(.*[0-9]{3,4}[- ][0-9]{7,8})-[0-9]{1,6}$', 1) ~ ', ' ~ no_marker ~ ')' -%}
    {%- set digits = regex_replace_all(no_extension, '[^0-9]', '') -%}
    nullif({{ digits }}, '')
{%- endmacro %}

{#- From the column phone_digits produced: country code stripped (0086..., or 86 followed by a
    mobile or by an area code with or without its leading 0: 86 + 9 to 12 digits; a national
    number never starts with 86), then the canonical mobile / landline form. After a country code
    the area code's leading 0 is usually dropped (+86-10-..., +86-755-..., 0086 21 ...), so a
    number that is not a mobile gets it back. Without a country code only the old habit of
    dropping the 0 of 010 (10 8765 4321) is repaired. -#}
{% macro canonical_phone(digits) -%}
    {%- set has_country_code -%}
        ({{ digits }} like '0086%'
         or ({{ digits }} like '86%' and {{ char_length(digits) }} between 11 and 14))
    {%- endset -%}
    {%- set d -%}
        (case
            when {{ digits }} like '0086%' then substr({{ digits }}, 5)
            when {{ digits }} like '86%' and {{ char_length(digits) }} between 11 and 14
                then substr({{ digits }}, 3)
            else {{ digits }}
        end)
    {%- endset -%}
    {%- set national -%}
        (case
            when {{ has_country_code }} and {{ d }} not like '0%'
                and not {{ regex_matches(d, '^1[3-9][0-9]{9}$') }}
                then {{ dbt.concat(["'0'", d]) }}
            when {{ d }} like '1%' and {{ char_length(d) }} <> 11 then {{ dbt.concat(["'0'", d]) }}
            else {{ d }}
        end)
    {%- endset -%}
    case
        when {{ regex_matches(national, '^1[3-9][0-9]{9}$') }} then {{ national }}
        when {{ regex_matches(national, '^0[12][0-9][0-9]{7,8}$') }}
            then {{ dbt.concat(['substr(' ~ national ~ ', 1, 3)', "'-'",
                                'substr(' ~ national ~ ', 4)']) }}
        when {{ regex_matches(national, '^0[3-9][0-9]{2}[0-9]{7,8}$') }}
            then {{ dbt.concat(['substr(' ~ national ~ ', 1, 4)', "'-'",
                                'substr(' ~ national ~ ', 5)']) }}
    end
{%- endmacro %}
