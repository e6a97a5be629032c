//! Value figures, the pyramid tiers and the Pareto figure.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::events as ev;
use serde_json::json;

use super::{CustomersApi, party_for_write};
use crate::domain::pyramid::{self, TierSpec};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{audit, parties, rankings, settings};

fn check_money(money: &Option<Money>, field: &str, currency: &str, v: &mut Violations) -> i64 {
    match money {
        None => {
            v.add(field, "required");
            0
        }
        Some(m) => {
            v.check(
                m.amount_minor < 0,
                format!("{field}.amount_minor"),
                "must not be negative",
            );
            v.check(
                m.currency_code != currency,
                format!("{field}.currency_code"),
                format!("value figures are kept in {currency}"),
            );
            m.amount_minor
        }
    }
}

fn config_proto(tiers: &[TierSpec]) -> pb::ValueTierConfig {
    pb::ValueTierConfig {
        tiers: tiers
            .iter()
            .map(|t| pb::ValueTier {
                name: t.name.clone(),
                customer_share_bps: t.customer_share_bps,
            })
            .collect(),
    }
}

impl CustomersApi {
    pub(super) async fn handle_set_party_value(
        &self,
        principal: &Principal,
        req: pb::SetPartyValueRequest,
    ) -> Result<pb::SetPartyValueResponse> {
        let currency = &self.config.reporting_currency;
        let mut v = Violations::new();
        v.check(req.party_id.is_empty(), "party_id", "required");
        let lifetime = check_money(&req.lifetime_revenue, "lifetime_revenue", currency, &mut v);
        let trailing = check_money(
            &req.trailing_12m_revenue,
            "trailing_12m_revenue",
            currency,
            &mut v,
        );
        let both_valid =
            req.lifetime_revenue.is_some() && req.trailing_12m_revenue.is_some() && lifetime >= 0;
        v.check(
            both_valid && trailing > lifetime,
            "trailing_12m_revenue",
            "cannot exceed the lifetime revenue",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        party_for_write(&mut tx, principal, &req.party_id, None).await?;
        parties::set_value(
            &mut tx,
            &req.party_id,
            lifetime,
            trailing,
            self.store.now_micros(),
        )
        .await?;
        let party = parties::get(&mut tx, &req.party_id)
            .await?
            .ok_or_else(|| Error::NotFound("party".into()))?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "party",
            &party.id,
            "value_set",
            json!({"lifetime_revenue_minor": lifetime, "trailing_12m_revenue_minor": trailing, "currency": currency}), self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::PARTY_VALUE_CHANGED,
            &party.id,
            &pb::PartyValueChanged {
                party_id: party.id.clone(),
                value: party.value.clone(),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::SetPartyValueResponse { party: Some(party) })
    }

    pub(super) async fn handle_recompute_value_tiers(
        &self,
        principal: &Principal,
        _req: pb::RecomputeValueTiersRequest,
    ) -> Result<pb::RecomputeValueTiersResponse> {
        let (db, clock) = (self.store.db().clone(), self.store.clock().clone());
        crate::ranking::start(&db, &principal.user_id, self.store.now_micros())
            .await
            .map_err(Error::Internal)?;
        // In a task of its own: a step outlasting the wait (the staging at a million), or the
        // caller's deadline ending the call, does not stop it; the job takes over after.
        let wait = self.ranking_wait();
        let steps = tokio::spawn({
            let db = db.clone();
            async move { crate::ranking::go_through(&db, clock.as_ref(), wait).await }
        });
        match tokio::time::timeout(wait, steps).await {
            Ok(Ok(Err(err))) => return Err(Error::Internal(err)),
            Ok(Err(panicked)) => return Err(Error::Internal(panicked.into())),
            Ok(Ok(Ok(()))) | Err(_) => {}
        }
        // From the database written to: a replica may not have the ranking yet.
        let mut conn = db.pool().acquire().await?;
        let ranking = rankings::latest(&mut conn)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the re-ranking just started is gone")))?;
        Ok(pb::RecomputeValueTiersResponse {
            ranked: ranking.ranked,
            tier_changes: ranking.tier_changes,
            ranking: Some(ranking.to_proto()),
        })
    }

    /// How long RecomputeValueTiers may store its moves before answering: `--ranking-wait`,
    /// within half the time the call has left.
    fn ranking_wait(&self) -> std::time::Duration {
        crm_platform::deadline::remaining().map_or(self.config.ranking_wait, |left| {
            self.config.ranking_wait.min(left / 2)
        })
    }

    pub(super) async fn handle_get_value_pyramid(
        &self,
        _principal: &Principal,
        _req: pb::GetValuePyramidRequest,
    ) -> Result<pb::GetValuePyramidResponse> {
        let mut conn = self.store.conn().await?;
        let tiers = settings::value_tiers(&mut conn).await?;
        // The pyramid of the last ranking (the sweeper re-ranks within a tick of any change of
        // value): one row, whatever the size of the base. Before the first ranking under these
        // tiers, it is ranked here and kept.
        let ranking = rankings::latest(&mut conn).await?;
        let snapshot = match settings::pyramid_snapshot(&mut conn).await? {
            Some(s) if s.ranked_under(&tiers) => s,
            _ => crate::value::store_pyramid(&mut conn, &tiers, self.store.now_micros())
                .await
                .map_err(Error::Internal)?,
        };
        let p = pyramid::from_totals(
            &pyramid::Totals {
                ranked: usize::try_from(snapshot.ranked).unwrap_or_default(),
                tier_revenue: snapshot.tier_revenue.iter().copied().map(i128::from).collect(),
                top_20_percent_revenue: i128::from(snapshot.top_20_percent_revenue),
                tier_contribution: snapshot
                    .tier_contribution
                    .iter()
                    .copied()
                    .map(i128::from)
                    .collect(),
                top_20_percent_contribution: i128::from(snapshot.top_20_percent_contribution),
                rank_reaching_80_percent: usize::try_from(snapshot.rank_reaching_80_percent)
                    .unwrap_or_default(),
            },
            &tiers,
        );
        let money = |amount_minor| {
            Some(Money {
                amount_minor,
                currency_code: self.config.reporting_currency.clone(),
            })
        };
        Ok(pb::GetValuePyramidResponse {
            levels: p
                .levels
                .iter()
                .map(|l| pb::PyramidLevel {
                    name: l.name.clone(),
                    customers: l.customers,
                    revenue: money(l.revenue_minor),
                    revenue_share_bps: l.revenue_share_bps,
                    contribution: money(l.contribution_minor),
                    contribution_share_bps: l.contribution_share_bps,
                })
                .collect(),
            ranked_customers: p.ranked_customers,
            total_revenue: money(p.total_revenue_minor),
            top_20_percent_revenue_share_bps: p.top_20_percent_revenue_share_bps,
            customers_for_80_percent_revenue_bps: p.customers_for_80_percent_revenue_bps,
            rank_time: Some(crate::storage::timestamp(snapshot.at)),
            total_contribution: money(p.total_contribution_minor),
            top_20_percent_contribution_share_bps: p.top_20_percent_contribution_share_bps,
            pareto: pyramid::pareto_label(p.top_20_percent_contribution_share_bps),
            cost_to_serve_known: !self.config.case_cost.is_empty(),
            customers_for_80_percent_contribution_bps: p.customers_for_80_percent_revenue_bps,
            ranking: ranking.map(|r| r.to_proto()),
        })
    }

    pub(super) async fn handle_get_value_tier_config(
        &self,
        _principal: &Principal,
        _req: pb::GetValueTierConfigRequest,
    ) -> Result<pb::GetValueTierConfigResponse> {
        let mut conn = self.store.conn().await?;
        let tiers = settings::value_tiers(&mut conn).await?;
        Ok(pb::GetValueTierConfigResponse {
            config: Some(config_proto(&tiers)),
        })
    }

    pub(super) async fn handle_update_value_tier_config(
        &self,
        principal: &Principal,
        req: pb::UpdateValueTierConfigRequest,
    ) -> Result<pb::UpdateValueTierConfigResponse> {
        let config = req.config.ok_or_else(|| invalid("config", "required"))?;
        let tiers: Vec<TierSpec> = config
            .tiers
            .iter()
            .map(|t| TierSpec {
                name: t.name.clone(),
                customer_share_bps: t.customer_share_bps,
            })
            .collect();
        let mut v = Violations::new();
        v.extend_prefixed("config", pyramid::validate_tiers(&tiers).into());
        v.finish()?;
        let mut tx = self.store.begin().await?;
        settings::set_value_tiers(&mut tx, &tiers).await?;
        let stored = config_proto(&tiers);
        audit::record(
            &mut tx,
            &principal.user_id,
            "config",
            "value_tiers",
            "updated",
            json!(
                tiers
                    .iter()
                    .map(|t| json!({"name": t.name, "customer_share_bps": t.customer_share_bps}))
                    .collect::<Vec<_>>()
            ),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::VALUE_TIERS_CHANGED,
            "value_tiers",
            &pb::ValueTierConfigChanged {
                config: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateValueTierConfigResponse { config: Some(stored) })
    }
}
