//! Customers events consumed by the service desk: the read copy of names, phones and tiers, and
//! re-prioritising open cases when a customer's tier changes.

use std::sync::Arc;

use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_platform::clock::Clock;
use crm_platform::contact::normalize_phone;
use crm_proto::customers::v1 as customers;
use crm_proto::servicedesk::v1 as pb;
use crm_storage::Tx;

use crate::domain::priority::priority;
use crate::events;
use crate::storage::cases;
use crate::storage::customers as copy;
use crate::storage::notifications;

/// The durable consumer of customers events.
pub fn customer_options() -> ConsumerOptions {
    ConsumerOptions::new("servicedesk-customer-events", "customers").subjects(&[
        "crm.customers.party.created",
        "crm.customers.parties.imported",
        "crm.customers.party.updated",
        "crm.customers.party.tier_changed",
        "crm.customers.parties.tier_changed",
        "crm.customers.party.merged",
        "crm.customers.party.erased",
    ])
}

/// The durable consumer of marketing's at-risk announcements.
pub fn marketing_options() -> ConsumerOptions {
    ConsumerOptions::new("servicedesk-marketing-events", "marketing")
        .subjects(&["crm.marketing.customer.at_risk"])
}

/// Flags customers at risk of leaving, for outbound call lists, and queues an outreach notice.
#[derive(Debug, Clone)]
pub struct MarketingEvents {
    /// Stamps notifications.
    pub clock: Arc<dyn Clock>,
}

impl EventHandler for MarketingEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        if event.event_type == "crm.marketing.customer.at_risk.v1" {
            let e: crm_proto::marketing::v1::CustomerAtRisk = event.decode()?;
            copy::mark_at_risk(tx, &e.party_id).await?;
            let payload = serde_json::json!({ "probability_alive_bps": e.probability_alive_bps });
            let key = format!("at_risk:{}:{}", e.party_id, event.id);
            notifications::enqueue(
                tx,
                &key,
                "at_risk_outreach",
                &e.party_id,
                &payload,
                self.clock.now_micros(),
            )
            .await?;
        }
        Ok(())
    }
}

/// Keeps the customer copy current and open cases prioritised by the latest tier.
#[derive(Debug, Clone)]
pub struct CustomerEvents {
    /// Stamps timeline entries.
    pub clock: Arc<dyn Clock>,
}

fn phones(p: &customers::Party) -> Vec<String> {
    p.contact_points
        .iter()
        .filter(|c| c.kind == customers::ContactPointKind::Phone as i32)
        .filter_map(|c| {
            if c.normalized.is_empty() {
                normalize_phone(&c.value)
            } else {
                Some(c.normalized.clone())
            }
        })
        .collect()
}

impl EventHandler for CustomerEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let parties = match event.event_type.as_str() {
            "crm.customers.party.created.v1" => {
                Vec::from_iter(event.decode::<customers::PartyCreated>()?.party)
            }
            "crm.customers.parties.imported.v1" => {
                let parties = event.decode::<customers::PartiesImported>()?.parties;
                copy::upsert_many(tx, &copies_of(&parties)).await?;
                // Imports of cases look customers up by external id.
                crm_storage::statistics::analyze_if_grown(tx, "customers").await?;
                return Ok(());
            }
            "crm.customers.party.updated.v1" => {
                Vec::from_iter(event.decode::<customers::PartyUpdated>()?.party)
            }
            "crm.customers.party.tier_changed.v1" => {
                let e: customers::PartyTierChanged = event.decode()?;
                self.apply_tiers(tx, vec![(e.party_id, e.tier)]).await?;
                return Ok(());
            }
            "crm.customers.parties.tier_changed.v1" => {
                let e: customers::PartiesTierChanged = event.decode()?;
                let moves = e.changes.into_iter().map(|c| (c.party_id, c.tier)).collect();
                self.apply_tiers(tx, moves).await?;
                return Ok(());
            }
            "crm.customers.party.merged.v1" => {
                let e: customers::PartyMerged = event.decode()?;
                for merged in &e.merged_ids {
                    copy::rekey(tx, merged, &e.survivor_id).await?;
                }
                return Ok(());
            }
            "crm.customers.party.erased.v1" => {
                copy::erase(tx, &event.decode::<customers::PartyErased>()?.party_id).await?;
                return Ok(());
            }
            other => {
                tracing::debug!(event_type = other, "ignored");
                return Ok(());
            }
        };
        copy::upsert_many(tx, &copies_of(&parties)).await?;
        Ok(())
    }
}

/// What the desk's copy keeps of `parties`.
fn copies_of(parties: &[customers::Party]) -> Vec<copy::PartyCopy> {
    parties
        .iter()
        .map(|p| copy::PartyCopy {
            party_id: p.id.clone(),
            display_name: p.display_name.clone(),
            phones: phones(p),
            birth_date: p.birth_date.clone(),
            source: p.source.clone(),
            external_id: p.external_id.clone(),
        })
        .collect()
}

impl CustomerEvents {
    /// Records the customers' new tiers, (party id, tier) each, and recomputes the priority of
    /// their open cases.
    async fn apply_tiers(&self, tx: &mut Tx, tiers: Vec<(String, String)>) -> anyhow::Result<()> {
        let now = self.clock.now_micros();
        let tiers: Vec<(String, String)> = crm_storage::last_per_key(&tiers, |(party, _)| party.as_str())
            .into_iter()
            .cloned()
            .collect();
        copy::set_tiers(tx, &tiers).await?;
        let ids: Vec<String> = tiers.iter().map(|(party, _)| party.clone()).collect();
        let tier_of: std::collections::HashMap<&str, &str> =
            tiers.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let open = cases::open_of_parties(tx, &ids).await?;
        for mut record in open {
            let tier = tier_of
                .get(record.case.party_id.as_str())
                .copied()
                .unwrap_or_default();
            let previous = record.case.priority;
            record.case.customer_tier = tier.into();
            record.case.priority = priority(record.case.r#type, record.case.severity, tier);
            anyhow::ensure!(
                cases::update(tx, &record).await?,
                "case {} changed concurrently",
                record.case.id
            );
            if record.case.priority != previous {
                let text = format!(
                    "priority {previous} -> {} (customer tier {tier})",
                    record.case.priority
                );
                cases::add_timeline(tx, &record.case.id, now, "system", "priority", &text, true).await?;
                record.version += 1;
                let case = record.to_proto(Vec::new());
                events::publish(
                    tx,
                    "case.priority_changed",
                    &record.case.id,
                    &pb::CasePriorityChanged {
                        case: Some(case),
                        previous_priority: previous,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }
}
