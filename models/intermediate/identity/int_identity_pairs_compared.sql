{#- One row per candidate pair of records (record_key_a < record_key_b) that share at least one
    blocking key, with everything the match rules compare: both records' departments, tax codes,
    name cores, regions and flags (same USCC / tax code / core / phone / industry word, short
    form, former name, region or legal-form conflict, a record placed ambiguously), the name
    similarities and edit distance, and whether the names agree enough for a shared tax code
    (is_name_agreeing). int_identity_pairs_scored applies the rules (docs/identity.md).

    A table of its own, not a CTE of the scoring: at 1M clients (11.3M candidate pairs) the
    comparison and the rules in one statement held the records' join tables and the rules' own
    joins at once and ran out of a 10GB DuckDB memory limit (145 s with 12GB); in two statements
    they take 26 s + 10 s and 6.6 GB (docs/benchmarks.md, "Pipeline at scale"). -#}
{{ identity_pairs_compared_sql() }}
