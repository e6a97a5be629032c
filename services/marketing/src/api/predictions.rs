//! Predictions per customer and cross-selling.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use crm_auth::Principal;
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1 as pb;
use crm_proto::marketing::v1::events as ev;

use super::MarketingApi;
use crate::domain::{affinity, bgnbd, gamma_gamma};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::profiles::Purchase;
use crate::storage::{models, profiles, timestamp};
use crate::view;

const DEFAULT_THRESHOLD_BPS: i32 = 3000;

/// Customers silent for longer than this are lost, not at risk: the customers service moves
/// them to lost by itself, and outreach to them is no at-risk call (an imported purchase history
/// from years ago announces nobody).
const AT_RISK_MAX_SILENCE_WEEKS: f64 = 52.0;

/// A customer's history in the models' terms (weeks), and their repeat spend.
#[derive(Debug, Clone)]
struct History {
    customer: bgnbd::Customer,
    repeat_mean_minor: f64,
}

fn day(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .date_naive()
}

/// Histories of every customer with purchases up to `as_of`.
fn histories(v: &view::View, as_of: NaiveDate) -> BTreeMap<String, History> {
    v.purchases
        .iter()
        .filter_map(|(party, purchases)| Some((party.clone(), history(purchases, as_of)?)))
        .collect()
}

/// One customer's history: repeat purchases are counted by distinct days after the first, as
/// in the CDNOW data the models were published on. None without purchases.
fn history(purchases: &[Purchase], as_of: NaiveDate) -> Option<History> {
    let mut by_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for p in purchases {
        *by_day.entry(day(p.placed_at)).or_default() += p.amount_minor;
    }
    let (&first, _) = by_day.iter().next()?;
    let last = by_day.keys().next_back().copied().unwrap_or(first);
    let repeats: Vec<i64> = by_day.iter().skip(1).map(|(_, amount)| *amount).collect();
    let weeks = |a: NaiveDate, b: NaiveDate| (b - a).num_days().max(0) as f64 / 7.0;
    Some(History {
        customer: bgnbd::Customer {
            x: repeats.len() as f64,
            t_x: weeks(first, last),
            t: weeks(first, as_of),
        },
        repeat_mean_minor: if repeats.is_empty() {
            0.0
        } else {
            repeats.iter().sum::<i64>() as f64 / repeats.len() as f64
        },
    })
}

impl MarketingApi {
    fn predict(&self, fit: &models::Fit, party: &str, h: &History, horizon_weeks: i32) -> pb::Prediction {
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
        let money = |v: f64| {
            Some(Money {
                amount_minor: v.round() as i64,
                currency_code: self.config.reporting_currency.clone(),
            })
        };
        pb::Prediction {
            party_id: party.to_string(),
            probability_alive_bps: (alive * 10_000.0).round() as i64,
            expected_purchases: if purchases.is_finite() { purchases } else { 0.0 },
            expected_spend: money(spend),
            lifetime_value: money(if purchases.is_finite() {
                purchases * spend
            } else {
                0.0
            }),
            horizon_weeks,
        }
    }

