//! Predictions per customer and cross-selling.

use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use crm_auth::Principal;
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1 as pb;

use super::MarketingApi;
use crate::domain::affinity;
use crate::domain::history::History;
use crate::error::{Error, Result, invalid};
use crate::fitting::{
    self, DEFAULT_THRESHOLD_BPS, FitRequest, KEPT_HORIZON_WEEKS, forecast, value_bound, value_minor,
};
use crate::storage::affinity as affinity_counts;
use crate::storage::figures;
use crate::storage::fit_jobs;
use crate::storage::models;
use crate::storage::timestamp;

/// Customers read per page, at most, when a horizon other than the kept one ranks them.
const RANK_PAGE: i64 = 5000;

impl MarketingApi {
    fn predict(&self, fit: &models::Fit, party: &str, h: &History, horizon_weeks: i32) -> pb::Prediction {
        let (alive, purchases, spend) = forecast(fit, h, horizon_weeks);
        let money = |v: f64| {
            Some(Money {
                amount_minor: v.round() as i64,
                currency_code: self.config.reporting_currency.clone(),
            })
        };
        pb::Prediction {
            party_id: party.to_string(),
            probability_alive_bps: (alive * 10_000.0).round() as i64,
            expected_purchases: purchases,
            expected_spend: money(spend),
            lifetime_value: money(purchases * spend),
            horizon_weeks,
        }
    }

    async fn latest_fit(&self, conn: &mut crm_storage::Conn) -> Result<models::Fit> {
        models::latest(conn)
            .await?
            .ok_or_else(|| Error::FailedPrecondition("no model fitted yet; call FitModels".into()))
    }

    /// Starts a fit (or joins the one running) and waits for it up to the configured time:
    /// its result when it ended by then, else the job still running.
    pub(super) async fn handle_fit_models(
        &self,
        _p: &Principal,
        req: pb::FitModelsRequest,
    ) -> Result<pb::FitModelsResponse> {
        let date = self.as_of(&req.as_of)?;
        if !(0..=10_000).contains(&req.at_risk_threshold_bps) {
            return Err(invalid("at_risk_threshold_bps", "0 to 10000 (0 means 3000)"));
        }
        let threshold_bps = if req.at_risk_threshold_bps == 0 {
            DEFAULT_THRESHOLD_BPS
        } else {
            req.at_risk_threshold_bps
        };
        let job = fitting::start_or_join(
            &self.store,
            FitRequest {
                date,
                threshold_bps,
                currency: self.config.reporting_currency.clone(),
            },
        )
        .await?;
        // Waits with growing pauses: a small base is fitted in milliseconds.
        let waited = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut job = job;
        while !job.ended() && waited.elapsed() < self.config.fit_wait {
            tokio::time::sleep(pause.min(self.config.fit_wait.saturating_sub(waited.elapsed()))).await;
            pause = (pause * 2).min(Duration::from_millis(250));
            let mut conn = self.store.conn().await?;
            job = fit_jobs::get(&mut conn, &job.id, self.store.now_micros())
                .await?
                .ok_or_else(|| Error::NotFound(format!("fit job {}", job.id)))?;
        }
        if job.state == fit_jobs::State::Failed && job.error == fitting::TOO_LITTLE_HISTORY {
            return Err(Error::FailedPrecondition(job.error));
        }
        Ok(fit_response(&job))
    }

    pub(super) async fn handle_get_fit_job(
        &self,
        _p: &Principal,
        req: pb::GetFitJobRequest,
    ) -> Result<pb::GetFitJobResponse> {
        let mut conn = self.store.conn().await?;
        let job = fit_jobs::get(&mut conn, &req.id, self.store.now_micros())
            .await?
            .ok_or_else(|| {
                Error::NotFound(if req.id.is_empty() {
                    "fit job: none started yet".into()
                } else {
                    format!("fit job {}", req.id)
                })
            })?;
        Ok(pb::GetFitJobResponse {
            result: Some(fit_response(&job)),
        })
    }

