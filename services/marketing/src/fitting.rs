//! Fitting the lifetime-value models as a job. FitModels starts one (or joins the one running)
//! and waits a while for it; the fit itself runs on its own task, so a fit of a large base
//! outlives the call that started it and GetFitJob follows it.
//!
//! A fit reads every customer's history (added up in SQL, a range of customers at a time), fits
//! both models off the async runtime on those numbers alone (no ids held), then scores the
//! customers a page at a time:
//! what the fit predicts of each is kept and the newly at-risk announced, one transaction per
//! page, with the job's progress.

use chrono::NaiveDate;
use crm_platform::Store;
use crm_proto::marketing::v1 as pb;
use crm_proto::marketing::v1::events as ev;

use crate::domain::history::History;
use crate::domain::{bgnbd, gamma_gamma};
use crate::error::{Error, Result};
use crate::events;
use crate::storage::fit_jobs::{self, Job, Outcome};
use crate::storage::models::{self, ModelCustomer};

/// Customers under this probability alive (bps) are announced at risk unless the call says.
pub const DEFAULT_THRESHOLD_BPS: i32 = 3000;

/// Customers silent for longer than this are lost, not at risk: the customers service moves
/// them to lost by itself, and outreach to them is no at-risk call (an imported purchase history
/// from years ago announces nobody).
const AT_RISK_MAX_SILENCE_WEEKS: f64 = 52.0;

/// The horizon whose value is kept per customer at a fit (the default one).
pub const KEPT_HORIZON_WEEKS: i32 = 52;

/// Why a fit of too little data fails: the caller's precondition, which FitModels reports as
/// such when the fit ends within its wait.
pub const TOO_LITTLE_HISTORY: &str = "too little history to fit: need 10 customers and some repeat purchases";

/// Customers scored (and announced) per transaction.
const SCORE_PAGE: i64 = 1000;

/// Customers whose histories are read per statement before the fit.
const READ_PAGE: i64 = 5000;

/// What a fit is asked for.
#[derive(Debug, Clone)]
pub struct FitRequest {
    /// The day the histories end.
    pub date: NaiveDate,
    /// The at-risk threshold, bps.
    pub threshold_bps: i32,
    /// The currency purchases are counted in.
    pub currency: String,
}

/// Days since the epoch of `date`.
pub fn day_number(date: NaiveDate) -> i64 {
    (date - NaiveDate::default()).num_days()
}

/// What a fit predicts of one customer over `horizon_weeks`: (probability alive, expected
/// purchases, expected spend per purchase).
pub fn forecast(fit: &models::Fit, h: &History, horizon_weeks: i32) -> (f64, f64, f64) {
    let alive = bgnbd::prob_alive(&fit.bg_nbd, &h.customer);
    let purchases = bgnbd::expected_purchases(&fit.bg_nbd, &h.customer, f64::from(horizon_weeks));
    let spend = match &fit.gamma_gamma {
        Some(gg) => gamma_gamma::expected_spend(
            gg,
            &gamma_gamma::Spender {
                x: h.customer.x,
                mean: h.repeat_mean_minor,
            },
        ),
        None => h.repeat_mean_minor,
    };
    let purchases = if purchases.is_finite() { purchases } else { 0.0 };
    (alive, purchases, spend)
}

/// Expected value over the horizon, minor units.
pub fn value_minor(fit: &models::Fit, h: &History, horizon_weeks: i32) -> i64 {
    let (_, purchases, spend) = forecast(fit, h, horizon_weeks);
    (purchases * spend).round() as i64
}

/// At least the value over `horizon_weeks` of a customer whose value over the kept horizon is
/// `kept_minor` (see [`bgnbd::horizon_stretch`]; the spend per purchase does not depend on the
/// horizon). The rounding of both values is allowed for.
pub fn value_bound(kept_minor: i64, horizon_weeks: i32) -> i64 {
    let stretch = bgnbd::horizon_stretch(f64::from(KEPT_HORIZON_WEEKS), f64::from(horizon_weeks));
    ((kept_minor as f64 + 0.5) * stretch).ceil() as i64 + 1
}

