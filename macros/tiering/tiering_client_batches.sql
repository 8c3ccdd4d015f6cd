{#- Client batches of client_tiers (docs/scaling.md, "Client batches").

    The tier history's stability rule runs over each (client, profile) ordered by period and
    continues from the stored period before the first one built, so its periods cannot be cut
    into batches that re-run one compiled statement (tiering_build_period_batches). Its clients
    can: every window partitions by client, so a statement that builds a range of the client
    keys computes exactly their rows of a statement over all of them.

    Ranges, not hash buckets: a comparison on client_key reaches the scan of the dimension scores
    under int_tiering_composites_weighted (a view), so a batch computes its own clients'
    composites only; DuckDB keeps a filter on hash(client_key) above the view's cross join with
    the weight profiles, and every batch then computed every client's composites (at 1M clients
    12.8 s for an eighth of them against 3.1 s for a range of a sixteenth).

    tiering_client_batch_bounds(upstream, after): the upper bounds of every batch but the last,
    client keys of `upstream` (one row per client and period) in the periods after `after` (a
    date or none) up to the as-of date: ceil(rows to build / var('tiering_tier_rows_per_statement'))
    batches of about as many clients, rows to build being those rows x the weight profiles. No
    bounds (one statement) when they fit in one, when the var is 0, and at parse time.

    tiering_client_in_batch(client_key, bounds): the first statement's predicate, the keys up to
    the first bound; true without bounds. Its literals carry comments naming them, and the
    statement carries the bounds in a comment, so that tiering_build_client_batches can rewrite
    it into the next batches.

    tiering_build_client_batches(): the post-hook: the batches after the first, each the model's
    compiled SQL with the range moved on, appended to the model's table (the first statement
    has already replaced the periods it builds, every client of them, by the first batch's
    rows). -#}
{% macro tiering_client_batch_bounds(upstream, after=none) -%}
    {%- set rows_per_statement = var('tiering_tier_rows_per_statement') | int -%}
    {%- if not execute or rows_per_statement <= 0 -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set in_scope = 'period_date <= ' ~ run_as_of_date_literal()
        ~ (' and period_date > cast(\'' ~ after ~ '\' as date)' if after else '') -%}
    {%- set counted = run_query(
        'select count(*) * (select count(*) from ' ~ ref('tiering_weight_profiles') ~ '),'
        ~ ' count(distinct client_key) from ' ~ upstream ~ ' where ' ~ in_scope).rows[0] -%}
    {%- set rows, clients = counted[0] | int, counted[1] | int -%}
    {%- set batches = (rows + rows_per_statement - 1) // rows_per_statement -%}
    {%- if batches <= 1 or clients < 2 -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set clients_per_batch = (clients + batches - 1) // batches -%}
    {%- set bounds = run_query(
        'select client_key from ('
        ~ ' select client_key, row_number() over (order by client_key) as key_position'
        ~ ' from (select distinct client_key from ' ~ upstream ~ ' where ' ~ in_scope
        ~ ') as client_keys) as numbered'
        ~ ' where mod(key_position, ' ~ clients_per_batch ~ ') = 0'
        ~ ' and key_position < ' ~ clients
        ~ ' order by client_key').columns[0].values() -%}
    {{ return(bounds | list) }}
{%- endmacro %}

{% macro tiering_client_in_batch(client_key, bounds) -%}
    {%- if bounds | length > 0 -%}
    ({{ client_key }} > {{ tiering_client_batch_literal('', 'from') }}
        or {{ tiering_client_batch_literal('', 'from') }} = '')
    and ({{ client_key }} <= {{ tiering_client_batch_literal(bounds[0], 'to') }}
        or {{ tiering_client_batch_literal(bounds[0], 'to') }} = '')
    /* tiering_client_batches {{ bounds | join('|') }} */
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}

{#- A batch's bound as a string literal ('' for none), named by its comment. -#}
{% macro tiering_client_batch_literal(key, side) -%}
    '{{ key | replace("'", "''") }}' /* tiering_client_batch_{{ side }} */
{%- endmacro %}

{% macro tiering_build_client_batches() -%}
    {%- if execute -%}
        {%- set found = modules.re.search('/\\* tiering_client_batches ([^*]*) \\*/', sql) -%}
        {%- if found -%}
            {%- set bounds = found.group(1).split('|') -%}
            {%- set first = sql
                .replace(tiering_client_batch_literal('', 'from'), '{from}')
                .replace(tiering_client_batch_literal(bounds[0], 'to'), '{to}') -%}
            {%- set columns = adapter.get_columns_in_relation(this)
                | map(attribute='quoted') | join(', ') -%}
            {%- for batch in range(1, bounds | length + 1) -%}
                {%- set upper = bounds[batch] if batch < bounds | length else '' -%}
                {%- do log(this.identifier ~ ': client batch ' ~ (batch + 1) ~ ' of '
                    ~ (bounds | length + 1) ~ ', client keys after ' ~ bounds[batch - 1]) -%}
                {%- do run_query(
                    'insert into ' ~ this ~ ' select ' ~ columns ~ ' from ('
                    ~ first
                        .replace('{from}', tiering_client_batch_literal(bounds[batch - 1], 'from'))
                        .replace('{to}', tiering_client_batch_literal(upper, 'to'))
                    ~ ') as client_batch') -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
