{#- `with name as {{ inline_cte() }} (select * from {{ ref('big_table') }})`: an import CTE that
    a model reads more than once is inlined into each reader instead of being computed once and
    kept. DuckDB materializes every CTE referenced twice, whole: an import CTE of a wide table
    (client_tiers: 15M rows at 100,000 clients) became a copy of it in memory, spilled to disk,
    where each reader needed a few columns of one period (client_tiers_current: 32 s → 0.2 s).
    Inlined, each reader scans the table with its own projection and filters. Use it on import
    CTEs (`select * from <relation>`, maybe with a filter), not on CTEs that compute something
    worth keeping. Spark inlines CTEs already and has no such keyword. -#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'tiering')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}
