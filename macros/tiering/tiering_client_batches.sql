{#- Client batches of client_tiers (docs/scaling.md, "Client batches").

    The tier history's stability rule runs over each (client, profile) ordered by period and
    continues from the stored period before the first one built, so its periods cannot be cut
    into batches that re-run one compiled statement (tiering_build_period_batches). Its clients
    can: every window partitions by client, so a statement that builds a hash bucket of the
    clients computes exactly their rows of a statement over all of them.

    tiering_client_batch_count(upstream, after): how many buckets a run splits its clients into,
    ceil(rows to build / var('tiering_tier_rows_per_statement')), at least 1 (0 for the var: one
    statement). Rows to build = rows of `upstream` (one per client and period) in the periods
    after `after` (a date literal or none) up to the as-of date x the weight profiles.

    tiering_client_in_batch(client_key, batches): the predicate of the first statement, bucket 0
    of `batches`; the comment names it so that tiering_build_client_batches can rewrite it into
    the next buckets. With one batch: true.

    tiering_build_client_batches(): the post-hook: buckets 1 .. batches-1, each the model's
    compiled SQL with the bucket changed, appended to the model's table (the first statement has
    already replaced the periods it builds, all clients of them, by bucket 0's rows). -#}
{% macro tiering_client_batch_count(upstream, after=none) -%}
    {%- set rows_per_statement = var('tiering_tier_rows_per_statement') | int -%}
    {%- if not execute or rows_per_statement <= 0 -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set counted = run_query(
        'select count(*) * (select count(*) from ' ~ ref('tiering_weight_profiles') ~ ')'
        ~ ' from ' ~ upstream
        ~ ' where period_date <= ' ~ dynamics_as_of()
        ~ (' and period_date > cast(\'' ~ after ~ '\' as date)' if after else '')
    ).columns[0].values()[0] | int -%}
    {{ return([1, ((counted + rows_per_statement - 1) // rows_per_statement) | int] | max) }}
{%- endmacro %}

{% macro tiering_client_in_batch(client_key, batches) -%}
    {%- if batches > 1 -%}
    {{ tiering_client_bucket(client_key, batches) }} = {{ tiering_client_batch_marker(0, batches) }}
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}

{% macro tiering_client_batch_marker(batch, batches) -%}
    {{ batch }} /* tiering_client_batch of {{ batches }} */
{%- endmacro %}

{#- The bucket (0 .. buckets-1) of a client key: an engine's own hash, the same for one key
    within a run (only that matters: each run builds every bucket). -#}
{% macro tiering_client_bucket(client_key, buckets) -%}
    {{ return(adapter.dispatch('tiering_client_bucket', 'tiering')(client_key, buckets)) }}
{%- endmacro %}

{% macro default__tiering_client_bucket(client_key, buckets) -%}
    (hash({{ client_key }}) % {{ buckets }})
{%- endmacro %}

{% macro spark__tiering_client_bucket(client_key, buckets) -%}
    pmod(hash({{ client_key }}), {{ buckets }})
{%- endmacro %}

{% macro tiering_build_client_batches() -%}
    {%- if execute -%}
        {%- set found = modules.re.search('/\\* tiering_client_batch of (\\d+) \\*/', sql) -%}
        {%- if found -%}
            {%- set batches = found.group(1) | int -%}
            {%- set first = tiering_client_batch_marker(0, batches) -%}
            {%- set columns = adapter.get_columns_in_relation(this)
                | map(attribute='quoted') | join(', ') -%}
            {%- for batch in range(1, batches) -%}
                {%- do log(this.identifier ~ ': client batch ' ~ (batch + 1) ~ ' of ' ~ batches) -%}
                {%- do run_query(
                    'insert into ' ~ this ~ ' select ' ~ columns ~ ' from ('
                    ~ sql.replace(first, tiering_client_batch_marker(batch, batches))
                    ~ ') as client_batch') -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
