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
