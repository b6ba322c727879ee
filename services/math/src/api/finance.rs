//! `POST /api/v1/math/finance`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::finance::{self, PaymentTiming, Rounding};
use crate::state::AppState;

/// The calculation (spreadsheet conventions: money paid out is negative).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FinanceOperation {
    /// Payment per period (Excel `PMT`): rate, periods, presentValue, [futureValue, timing].
    Pmt,
    /// Present value (`PV`): rate, periods, payment, [futureValue, timing].
    Pv,
    /// Future value (`FV`): rate, periods, payment, [presentValue, timing].
    Fv,
    /// Net present value (`NPV`, flows at the end of periods 1, 2, …): rate, cashFlows.
    Npv,
    /// Internal rate of return (`IRR`, first flow at period 0): cashFlows, [guess].
    Irr,
    /// Level-payment loan schedule: principal, rate (per period), periods, [decimals, rounding].
    Amortization,
    /// Compound growth: principal, rate (annual), years, [compoundsPerYear; 0 = continuous].
    Compound,
}

/// When payments fall.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    /// At the end of each period (type 0).
    #[default]
    End,
    /// At the start (type 1).
    Start,
}

/// How schedule amounts are rounded.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RoundingMode {
    /// Half away from zero.
    #[default]
    HalfUp,
    /// Banker's rounding (half to even).
    HalfEven,
    /// Exact amounts.
    None,
}

/// A finance calculation; fields beyond those the operation needs are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"operation": "pmt", "rate": 0.004166666666666667, "periods": 360, "presentValue": 200000}))]
pub struct FinanceRequest {
    pub operation: FinanceOperation,
    /// Interest rate per period (annual for `compound`), as a fraction: 0.05 is 5%.
    pub rate: Option<f64>,
    pub periods: Option<f64>,
    pub present_value: Option<f64>,
    pub future_value: Option<f64>,
    pub payment: Option<f64>,
    #[serde(default)]
    pub timing: Timing,
    pub cash_flows: Option<Vec<f64>>,
    /// Starting rate for `irr` (default 0.1).
    pub guess: Option<f64>,
    pub principal: Option<f64>,
    pub years: Option<f64>,
    /// Compounding per year for `compound` (default 12; 0 = continuous).
    pub compounds_per_year: Option<u32>,
    /// Decimals of schedule amounts (default 2, at most 10).
    pub decimals: Option<u32>,
    #[serde(default)]
    pub rounding: RoundingMode,
}

fn need<T: Copy>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid_field(field, "this operation needs it"))
}

fn compute(r: &FinanceRequest) -> Result<Value, ApiError> {
    use FinanceOperation as Op;
    let timing = match r.timing {
        Timing::End => PaymentTiming::End,
        Timing::Start => PaymentTiming::Start,
    };
    let flows = || {
        r.cash_flows
            .as_deref()
            .ok_or_else(|| ApiError::invalid_field("cashFlows", "this operation needs it"))
    };
    Ok(match r.operation {
        Op::Pmt => {
            json!({"result": finance::pmt(need(r.rate, "rate")?, need(r.periods, "periods")?, need(r.present_value, "presentValue")?, r.future_value.unwrap_or(0.0), timing)?})
        }
        Op::Pv => {
            json!({"result": finance::pv(need(r.rate, "rate")?, need(r.periods, "periods")?, need(r.payment, "payment")?, r.future_value.unwrap_or(0.0), timing)?})
        }
        Op::Fv => {
            json!({"result": finance::fv(need(r.rate, "rate")?, need(r.periods, "periods")?, need(r.payment, "payment")?, r.present_value.unwrap_or(0.0), timing)?})
        }
        Op::Npv => json!({"result": finance::npv(need(r.rate, "rate")?, flows()?, false)?}),
        Op::Irr => json!({"result": finance::irr(flows()?, r.guess.unwrap_or(0.1))?}),
        Op::Compound => {
            json!({"result": finance::compound(need(r.principal, "principal")?, need(r.rate, "rate")?, need(r.years, "years")?, r.compounds_per_year.unwrap_or(12))?})
        }
        Op::Amortization => {
            let periods = need(r.periods, "periods")?;
            if periods.fract() != 0.0 || periods < 1.0 || periods > f64::from(finance::MAX_SCHEDULE)
            {
                return Err(ApiError::invalid_field(
                    "periods",
                    format!("must be a whole number from 1 to {}", finance::MAX_SCHEDULE),
                ));
            }
            let rounding = match r.rounding {
                RoundingMode::HalfUp => Rounding::HalfUp,
                RoundingMode::HalfEven => Rounding::HalfEven,
                RoundingMode::None => Rounding::None,
            };
            let schedule = finance::amortization(
                need(r.principal, "principal")?,
                need(r.rate, "rate")?,
                periods as u32,
                r.decimals.unwrap_or(2).min(10),
                rounding,
            )?;
            let total_interest: f64 = schedule.iter().map(|i| i.interest).sum();
            json!({
                "payment": schedule.first().map(|i| i.payment),
                "totalInterest": finance::round_amount(total_interest, r.decimals.unwrap_or(2).min(10), rounding),
                "schedule": schedule.iter().map(|i| json!({"period": i.period, "payment": i.payment, "interest": i.interest, "principal": i.principal, "balance": i.balance})).collect::<Vec<_>>(),
            })
        }
    })
}

/// Loan payments, present and future value, NPV, IRR, amortization and compound growth.
///
/// Answers `{"result": number}`, or for `amortization` `{"payment", "totalInterest", "schedule"}`.
#[utoipa::path(
    post,
    path = "/api/v1/math/finance",
    tag = "finance",
    request_body = FinanceRequest,
    responses((status = 200, description = "The answer", body = Object))
)]
pub async fn finance(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<FinanceRequest>,
) -> Result<Json<Value>, ApiError> {
    let outcome = compute(&r);
    state.record("finance", outcome.is_ok());
    Ok(Json(outcome?))
}