    async fn all_predictions(&self, horizon_weeks: i32) -> Result<Vec<pb::Prediction>> {
        let mut conn = self.store.conn().await?;
        let fit = models::latest(&mut conn)
            .await?
            .ok_or_else(|| Error::FailedPrecondition("no model fitted yet; call FitModels".into()))?;
        let v = self.view(&mut conn, day(fit.fitted_at)).await?;
        Ok(histories(&v, day(fit.fitted_at))
            .iter()
            .map(|(party, h)| self.predict(&fit, party, h, horizon_weeks))
            .collect())
    }

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
        let mut tx = self.store.begin().await?;
        let v = self.view(&mut tx, date).await?;
        let histories = histories(&v, date);
        let customers: Vec<bgnbd::Customer> = histories.values().map(|h| h.customer).collect();
        if customers.len() < 10 || !customers.iter().any(|c| c.x > 0.0) {
            return Err(Error::FailedPrecondition(
                "too little history to fit: need 10 customers and some repeat purchases".into(),
            ));
        }
        let bg_nbd = bgnbd::fit(&customers)
            .ok_or_else(|| Error::FailedPrecondition("the BG/NBD fit did not converge".into()))?;
        let spenders: Vec<gamma_gamma::Spender> = histories
            .values()
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
        let fitted_at = date
            .and_hms_opt(12, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_micros();
        let fit = models::Fit {
            bg_nbd,
            gamma_gamma,
            fitted_at,
            customers: customers.len() as i64,
        };
        models::save(&mut tx, &fit).await?;
        // Announce customers newly under the threshold; customers.at_risk moves them in customers.
        let mut newly_at_risk = 0;
        for (party, h) in &histories {
            let alive_bps = (bgnbd::prob_alive(&bg_nbd, &h.customer) * 10_000.0).round() as i64;
            let silent_weeks = h.customer.t - h.customer.t_x;
            if alive_bps < i64::from(threshold) && silent_weeks <= AT_RISK_MAX_SILENCE_WEEKS {
                if models::mark_at_risk(&mut tx, party, self.store.now_micros()).await? {
                    newly_at_risk += 1;
                    events::publish(
                        &mut tx,
                        ev::CUSTOMER_AT_RISK,
                        party,
                        &pb::CustomerAtRisk {
                            party_id: party.clone(),
                            probability_alive_bps: alive_bps,
                        },
                    )
                    .await?;
                }
            } else {
                models::clear_at_risk(&mut tx, party).await?;
            }
        }
        self.store.commit(tx).await?;
        Ok(pb::FitModelsResponse {
            bg_nbd: Some(pb::BgNbdParams {
                r: bg_nbd.r,
                alpha: bg_nbd.alpha,
                a: bg_nbd.a,
                b: bg_nbd.b,
                log_likelihood: bgnbd::log_likelihood(&bg_nbd, &customers),
            }),
            gamma_gamma: gamma_gamma.map(|g| pb::GammaGammaParams {
                p: g.p,
                q: g.q,
                v: g.v,
            }),
            customers: customers.len() as i64,
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
        let fit = models::latest(&mut conn)
            .await?
            .ok_or_else(|| Error::FailedPrecondition("no model fitted yet; call FitModels".into()))?;
        let as_of = day(fit.fitted_at);
        let end = super::end_of(as_of);
        let counted: Vec<Purchase> = profiles::purchases_of(&mut conn, &req.party_id)
            .await?
            .into_iter()
            .filter(|p| p.counts() && p.currency_code == self.config.reporting_currency && p.placed_at < end)
            .collect();
        let h = history(&counted, as_of)
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
        } as usize;
        let mut all = self.all_predictions(52).await?;
        all.retain(|p| p.probability_alive_bps < i64::from(threshold));
        all.sort_by(|a, b| {
            a.probability_alive_bps
                .cmp(&b.probability_alive_bps)
                .then_with(|| a.party_id.cmp(&b.party_id))
        });
        all.truncate(limit);
        Ok(pb::ListChurnRisksResponse { predictions: all })
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
        let mut all = self.all_predictions(horizon).await?;
        let value = |p: &pb::Prediction| {
            p.lifetime_value
                .as_ref()
                .map(|m| m.amount_minor)
                .unwrap_or_default()
        };
        all.sort_by(|a, b| value(b).cmp(&value(a)).then_with(|| a.party_id.cmp(&b.party_id)));
        all.truncate(limit);
        Ok(pb::ListKeyCustomersResponse { predictions: all })
    }

    async fn baskets(&self) -> Result<Vec<affinity::Basket>> {
        let mut conn = self.store.conn().await?;
        let mut by_party: HashMap<String, Vec<String>> = HashMap::new();
        for p in profiles::purchases(&mut conn)
            .await?
            .into_iter()
            .filter(|p| p.counts())
        {
            by_party
                .entry(p.party_id.clone())
                .or_default()
                .extend(p.product_ids);
        }
        Ok(by_party
            .into_iter()
            .map(|(customer_id, products)| affinity::Basket {
                customer_id,
                products,
            })
            .collect())
    }

    pub(super) async fn handle_list_product_affinities(
        &self,
        _p: &Principal,
        req: pb::ListProductAffinitiesRequest,
    ) -> Result<pb::ListProductAffinitiesResponse> {
        let min = if req.min_customers <= 0 {
            2
        } else {
            req.min_customers as usize
        };
        let rules = affinity::rules(&self.baskets().await?, min);
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
        let baskets = self.baskets().await?;
        let owned = baskets
            .iter()
            .find(|b| b.customer_id == req.party_id)
            .map(|b| b.products.clone())
            .unwrap_or_default();
        let rules = affinity::rules(&baskets, 2);
        Ok(pb::GetRecommendationsResponse {
            recommendations: affinity::recommend(&rules, &owned, limit)
                .into_iter()
                .map(|(product_id, lift)| pb::Recommendation { product_id, lift })
                .collect(),
        })
    }
}
