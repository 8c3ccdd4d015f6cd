{#- One row per candidate pair of records (record_key_a < record_key_b) that share at least one
    blocking key, with the first matching rule, its score and whether it is a match. Rules, in
    order (docs/identity.md):
      uscc          same valid USCC and the names agree (similar stems (字号), short form,
                    former name or its short form, or a rename: same region and industry word,
                    or same region and one of them a bare short name)
      tax_code      same organisation code through a repaired USCC or a legacy tax number, and
                    the names agree
      exact_name    same name core, same region (or both none), same legal-form family (a
                    joint-stock company is not one typed 有限责任公司: identity_legal_kind), no
                    conflicting trusted tax codes (two companies typed alike), and not a record
                    typed with its company's former name that another company now carries
                    (linked by that name only to records carrying its code)
      core_region   same core, compatible regions (one unknown, or a province and its city),
                    compatible legal forms, no tax code contradicting the other name's codes
      former_name   one record's core is a former name of the other (a registry entry), and
                    the name's own records carry no tax code against the entry's (a former
                    name another company took)
      phone         same unshared phone, compatible region, cores equal or one typo apart
                    (neither a bare short name: a group's members share stem and switchboard)
      fuzzy_core    equal-length long cores one character apart in compatible regions, not two
                    different industry words, the side carrying the typo weakly supported (no
                    tax code; a single record or one department's records, at most
                    var identity_typo_max_records of them) and the other at
                    least as well supported, its department (one keeping a record per
                    customer) not holding the other name too, the typo one character from no
                    other name, and a side without region not known (by its exact core) only
                    somewhere else
    A bare short name is never linked here by name (not even to a full name whose core is the
    bare stem): int_identity_short_names_placed places short names with the only client
    carrying their stem. A record that does not say where it is (no region, or only a province) never
    links by name when its core is known in two places (one brand in two cities). A tax code
    conflicts only when it is trusted: a code whose record's name agrees with none of the code's
    other holders, or that was issued in another city than the record's (both: copied from the
    wrong row), is not trusted, unless it is the registry's own.
    Never a match: conflicting regions (same brand in two cities) except by tax code, and
    different cores (parent and subsidiary: a different industry word after a shared stem). 

    The pairs and their comparisons come from int_identity_pairs_compared; with var
    identity_pairs_compared_inline (the unit test on the hard cases) they are computed here from
    its inputs, by the same macro. -#}
-- depends_on: {{ ref('int_identity_block_keys_generated') }}
-- depends_on: {{ ref('stg_external__registry_former_names') }}
-- depends_on: {{ ref('int_identity_industry_words_learned') }}
with

{% if var('identity_pairs_compared_inline', false) -%}
pairs_with_agreement as ({{ identity_pairs_compared_sql() }}),
{%- else -%}
pairs_with_agreement as {{ inline_cte() }} (
    select * from {{ ref('int_identity_pairs_compared') }}
),
{%- endif %}

records as {{ inline_cte() }} (select * from {{ ref('int_identity_records_unioned') }}),

thresholds as (select * from {{ ref('identity_thresholds') }}),

match_rules as (select * from {{ ref('identity_match_rules') }}),

{#- A record's tax code is trusted unless its name agrees with none of the code's other holders
    while disagreeing with one (a code copied from the wrong row); the registry's own code is
    always trusted. Only trusted codes block the name rules. -#}
tax_code_holders as (
    select record_key_a as record_key, department_a as department, is_name_agreeing
    from pairs_with_agreement
    where is_same_tax_code
    union all
    select record_key_b as record_key, department_b as department, is_name_agreeing
    from pairs_with_agreement
    where is_same_tax_code
),

{#- A tax code also names where it was issued (records.tax_code_division: the registering
    authority's division, its city). Which city a division stands for is learnt from the
    registry, whose own code and registered name are authoritative: a division at least
    identity_division_min_entries entries carry, at least identity_division_min_agreement of
    them stating one city. The check runs only when the registry shows that codes carry their
    place: over the entries of such divisions (at least identity_division_check_min_entries),
    that share agree with their division's city; deliveries whose codes do not encode it (or
    encode it otherwise) turn it off. -#}
registry_divisions as (
    select
        tax_code_division,
        region_key,
        region_province,
        count(*) as entry_count
    from records
    where department = 'external'
      and tax_code_division is not null
      and region_key is not null
      and region_province is not null
    group by tax_code_division, region_key, region_province
),

division_totals as (
    select
        tax_code_division,
        sum(entry_count) as entry_count,
        max(entry_count) as top_entry_count
    from registry_divisions
    group by tax_code_division
    having sum(entry_count) >= {{ var('identity_division_min_entries') }}
),

division_check as (
    select
        sum(entry_count) as entry_count,
        sum(top_entry_count) as agreeing_count
    from division_totals
),

division_places as (
    select
        registry_divisions.tax_code_division,
        registry_divisions.region_key,
        registry_divisions.region_province
    from registry_divisions
    inner join division_totals
        on registry_divisions.tax_code_division = division_totals.tax_code_division
        and registry_divisions.entry_count = division_totals.top_entry_count
    cross join division_check
    where division_totals.top_entry_count
        >= {{ var('identity_division_min_agreement') }} * division_totals.entry_count
      and division_check.entry_count >= {{ var('identity_division_check_min_entries') }}
      and division_check.agreeing_count
        >= {{ var('identity_division_min_agreement') }} * division_check.entry_count
),

{#- A code issued in a city the record's name (or own city) conflicts with is another company's,
    copied from the wrong row, even where none of that company's records was delivered. -#}
misplaced_tax_codes as (
    select records.record_key
    from records
    inner join division_places
        on records.tax_code_division = division_places.tax_code_division
    where records.department <> 'external'
      and records.region_province is not null
      and {{ identity_regions_conflict(
            'records.region_key', 'records.region_province',
            'division_places.region_key', 'division_places.region_province') }}
),

untrusted_tax_codes as (
    select record_key
    from tax_code_holders
    where department <> 'external'
    group by record_key
    having max(case when is_name_agreeing then 1 else 0 end) = 0
    union
    select record_key from misplaced_tax_codes
),

pairs_with_trust as (
    select
        pairs_with_agreement.*,
        coalesce(
            untrusted_a.record_key is null and untrusted_b.record_key is null
                and tax_code_a <> tax_code_b,
            false
        ) as is_tax_code_conflict,
        case when untrusted_a.record_key is null then tax_code_a end as trusted_tax_code_a,
        case when untrusted_b.record_key is null then tax_code_b end as trusted_tax_code_b
    from pairs_with_agreement
    left join untrusted_tax_codes as untrusted_a
        on pairs_with_agreement.record_key_a = untrusted_a.record_key
    left join untrusted_tax_codes as untrusted_b
        on pairs_with_agreement.record_key_b = untrusted_b.record_key
),

{#- A trusted tax code is established for a name (core in a region) when two of the name's
    records carry it or the registry's own entry does: a registered company of that name. A
    code on a single record may be copied from the wrong row; two established codes mean two
    registered companies typed alike (names differing only in legal form). -#}
name_tax_codes as (
    select
        records.name_core,
        coalesce(records.region_key, '') as region_key,
        records.tax_code,
        count(*) as record_count,
        sum(case when records.department = 'external' then 1 else 0 end) as registry_count
    from records
    left join untrusted_tax_codes as untrusted
        on records.record_key = untrusted.record_key
    where records.tax_code is not null
      and untrusted.record_key is null
    group by records.name_core, coalesce(records.region_key, ''), records.tax_code
),

name_established_codes as (
    select
        name_core,
        region_key,
        count(*) as established_code_count
    from name_tax_codes
    where record_count >= 2 or registry_count > 0
    group by name_core, region_key
),

{#- A record typed with a name that is now another company's: a former name of its company
    (its trusted code ties it, by names that agree, to a record of another name) that another
    registered company of the city carries (the name has an established code, and the record's
    code is not established for it). It links by that name only to records carrying its code:
    exact_name and core_region would join its company to the name's present holder. -#}
code_tied_elsewhere as (
    select record_key_a as record_key
    from pairs_with_trust
    where is_same_tax_code and is_name_agreeing
      and trusted_tax_code_a is not null and core_a <> core_b
    union
    select record_key_b as record_key
    from pairs_with_trust
    where is_same_tax_code and is_name_agreeing
      and trusted_tax_code_b is not null and core_a <> core_b
),

records_with_taken_name as (
    select records.record_key, records.tax_code
    from code_tied_elsewhere
    inner join records
        on code_tied_elsewhere.record_key = records.record_key
    inner join name_established_codes
        on records.name_core = name_established_codes.name_core
        and coalesce(records.region_key, '') = name_established_codes.region_key
    left join name_tax_codes as own_code
        on records.name_core = own_code.name_core
        and coalesce(records.region_key, '') = own_code.region_key
        and records.tax_code = own_code.tax_code
        and (own_code.record_count >= 2 or own_code.registry_count > 0)
    where own_code.tax_code is null
),

{#- How well a (core, region) is supported: a typo is rare, seen in one department's records,
    never the registry's name, and without a trusted tax code of its own; a real name recurs
    across departments or carries a tax code. -#}
{#- Departments that keep one record per customer (var identity_customer_departments; a company
    they hold twice is the exception): when such a department holds both names of a one-typo
    pair, it holds two customers, not a typo of one (among many companies one-character
    neighbours are common: docs/identity.md, rule 7). -#}
{%- set customer_departments = var('identity_customer_departments') %}
core_support as (
    select
        coalesce(records.name_core, '') as name_core,
        coalesce(records.region_key, '') as region_key,
        count(*) as record_count,
        count(distinct records.department) as department_count,
        sum(case when records.department = 'external' then 1 else 0 end) as registry_count,
        {%- for department in customer_departments %}
        sum(case when records.department = '{{ department }}' then 1 else 0 end)
            as {{ department }}_record_count,
        {%- endfor %}
        count(distinct case when untrusted.record_key is null and taken.record_key is null
            then records.tax_code end) as tax_code_count,
        min(case when untrusted.record_key is null and taken.record_key is null
            then records.tax_code end) as tax_code,
        max(case when untrusted.record_key is null and taken.record_key is null
            then records.tax_code end) as max_tax_code
    from records
    left join untrusted_tax_codes as untrusted
        on records.record_key = untrusted.record_key
    {#- a record typed with a name now another company's carries its own company's code #}
    left join records_with_taken_name as taken
        on records.record_key = taken.record_key
    group by coalesce(records.name_core, ''), coalesce(records.region_key, '')
),

{#- A name (core in a region) stands for the registered companies whose trusted tax codes its
    records carry. Two records linked by name must not contradict that: a record whose trusted
    code is none of the other name's codes belongs to another company (a brand in two cities
    typed without its region), and a record without a code cannot pick between two codes one
    name carries (two companies typed alike). -#}
pairs_with_support as (
    select
        pairs_with_trust.*,
        (
            (pairs_with_trust.trusted_tax_code_a is not null
                and support_b.tax_code_count > 0
                and pairs_with_trust.trusted_tax_code_a <> support_b.tax_code
                and pairs_with_trust.trusted_tax_code_a <> support_b.max_tax_code)
            or (pairs_with_trust.trusted_tax_code_b is not null
                and support_a.tax_code_count > 0
                and pairs_with_trust.trusted_tax_code_b <> support_a.tax_code
                and pairs_with_trust.trusted_tax_code_b <> support_a.max_tax_code)
            or (pairs_with_trust.trusted_tax_code_a is null and support_b.tax_code_count > 1)
            or (pairs_with_trust.trusted_tax_code_b is null and support_a.tax_code_count > 1)
        ) as is_name_tax_conflict,
        coalesce(established_a.established_code_count >= 2
                 or established_b.established_code_count >= 2, false) as is_name_shared,
        {#- one side typed with a name now another company's, the other not carrying its code -#}
        coalesce(
            (taken_a.record_key is not null
                and coalesce(pairs_with_trust.tax_code_b, '') <> taken_a.tax_code)
            or (taken_b.record_key is not null
                and coalesce(pairs_with_trust.tax_code_a, '') <> taken_b.tax_code),
            false
        ) as is_taken_name,
        {#- The shared USCC is established for both names (two records or the registry's
            entry each): a company renamed, not a code copied from the wrong row. -#}
        (renamed_a.tax_code is not null and renamed_b.tax_code is not null)
            as is_uscc_established_for_both,
        {#- Both names carry trusted tax codes of their own: two registered companies, so a
            one-typo pair of them is not even left to a steward (fuzzy_unconfirmed). -#}
        (support_a.tax_code_count > 0 and support_b.tax_code_count > 0) as is_both_names_coded,
        {#- The side that may carry a typo: weakly supported (fuzzy_pairs below), typed alike
            on few records (a name on more is a company's name, not a slip), and not in a
            customer department that holds the other name too (two of its customers). -#}
        (
            support_a.tax_code_count = 0 and support_a.registry_count = 0
            and (support_a.record_count = 1 or support_a.department_count = 1)
            and support_a.record_count <= {{ var('identity_typo_max_records') }}
            and (support_b.record_count >= support_a.record_count
                 or support_b.tax_code_count > 0 or support_b.department_count > 1)
            {%- for department in customer_departments %}
            and not (pairs_with_trust.department_a = '{{ department }}'
                     and support_b.{{ department }}_record_count > 0)
            {%- endfor %}
        ) as is_typo_side_a,
        (
            support_b.tax_code_count = 0 and support_b.registry_count = 0
            and (support_b.record_count = 1 or support_b.department_count = 1)
            and support_b.record_count <= {{ var('identity_typo_max_records') }}
            and (support_a.record_count >= support_b.record_count
                 or support_a.tax_code_count > 0 or support_a.department_count > 1)
            {%- for department in customer_departments %}
            and not (pairs_with_trust.department_b = '{{ department }}'
                     and support_a.{{ department }}_record_count > 0)
            {%- endfor %}
        ) as is_typo_side_b
    from pairs_with_trust
    {#- a record delivered without a name has the core '' here (it must keep its pairs) #}
    inner join core_support as support_a
        on coalesce(pairs_with_trust.core_a, '') = support_a.name_core
        and pairs_with_trust.region_key_a = support_a.region_key
    inner join core_support as support_b
        on coalesce(pairs_with_trust.core_b, '') = support_b.name_core
        and pairs_with_trust.region_key_b = support_b.region_key
    left join name_established_codes as established_a
        on pairs_with_trust.core_a = established_a.name_core
        and pairs_with_trust.region_key_a = established_a.region_key
    left join name_established_codes as established_b
        on pairs_with_trust.core_b = established_b.name_core
        and pairs_with_trust.region_key_b = established_b.region_key
    left join records_with_taken_name as taken_a
        on pairs_with_trust.record_key_a = taken_a.record_key
    left join records_with_taken_name as taken_b
        on pairs_with_trust.record_key_b = taken_b.record_key
    left join name_tax_codes as renamed_a
        on pairs_with_trust.is_same_uscc
        and pairs_with_trust.core_a = renamed_a.name_core
        and pairs_with_trust.region_key_a = renamed_a.region_key
        and pairs_with_trust.trusted_tax_code_a = renamed_a.tax_code
        and (renamed_a.record_count >= 2 or renamed_a.registry_count > 0)
    left join name_tax_codes as renamed_b
        on pairs_with_trust.is_same_uscc
        and pairs_with_trust.core_b = renamed_b.name_core
        and pairs_with_trust.region_key_b = renamed_b.region_key
        and pairs_with_trust.trusted_tax_code_b = renamed_b.tax_code
        and (renamed_b.record_count >= 2 or renamed_b.registry_count > 0)
),

{#- One wrong character: equal-length long cores one substitution apart in compatible regions
    (the same, or one unknown), the typo on a weakly supported side that has no other such
    neighbour (a typo one character from two real names, 黄华 between 黄河 and 裕华, belongs to
    neither; nor does a name without region one character from names in two cities). -#}
fuzzy_pairs as (
    select
        pairs_with_support.record_key_a,
        pairs_with_support.record_key_b,
        pairs_with_support.core_a,
        pairs_with_support.core_b,
        pairs_with_support.region_key_a,
        pairs_with_support.region_key_b,
        pairs_with_support.is_typo_side_a,
        pairs_with_support.is_typo_side_b,
        pairs_with_support.is_both_names_coded
    from pairs_with_support
    cross join thresholds
    where pairs_with_support.is_same_length
      and not pairs_with_support.is_region_conflict
      and not pairs_with_support.is_legal_form_conflict
      and not pairs_with_support.is_tax_code_conflict
      and not pairs_with_support.is_industry_conflict
      and not pairs_with_support.is_both_short_names
      and not pairs_with_support.is_same_core
      and (
          pairs_with_support.shorter_core_length >= thresholds.fuzzy_min_core_length
          {#- a short core: a typo in a short 字号, told apart from another 字号 of the city
              only by the same region and the same known industry word on both sides #}
          or (pairs_with_support.shorter_core_length >= thresholds.fuzzy_min_located_core_length
              and pairs_with_support.region_key_a = pairs_with_support.region_key_b
              and pairs_with_support.region_key_a <> ''
              and pairs_with_support.is_same_known_industry_word)
      )
      and pairs_with_support.core_edit_distance = 1
),

fuzzy_candidates as (
    select *
    from fuzzy_pairs
    where is_typo_side_a or is_typo_side_b
),

{#- A name without region whose exact core is known (its records that state a region) only in
    places conflicting with the other side's region is that company's name, typed without its
    city: not a one-typo neighbour here (赣江万象钢构 known in 宜宾 is no typo of 无锡皖江万象钢构).
    Such a pair still counts as a neighbour (the typo stays ambiguous) but is never accepted. -#}
located_places as (
    select distinct name_core, region_key, region_province
    from records
    where name_core is not null
      and region_key is not null
),

fuzzy_known_elsewhere as (
    select fuzzy_pairs.record_key_a, fuzzy_pairs.record_key_b
    from fuzzy_pairs
    inner join records as located
        on located.record_key = case when fuzzy_pairs.region_key_a = ''
            then fuzzy_pairs.record_key_b else fuzzy_pairs.record_key_a end
    inner join located_places
        on located_places.name_core = case when fuzzy_pairs.region_key_a = ''
            then fuzzy_pairs.core_a else fuzzy_pairs.core_b end
    where (fuzzy_pairs.region_key_a = '') <> (fuzzy_pairs.region_key_b = '')
    group by fuzzy_pairs.record_key_a, fuzzy_pairs.record_key_b
    having max(case when {{ identity_regions_conflict(
        'located_places.region_key', 'located_places.region_province',
        'located.region_key', 'located.region_province') }} then 0 else 1 end) = 0
),

{#- A neighbour is a name in a region: one core in two cities is two neighbours. -#}
typo_neighbours as (
    select record_key, count(distinct neighbour_name) as neighbour_count
    from (
        select
            record_key_a as record_key,
            {{ dbt.concat(['core_b', "'|'", 'region_key_b']) }} as neighbour_name
        from fuzzy_candidates
        where is_typo_side_a
        union all
        select
            record_key_b as record_key,
            {{ dbt.concat(['core_a', "'|'", 'region_key_a']) }} as neighbour_name
        from fuzzy_candidates
        where is_typo_side_b
    ) as typo_sides
    group by record_key
),

fuzzy_accepted as (
    select fuzzy_candidates.record_key_a, fuzzy_candidates.record_key_b
    from fuzzy_candidates
    left join typo_neighbours as neighbours_a
        on fuzzy_candidates.record_key_a = neighbours_a.record_key
    left join typo_neighbours as neighbours_b
        on fuzzy_candidates.record_key_b = neighbours_b.record_key
    left join fuzzy_known_elsewhere
        on fuzzy_candidates.record_key_a = fuzzy_known_elsewhere.record_key_a
        and fuzzy_candidates.record_key_b = fuzzy_known_elsewhere.record_key_b
    where fuzzy_known_elsewhere.record_key_a is null
      and ((fuzzy_candidates.is_typo_side_a and neighbours_a.neighbour_count = 1)
           or (fuzzy_candidates.is_typo_side_b and neighbours_b.neighbour_count = 1))
),

{#- One typo apart with nothing in conflict, but not taken for a typo: both names established,
    the typo one character from two names, or the typo's side better supported. Left to a data
    steward (identity_review_queue, reasons 4 and 5), unless both names carry tax codes of their
    own (two registered companies) or the side without region is that company's name typed
    without its city (fuzzy_known_elsewhere). -#}
fuzzy_unconfirmed as (
    select fuzzy_pairs.record_key_a, fuzzy_pairs.record_key_b
    from fuzzy_pairs
    left join fuzzy_accepted
        on fuzzy_pairs.record_key_a = fuzzy_accepted.record_key_a
        and fuzzy_pairs.record_key_b = fuzzy_accepted.record_key_b
    left join fuzzy_known_elsewhere
        on fuzzy_pairs.record_key_a = fuzzy_known_elsewhere.record_key_a
        and fuzzy_pairs.record_key_b = fuzzy_known_elsewhere.record_key_b
    where fuzzy_accepted.record_key_a is null
      and fuzzy_known_elsewhere.record_key_a is null
      and not fuzzy_pairs.is_both_names_coded
),

pairs_ruled as (
    select
        pairs_with_support.*,
        fuzzy_unconfirmed.record_key_a is not null as is_typo_candidate,
        case
            when is_same_uscc and is_name_agreeing
                then 'uscc'
            when is_same_tax_code and is_name_agreeing
                then 'tax_code'
            when is_same_core and is_same_region and not is_legal_form_conflict
                and not is_both_short_names and not is_one_short_name
                and not is_place_ambiguous and not is_name_shared and not is_taken_name
                and not is_tax_code_conflict
                then 'exact_name'
            when is_same_core and not is_region_conflict and not is_legal_form_conflict
                and not is_tax_code_conflict and not is_both_short_names
                and not is_one_short_name and not is_place_ambiguous
                and not is_name_tax_conflict and not is_name_shared and not is_taken_name
                then 'core_region'
            when is_former_name and not is_region_conflict and not is_tax_code_conflict
                and not is_place_ambiguous and not is_name_tax_conflict
                then 'former_name'
            when is_same_phone and not is_region_conflict and not is_tax_code_conflict
                and not is_industry_conflict and not is_legal_form_conflict
                and not is_one_short_name
                and not is_both_short_names
                and is_same_length and core_edit_distance <= 1
                and core_similarity >= thresholds.phone_name_min_similarity
                then 'phone'
            when fuzzy_accepted.record_key_a is not null then 'fuzzy_core'
            when is_same_uscc and is_uscc_established_for_both then 'uscc_rename'
            when is_same_tax_code then 'uscc_name_conflict'
            else 'no_match'
        end as match_rule
    from pairs_with_support
    left join fuzzy_accepted
        on pairs_with_support.record_key_a = fuzzy_accepted.record_key_a
        and pairs_with_support.record_key_b = fuzzy_accepted.record_key_b
    left join fuzzy_unconfirmed
        on pairs_with_support.record_key_a = fuzzy_unconfirmed.record_key_a
        and pairs_with_support.record_key_b = fuzzy_unconfirmed.record_key_b
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
        pairs_ruled.core_similarity,
        pairs_ruled.is_tax_code_conflict,
        {#- no rule linked the pair, which fuzzy_unconfirmed leaves to a data steward; and
            whether neither side could be the typo (both names established), which is far
            less often one company where names are dense (docs/identity.md) -#}
        (pairs_ruled.match_rule = 'no_match' and pairs_ruled.is_typo_candidate)
            as is_typo_unconfirmed,
        (pairs_ruled.match_rule = 'no_match' and pairs_ruled.is_typo_candidate
            and not coalesce(pairs_ruled.is_typo_side_a or pairs_ruled.is_typo_side_b, false))
            as is_typo_both_established,
        {#- what kept a pair of one name (core) from the name rules, for `tiering client --vs` #}
        pairs_ruled.is_name_shared,
        pairs_ruled.is_taken_name,
        coalesce(pairs_ruled.is_name_tax_conflict, false) as is_name_tax_conflict
    from pairs_ruled
    inner join match_rules
        on pairs_ruled.match_rule = match_rules.match_rule
)

select * from pairs_scored
