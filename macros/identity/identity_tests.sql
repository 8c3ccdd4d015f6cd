{#- Convergence of the bounded label propagation: no matched pair ends in two clusters.
    Fails when var identity_label_propagation_rounds is too low for the data's longest chain. -#}
{% test identity_clusters_converged(model, pairs_model) %}
    with

    clusters as (select * from {{ model }}),

    pairs as (select * from {{ pairs_model }} where is_match),

    split_pairs as (
        select
            pairs.record_key_a,
            pairs.record_key_b,
            a.cluster_label as cluster_label_a,
            b.cluster_label as cluster_label_b
        from pairs
        inner join clusters as a
            on pairs.record_key_a = a.record_key
        inner join clusters as b
            on pairs.record_key_b = b.record_key
        where a.cluster_label <> b.cluster_label
    )

    select * from split_pairs
{% endtest %}

{#- Every identity-bearing source record (latest version of every key delivered up to the as-of
    date) appears in the xref. Together with the xref's grain test: linked exactly once. -#}
{% test identity_every_record_linked(model) %}
    with

    {%- set sources = [
        ('crm', 'clients', 'stg_crm__clients', 'crm_id'),
        ('finance', 'customers', 'stg_finance__customers', 'customer_code'),
        ('risk', 'credit_profiles', 'stg_risk__credit_profiles', 'risk_client_no'),
        ('projects', 'participations', 'stg_projects__participations',
         dbt.concat(['project_code', "'|'", 'partner_name_raw', "'|'", 'role'])),
        ('service', 'tickets', 'stg_service__tickets', 'ticket_id'),
        ('external', 'registry', 'stg_external__registry', 'uscc'),
    ] %}

    source_records as (
        {%- for department, entity, staging_model, record_id in sources %}
        select distinct
            '{{ department }}' as department,
            '{{ entity }}' as entity,
            {{ record_id }} as record_id
        from {{ ref(staging_model) }}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ),

    unlinked as (
        select source_records.*
        from source_records
        left join {{ model }} as xref
            on source_records.department = xref.department
            and source_records.entity = xref.entity
            and source_records.record_id = xref.record_id
        where xref.record_id is null
    )

    select * from unlinked
{% endtest %}

{#- Data stewards' decisions (seed identity_decisions) the clients do not reflect: a `same` pair
    in two clients (cannot happen: the edge links them), a `different` pair in one client
    (linked through other records, or a short name placed with the client), and a decision in
    force at the as-of date naming a record the build does not hold (a mistyped key). The
    model is int_identity_pairs_decided. Meant as a warning: a steward has to decide more
    pairs or fix the key. -#}
{% test identity_decisions_honoured(model, clients_model, decisions_model) %}
    with

    decided as (select * from {{ model }} where decision_id is not null),

    clients as (select * from {{ clients_model }}),

    unhonoured as (
        select
            decided.decision_id,
            decided.record_key_a,
            decided.record_key_b,
            decided.match_rule,
            'not honoured' as problem
        from decided
        inner join clients as clients_a
            on decided.record_key_a = clients_a.record_key
        inner join clients as clients_b
            on decided.record_key_b = clients_b.record_key
        where (decided.is_match and clients_a.client_key <> clients_b.client_key)
           or (not decided.is_match and clients_a.client_key = clients_b.client_key)
    ),

    decisions_in_force as (
        select decision_id, record_key_a, record_key_b, decision
        from {{ decisions_model }}
        where valid_from is null or valid_from <= {{ run_as_of_date_literal() }}
    ),

    unknown_records as (
        select
            decisions_in_force.decision_id,
            decisions_in_force.record_key_a,
            decisions_in_force.record_key_b,
            decisions_in_force.decision as match_rule,
            'names a record the build does not hold' as problem
        from decisions_in_force
        left join clients as clients_a
            on decisions_in_force.record_key_a = clients_a.record_key
        left join clients as clients_b
            on decisions_in_force.record_key_b = clients_b.record_key
        where clients_a.record_key is null or clients_b.record_key is null
    )

    select * from unhonoured
    union all
    select * from unknown_records
{% endtest %}
