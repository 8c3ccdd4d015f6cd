{#- Every weight profile the tiering needs is seeded: `default` and one per project type of the
    delivery contract (projects.csv `project_type`). Returns the missing ones. -#}
with

profiles as (select * from {{ ref('tiering_weight_profiles') }}),

{%- set required = ['default', '基础设施', '房地产', '新能源', '先进制造', '城市更新', '医疗养老'] %}

required_profiles as (
    {%- for code in required %}
    select '{{ code }}' as profile_code{{ ' union all' if not loop.last }}
    {%- endfor %}
)

select required_profiles.profile_code
from required_profiles
left join profiles
    on required_profiles.profile_code = profiles.profile_code
where profiles.profile_code is null