/// Starts a fit, or joins the one running; the job either way.
pub async fn start_or_join(store: &Store, request: FitRequest) -> Result<Job> {
    let id = crm_platform::time::new_id();
    let mut conn = store.conn().await?;
    let job = fit_jobs::start(
        &mut conn,
        &id,
        &request.date.format("%Y-%m-%d").to_string(),
        store.now_micros(),
    )
    .await?;
    drop(conn);
    if job.id == id {
        let store = store.clone();
        let running = tokio::spawn(fit(store.clone(), id.clone(), request));
        // The outcome is recorded by a second task, so that a panic in the fit ends the job too.
        tokio::spawn(async move {
            let ended = match running.await {
                Ok(Ok(outcome)) => Ok(outcome),
                // The cause of an unexpected failure goes to the log, not to callers.
                Ok(Err(Error::Internal(e))) => {
                    tracing::error!(job = %id, error = %e, "a model fit failed");
                    Err("an internal error stopped the fit; the service log has its cause".into())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(join) => Err(format!("the fit stopped: {join}")),
            };
            if let Err(e) = record(&store, &id, ended).await {
                tracing::error!(job = %id, error = %e, "recording how a model fit ended");
            }
        });
    }
    Ok(job)
}

/// Keeps how job `id` ended.
async fn record(store: &Store, id: &str, ended: std::result::Result<Outcome, String>) -> Result<()> {
    let mut conn = store.conn().await?;
    let now = store.now_micros();
    match ended {
        Ok(outcome) => fit_jobs::succeed(&mut conn, id, &outcome, now).await?,
        Err(error) => {
            tracing::warn!(job = %id, %error, "a model fit failed");
            fit_jobs::fail(&mut conn, id, &error, now).await?;
        }
    }
    Ok(())
}

/// Fits both models on every customer's history at the request's date, keeps the parameters
/// and what they predict of each customer, and announces the newly at risk.
async fn fit(store: Store, id: String, request: FitRequest) -> Result<Outcome> {
    // Every customer's history, read a range of party ids at a time: each range is added up
    // from the purchases index, where one aggregate over the whole base sorts (and spills) every
    // purchase. Only the numbers are held, not whose they are.
    let mut histories = Vec::new();
    let mut after = String::new();
    while let Some(page) = next_histories(&store, &request, &mut after, READ_PAGE).await? {
        histories.extend(page.into_iter().map(|(_, history)| history));
    }
    let customers = histories.len() as i64;
    report(&store, &id, customers, 0).await?;
    let fitted_at = request
        .date
        .and_hms_opt(12, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_micros();
    let (fit, log_likelihood) = crm_platform::background::compute("model-fit", move || {
        let customers: Vec<bgnbd::Customer> = histories.iter().map(|h| h.customer).collect();
        if customers.len() < 10 || !customers.iter().any(|c| c.x > 0.0) {
            return Err(Error::FailedPrecondition(TOO_LITTLE_HISTORY.into()));
        }
        let bg_nbd = bgnbd::fit(&customers)
            .ok_or_else(|| Error::FailedPrecondition("the BG/NBD fit did not converge".into()))?;
        let spenders: Vec<gamma_gamma::Spender> = histories
            .iter()
            .filter(|h| h.customer.x > 0.0 && h.repeat_mean_minor > 0.0)
            .map(|h| gamma_gamma::Spender {
                x: h.customer.x,
                mean: h.repeat_mean_minor,
            })
            .collect();
        let gamma_gamma = if spenders.len() >= 2 {
            gamma_gamma::fit(&spenders)
        } else {
            None
        };
        let fit = models::Fit {
            bg_nbd,
            gamma_gamma,
            fitted_at,
            customers: customers.len() as i64,
        };
        let log_likelihood = bgnbd::log_likelihood(&bg_nbd, &customers);
        Ok((fit, log_likelihood))
    })
    .await??;

    // Score a page of customers at a time, their histories read again by id.
    let mut after = String::new();
    let (mut scored, mut newly_at_risk) = (0, 0);
    while let Some(page) = next_histories(&store, &request, &mut after, SCORE_PAGE).await? {
        // The expected value sums a series per customer: off the async runtime.
        let page_fit = fit.clone();
        let seen: Vec<ModelCustomer> = crm_platform::background::compute("model-scoring", move || {
            page.into_iter()
                .map(|(party_id, history)| ModelCustomer {
                    alive_bps: (bgnbd::prob_alive(&page_fit.bg_nbd, &history.customer) * 10_000.0).round()
                        as i64,
                    value_52w_minor: value_minor(&page_fit, &history, KEPT_HORIZON_WEEKS),
                    party_id,
                    history,
                })
                .collect()
        })
        .await?;
        newly_at_risk += save_page(&store, fitted_at, &seen, request.threshold_bps).await?;
        scored += seen.len() as i64;
        report(&store, &id, customers.max(scored), scored).await?;
    }
    let mut tx = store.begin().await?;
    models::forget_other_fits(&mut tx, fitted_at).await?;
    models::save(&mut tx, &fit).await?;
    store.commit(tx).await?;
    Ok(Outcome {
        customers: fit.customers,
        newly_at_risk,
        log_likelihood,
        params: models::params_json(&fit.bg_nbd, fit.gamma_gamma.as_ref()),
    })
}

/// The histories at the request's date of the next `limit` customers after party id `after`
/// (moved past them), by id; None when there are no more.
async fn next_histories(
    store: &Store,
    request: &FitRequest,
    after: &mut String,
    limit: i64,
) -> Result<Option<Vec<(String, History)>>> {
    let (end, today) = (crate::api::end_of(request.date), day_number(request.date));
    let mut conn = store.conn().await?;
    let (page, last) =
        models::histories_after(&mut conn, &request.currency, end, today, after, limit).await?;
    Ok(last.map(|last| {
        *after = last;
        page
    }))
}

/// Keeps a page of scored customers and announces those newly under the threshold; how many
/// were.
async fn save_page(store: &Store, fitted_at: i64, seen: &[ModelCustomer], threshold_bps: i32) -> Result<i64> {
    let (at_risk, recovered): (Vec<&ModelCustomer>, Vec<&ModelCustomer>) = seen.iter().partition(|c| {
        c.alive_bps < i64::from(threshold_bps) && c.history.silent_weeks() <= AT_RISK_MAX_SILENCE_WEEKS
    });
    let ids = |list: &[&ModelCustomer]| list.iter().map(|c| c.party_id.clone()).collect::<Vec<_>>();
    let mut tx = store.begin().await?;
    models::save_customers(&mut tx, fitted_at, seen).await?;
    // Announce customers newly under the threshold; customers.at_risk moves them in customers.
    let announced = models::mark_many_at_risk(&mut tx, &ids(&at_risk), store.now_micros()).await?;
    for c in at_risk.iter().filter(|c| announced.contains(&c.party_id)) {
        events::publish(
            &mut tx,
            ev::CUSTOMER_AT_RISK,
            &c.party_id,
            &pb::CustomerAtRisk {
                party_id: c.party_id.clone(),
                probability_alive_bps: c.alive_bps,
            },
        )
        .await?;
    }
    models::clear_many_at_risk(&mut tx, &ids(&recovered)).await?;
    store.commit(tx).await?;
    Ok(announced.len() as i64)
}

/// Notes the job's progress (and that it is alive).
async fn report(store: &Store, id: &str, customers: i64, scored: i64) -> Result<()> {
    let mut conn = store.conn().await?;
    fit_jobs::progress(&mut conn, id, customers, scored, store.now_micros()).await?;
    Ok(())
}
