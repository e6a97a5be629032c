//! Predictions per customer and cross-selling.

use std::collections::{BinaryHeap, HashMap};

use chrono::NaiveDate;
use crm_auth::Principal;
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1 as pb;
use crm_proto::marketing::v1::events as ev;

use super::MarketingApi;
use crate::domain::history::History;
use crate::domain::{affinity, bgnbd, gamma_gamma};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::affinity as affinity_counts;
use crate::storage::models::{self, ModelCustomer};
use crate::storage::timestamp;

const DEFAULT_THRESHOLD_BPS: i32 = 3000;

/// Customers silent for longer than this are lost, not at risk: the customers service moves
/// them to lost by itself, and outreach to them is no at-risk call (an imported purchase history
/// from years ago announces nobody).
const AT_RISK_MAX_SILENCE_WEEKS: f64 = 52.0;

/// The horizon whose value is kept per customer at a fit (the default one).
const KEPT_HORIZON_WEEKS: i32 = 52;

/// Customers written (and announced) per transaction after a fit.
const SAVE_BATCH: usize = 1000;

/// Customers read per page when a horizon other than the kept one ranks them.
const RANK_PAGE: i64 = 5000;

/// Days since the epoch of `date`.
fn day_number(date: NaiveDate) -> i64 {
    (date - NaiveDate::default()).num_days()
}

/// What a fit predicts of one customer over `horizon_weeks`: (probability alive, expected
/// purchases, expected spend per purchase).
fn forecast(fit: &models::Fit, h: &History, horizon_weeks: i32) -> (f64, f64, f64) {
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
fn value_minor(fit: &models::Fit, h: &History, horizon_weeks: i32) -> i64 {
    let (_, purchases, spend) = forecast(fit, h, horizon_weeks);
    (purchases * spend).round() as i64
}

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

    /// Fits the models on every customer's history at the as-of date. The histories are added
    /// up in SQL, the fit runs off the async runtime and holds no transaction, and what it
    /// predicts of each customer is then kept (and the newly at-risk announced) a batch per
    /// transaction.
    pub(super) async fn handle_fit_models(
        &self,
        _p: &Principal,
        req: pb::FitModelsRequest,
    ) -> Result<pb::FitModelsResponse> {
        let date = self.as_of(&req.as_of)?;
        if !(0..=10_000).contains(&req.at_risk_threshold_bps) {
            return Err(invalid("at_risk_threshold_bps", "0 to 10000 (0 means 3000)"));
        }
        let threshold = if req.at_risk_threshold_bps == 0 {
            DEFAULT_THRESHOLD_BPS
        } else {
            req.at_risk_threshold_bps
        };
        let mut conn = self.store.conn().await?;
        let histories = models::histories(
            &mut conn,
            &self.config.reporting_currency,
            super::end_of(date),
            day_number(date),
        )
        .await?;
        drop(conn);
        let fitted_at = date
            .and_hms_opt(12, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_micros();
        let (histories, fit, log_likelihood) = tokio::task::spawn_blocking(move || {
            let customers: Vec<bgnbd::Customer> = histories.iter().map(|(_, h)| h.customer).collect();
            if customers.len() < 10 || !customers.iter().any(|c| c.x > 0.0) {
                return Err(Error::FailedPrecondition(
                    "too little history to fit: need 10 customers and some repeat purchases".into(),
                ));
            }
            let bg_nbd = bgnbd::fit(&customers)
                .ok_or_else(|| Error::FailedPrecondition("the BG/NBD fit did not converge".into()))?;
            let spenders: Vec<gamma_gamma::Spender> = histories
                .iter()
                .filter(|(_, h)| h.customer.x > 0.0 && h.repeat_mean_minor > 0.0)
                .map(|(_, h)| gamma_gamma::Spender {
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
            Ok((histories, fit, log_likelihood))
        })
        .await
        .map_err(anyhow::Error::from)??;
        let now = self.store.now_micros();
        let mut newly_at_risk = 0;
        for batch in histories.chunks(SAVE_BATCH) {
            let fit_ref = &fit;
            let seen: Vec<ModelCustomer> = batch
                .iter()
                .map(|(party, h)| ModelCustomer {
                    party_id: party.clone(),
                    history: *h,
                    alive_bps: (bgnbd::prob_alive(&fit_ref.bg_nbd, &h.customer) * 10_000.0).round() as i64,
                    value_52w_minor: value_minor(fit_ref, h, KEPT_HORIZON_WEEKS),
                })
                .collect();
            let (at_risk, recovered): (Vec<&ModelCustomer>, Vec<&ModelCustomer>) =
                seen.iter().partition(|c| {
                    c.alive_bps < i64::from(threshold)
                        && c.history.silent_weeks() <= AT_RISK_MAX_SILENCE_WEEKS
                });
            let ids = |list: &[&ModelCustomer]| list.iter().map(|c| c.party_id.clone()).collect::<Vec<_>>();
            let mut tx = self.store.begin().await?;
            models::save_customers(&mut tx, fitted_at, &seen).await?;
            // Announce customers newly under the threshold; customers.at_risk moves them in customers.
            let announced = models::mark_many_at_risk(&mut tx, &ids(&at_risk), now).await?;
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
            newly_at_risk += announced.len() as i64;
            models::clear_many_at_risk(&mut tx, &ids(&recovered)).await?;
            self.store.commit(tx).await?;
        }
        let mut tx = self.store.begin().await?;
        models::forget_other_fits(&mut tx, fitted_at).await?;
        models::save(&mut tx, &fit).await?;
        self.store.commit(tx).await?;
        let (bg_nbd, gamma_gamma) = (fit.bg_nbd, fit.gamma_gamma);
        Ok(pb::FitModelsResponse {
            bg_nbd: Some(pb::BgNbdParams {
                r: bg_nbd.r,
                alpha: bg_nbd.alpha,
                a: bg_nbd.a,
                b: bg_nbd.b,
                log_likelihood,
            }),
            gamma_gamma: gamma_gamma.map(|g| pb::GammaGammaParams {
                p: g.p,
                q: g.q,
                v: g.v,
            }),
            customers: fit.customers,
            newly_at_risk,
            fit_time: Some(timestamp(self.store.now_micros())),
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
            models::most_valuable(&mut conn, limit as i64).await?
        } else {
            // Another horizon ranks differently: the customers are read a page at a time and
            // only the best `limit` are kept.
            let mut best: BinaryHeap<std::cmp::Reverse<(i64, std::cmp::Reverse<String>)>> = BinaryHeap::new();
            let mut kept: HashMap<String, History> = HashMap::new();
            let mut after = String::new();
            loop {
                let page = models::customers_after(&mut conn, &after, RANK_PAGE).await?;
                let Some((last, _)) = page.last() else { break };
                after = last.clone();
                for (party, h) in page {
                    best.push(std::cmp::Reverse((
                        value_minor(&fit, &h, horizon),
                        std::cmp::Reverse(party.clone()),
                    )));
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
        let customers = affinity_counts::customers(&mut conn).await?;
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
        let customers = affinity_counts::customers(&mut conn).await?;
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
