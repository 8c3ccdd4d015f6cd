{#- Delivery semantics shared by every staging model (docs/architecture.md, "dbt sources and
    staging"). Both return a select over the raw source restricted to deliveries on or before
    var('as_of_date'), with the lineage columns renamed (extract_date, source_file,
    source_row_number, loaded_at). A key delivered twice inside one delivery keeps its last row. -#}

{% macro _as_of_date() -%}
    cast('{{ var("as_of_date") }}' as date)
{%- endmacro %}

{#- Snapshot entity: one row per key per delivery, plus is_latest_delivery and
    is_latest_version (the newest delivered version of the key, even if it later vanished). -#}
{% macro snapshot_deliveries(source_relation, key_columns) -%}
    {%- set keys = key_columns | join(', ') -%}
    select
        ranked.*,
        ranked.extract_date = max(ranked.extract_date) over () as is_latest_delivery,
        row_number() over (
            partition by {{ keys }} order by ranked.extract_date desc
        ) = 1 as is_latest_version
    from (
        select
            delivered.*,
            delivered._extract_date as extract_date,
            delivered._source_file as source_file,
            delivered._row_number as source_row_number,
            delivered._loaded_at as loaded_at,
            row_number() over (
                partition by {{ keys }}, delivered._extract_date
                order by delivered._row_number desc
            ) as __row_in_delivery
        from {{ source_relation }} as delivered
        where delivered._extract_date <= {{ _as_of_date() }}
            {%- for key in key_columns %}
            and delivered.{{ key }} is not null
            {%- endfor %}
    ) as ranked
    where ranked.__row_in_delivery = 1
{%- endmacro %}

{#- Incremental entity: one row per key, the latest delivery wins (a correction), with
    extract_date of the winning delivery and first_extract_date of the key. -#}
{% macro incremental_deliveries(source_relation, key_columns) -%}
    {%- set keys = key_columns | join(', ') -%}
    select ranked.*
    from (
        select
            delivered.*,
            delivered._extract_date as extract_date,
            min(delivered._extract_date) over (partition by {{ keys }}) as first_extract_date,
            delivered._source_file as source_file,
            delivered._row_number as source_row_number,
            delivered._loaded_at as loaded_at,
            row_number() over (
                partition by {{ keys }}
                order by delivered._extract_date desc, delivered._row_number desc
            ) as __version_rank
        from {{ source_relation }} as delivered
        where delivered._extract_date <= {{ _as_of_date() }}
            {%- for key in key_columns %}
            and delivered.{{ key }} is not null
            {%- endfor %}
    ) as ranked
    where ranked.__version_rank = 1
{%- endmacro %}