    pub(super) async fn handle_get_prediction(
        &self,
        _p: &Principal,
        req: pb::GetPredictionRequest,
    ) -> Result<pb::GetPredictionResponse> {
        let horizon = if req.horizon_weeks == 0 {
            52
        } else {
            req.horizon_weeks
        };
        if !(1..=520).contains(&horizon) {
            return Err(invalid("horizon_weeks", "1 to 520 (0 means 52)"));
        }
        // One customer's prediction: the fitted model and their own history only.
        let mut conn = self.store.conn().await?;
        let fit = self.latest_fit(&mut conn).await?;
        let h = models::customer(&mut conn, &req.party_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("purchase history of {}", req.party_id)))?;
        Ok(pb::GetPredictionResponse {
            prediction: Some(self.predict(&fit, &req.party_id, &h, horizon)),
        })
    }

    pub(super) async fn handle_list_churn_risks(
        &self,
        _p: &Principal,
        req: pb::ListChurnRisksRequest,
    ) -> Result<pb::ListChurnRisksResponse> {
        let threshold = if req.threshold_bps == 0 {
            DEFAULT_THRESHOLD_BPS
        } else {
            req.threshold_bps
        };
        let limit = if req.limit <= 0 {
            100
        } else {
            req.limit.min(10_000)
        };
        let mut conn = self.store.conn().await?;
        let fit = self.latest_fit(&mut conn).await?;
        let risks = models::least_alive(&mut conn, i64::from(threshold), i64::from(limit)).await?;
        Ok(pb::ListChurnRisksResponse {
            predictions: risks
                .iter()
                .map(|(party, h)| self.predict(&fit, party, h, KEPT_HORIZON_WEEKS))
                .collect(),
        })
    }

    pub(super) async fn handle_list_key_customers(
        &self,
        _p: &Principal,
        req: pb::ListKeyCustomersRequest,
    ) -> Result<pb::ListKeyCustomersResponse> {
        let horizon = if req.horizon_weeks <= 0 {
            52
        } else {
            req.horizon_weeks.min(520)
        };
        let limit = if req.limit <= 0 { 20 } else { req.limit.min(10_000) } as usize;
        let mut conn = self.store.conn().await?;
        let fit = self.latest_fit(&mut conn).await?;
        let top: Vec<(String, History)> = if horizon == KEPT_HORIZON_WEEKS {
            models::most_valuable(&mut conn, None, limit as i64)
                .await?
                .into_iter()
                .map(|(party, _, h)| (party, h))
                .collect()
        } else {
            // Another horizon ranks differently, but its values are bounded by the kept ones
            // (`fitting::value_bound`): the customers are read by kept value, highest first, a
            // page at a time, and the walk ends at the first whose bound cannot beat the best
            // `limit` found. Each value sums a series: a page's are computed off the async
            // runtime, and the call's deadline ends the walk between pages.
            let mut best: BinaryHeap<std::cmp::Reverse<(i64, std::cmp::Reverse<String>)>> = BinaryHeap::new();
            let mut kept: HashMap<String, History> = HashMap::new();
            let mut after: Option<(i64, String)> = None;
            // Most walks end within a few times `limit`: pages start there and grow.
            let mut page_size = (limit as i64 * 4).clamp(100, RANK_PAGE);
            'walk: loop {
                let page = models::most_valuable(
                    &mut conn,
                    after.as_ref().map(|(v, id)| (*v, id.as_str())),
                    page_size,
                )
                .await?;
                page_size = (page_size * 2).min(RANK_PAGE);
                let Some((last, last_value, _)) = page.last() else {
                    break;
                };
                after = Some((*last_value, last.clone()));
                let page_fit = fit.clone();
                let valued: Vec<(i64, i64, String, History)> =
                    crm_platform::background::compute("key-customers", move || {
                        page.into_iter()
                            .map(|(party, kept, h)| (value_minor(&page_fit, &h, horizon), kept, party, h))
                            .collect()
                    })
                    .await?;
                for (value, kept_value, party, h) in valued {
                    if best.len() == limit
                        && best.peek().is_some_and(|std::cmp::Reverse((worst, _))| {
                            value_bound(kept_value, horizon) < *worst
                        })
                    {
                        break 'walk;
                    }
                    best.push(std::cmp::Reverse((value, std::cmp::Reverse(party.clone()))));
                    kept.insert(party, h);
                    if best.len() > limit
                        && let Some(std::cmp::Reverse((_, std::cmp::Reverse(dropped)))) = best.pop()
                    {
                        kept.remove(&dropped);
                    }
                }
            }
            let mut top: Vec<(i64, String)> = best
                .into_iter()
                .map(|std::cmp::Reverse((value, std::cmp::Reverse(party)))| (value, party))
                .collect();
            top.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            top.into_iter()
                .filter_map(|(_, party)| kept.remove(&party).map(|h| (party, h)))
                .collect()
        };
        Ok(pb::ListKeyCustomersResponse {
            predictions: top
                .iter()
                .map(|(party, h)| self.predict(&fit, party, h, horizon))
                .collect(),
        })
    }

    /// The rules of counted pairs, over the customers with counted purchases.
    fn rules(customers: i64, pairs: Vec<(String, String, i64, i64, i64)>) -> Vec<affinity::Rule> {
        let n = |v: i64| u64::try_from(v).unwrap_or_default();
        pairs
            .into_iter()
            .filter_map(|(a, b, n_ab, n_a, n_b)| {
                affinity::rule(&a, &b, n(n_ab), n(n_a), n(n_b), n(customers))
            })
            .collect()
    }

    pub(super) async fn handle_list_product_affinities(
        &self,
        _p: &Principal,
        req: pb::ListProductAffinitiesRequest,
    ) -> Result<pb::ListProductAffinitiesResponse> {
        let min = if req.min_customers <= 0 {
            2
        } else {
            req.min_customers
        };
        let limit = if req.limit <= 0 { 100 } else { req.limit.min(1000) };
        let mut conn = self.store.conn().await?;
        let customers = figures::customers(&mut conn).await?;
        let pairs = affinity_counts::strongest(&mut conn, i64::from(min), i64::from(limit)).await?;
        let mut rules = Self::rules(customers, pairs);
        rules.sort_by(|x, y| {
            y.lift
                .total_cmp(&x.lift)
                .then(y.confidence.total_cmp(&x.confidence))
                .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
        });
        Ok(pb::ListProductAffinitiesResponse {
            affinities: rules
                .into_iter()
                .map(|r| pb::ProductAffinity {
                    from_product_id: r.from,
                    to_product_id: r.to,
                    support: r.support,
                    confidence: r.confidence,
                    lift: r.lift,
                })
                .collect(),
        })
    }

    pub(super) async fn handle_get_recommendations(
        &self,
        _p: &Principal,
        req: pb::GetRecommendationsRequest,
    ) -> Result<pb::GetRecommendationsResponse> {
        let limit = if req.limit <= 0 { 5 } else { req.limit.min(100) } as usize;
        // The customer's products and the pairs leading from them: nothing else is read.
        let mut conn = self.store.conn().await?;
        let owned: Vec<String> = affinity_counts::kept(&mut conn, std::slice::from_ref(&req.party_id))
            .await?
            .remove(&req.party_id)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let customers = figures::customers(&mut conn).await?;
        let rules = Self::rules(
            customers,
            affinity_counts::from_products(&mut conn, &owned, 2).await?,
        );
        Ok(pb::GetRecommendationsResponse {
            recommendations: affinity::recommend(&rules, &owned, limit)
                .into_iter()
                .map(|(product_id, lift)| pb::Recommendation { product_id, lift })
                .collect(),
        })
    }
}

