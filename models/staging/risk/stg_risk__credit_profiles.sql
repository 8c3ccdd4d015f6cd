{{ config(**staging_by_delivery('snapshot', 'risk', 'credit_profiles', ['risk_client_no'])) }}
with

credit_profiles as (
    {{ snapshot_deliveries(source('risk', 'credit_profiles'), ['risk_client_no']) }}
),

cleaned as (
    select
        risk_client_no,
        client_name as client_name_raw,
        uscc as uscc_raw,
        {{ clean_uscc('uscc') }} as uscc,
        upper({{ clean_code('internal_rating') }}) as internal_rating,
        {{ clean_code('guarantee_type') }} as guarantee_type,
        {{ parse_amount('credit_limit') }} as credit_limit_amount,
        {{ parse_amount('outstanding_balance') }} as outstanding_balance_amount,
        {{ parse_amount('collateral_value') }} as collateral_value_amount,
        {{ parse_integer('max_overdue_days') }} as max_overdue_days,
        {{ parse_boolean('on_watchlist') }} as is_on_watchlist,
        {{ parse_date('rating_date') }} as rating_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from credit_profiles
),

names_split as (
    {{ split_company_names_once('cleaned', 'client_name') }}
),

codes_checked as (
    select
        names_split.*,
        {{ uscc_status('uscc') }} as uscc_status
    from names_split
),

final as (
    select
        risk_client_no,
        client_name_raw,
        client_name_clean,
        client_name_core,
        client_name_region,
        client_name_legal_form,
        client_name_branch,
        uscc_raw,
        uscc,
        uscc_status,
        {{ uscc_org_code('uscc', 'uscc_status') }} as uscc_org_code,
        internal_rating,
        guarantee_type,
        credit_limit_amount,
        outstanding_balance_amount,
        collateral_value_amount,
        max_overdue_days,
        is_on_watchlist,
        coalesce(
            outstanding_balance_amount < 0
            or credit_limit_amount < 0
            or collateral_value_amount < 0,
            false
        ) as is_negative_balance,
        coalesce(rating_date > extract_date, false) as is_future_date,
        rating_date,
        extract_date,
        is_latest_delivery,
        is_latest_version,
        source_file,
        source_row_number,
        loaded_at
    from codes_checked
)

select * from final