/// A job as the API shows it, with the fit's result when it succeeded.
fn fit_response(job: &fit_jobs::Job) -> pb::FitModelsResponse {
    let state = match job.state {
        fit_jobs::State::Running => pb::FitJobState::Running,
        fit_jobs::State::Succeeded => pb::FitJobState::Succeeded,
        fit_jobs::State::Failed => pb::FitJobState::Failed,
    };
    let proto_job = pb::FitJob {
        id: job.id.clone(),
        state: state as i32,
        as_of: job.as_of.clone(),
        customers: job.customers,
        customers_scored: job.scored,
        start_time: Some(timestamp(job.started_at)),
        end_time: job.finished_at.map(timestamp),
        error: job.error.clone(),
    };
    let params = (job.state == fit_jobs::State::Succeeded)
        .then(|| models::parse_params(&job.params))
        .flatten();
    let Some((bg_nbd, gamma_gamma)) = params else {
        return pb::FitModelsResponse {
            job: Some(proto_job),
            ..Default::default()
        };
    };
    pb::FitModelsResponse {
        bg_nbd: Some(pb::BgNbdParams {
            r: bg_nbd.r,
            alpha: bg_nbd.alpha,
            a: bg_nbd.a,
            b: bg_nbd.b,
            log_likelihood: job.log_likelihood,
        }),
        gamma_gamma: gamma_gamma.map(|g| pb::GammaGammaParams {
            p: g.p,
            q: g.q,
            v: g.v,
        }),
        customers: job.customers,
        newly_at_risk: job.newly_at_risk,
        fit_time: job.finished_at.map(timestamp),
        job: Some(proto_job),
    }
}
