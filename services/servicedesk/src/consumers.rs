//! Events consumed by the service desk: from customers, the read copy of names, phones and
//! tiers, and re-prioritising open cases when a customer's tier changes; from marketing, the
//! customers at risk; from sales, the alerts and task reminders it delivers to staff.

use std::sync::Arc;

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_platform::clock::Clock;
use crm_platform::contact::normalize_phone;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::events as customers_events;
use crm_proto::marketing::v1::events as marketing_events;
use crm_proto::sales::v1::events as sales_events;
use crm_proto::servicedesk::v1 as pb;
use crm_proto::servicedesk::v1::events as ev;
use crm_storage::Tx;

use crate::domain::priority::priority;
use crate::events::{NewEvent, enqueue_many};
use crate::storage::cases;
use crate::storage::customers as copy;
use crate::storage::notifications;

/// The durable consumer `servicedesk-customer-events`, reading the customers stream.
pub const CUSTOMER_EVENTS: Reading = Reading {
    durable: "servicedesk-customer-events",
    domain: "customers",
};

/// The durable consumer of customers events.
pub fn customer_options() -> ConsumerOptions {
    ConsumerOptions::reading(CUSTOMER_EVENTS).subjects(&[
        customers_events::PARTY_CREATED.subject,
        customers_events::PARTIES_IMPORTED.subject,
        customers_events::PARTY_UPDATED.subject,
        customers_events::PARTY_TIER_CHANGED.subject,
        customers_events::PARTIES_TIER_CHANGED.subject,
        customers_events::PARTY_MERGED.subject,
        customers_events::PARTY_ERASED.subject,
        customers_events::VALUE_TIERS_CHANGED.subject,
    ])
}

/// The durable consumer `servicedesk-marketing-events`, reading the marketing stream.
pub const MARKETING_EVENTS: Reading = Reading {
    durable: "servicedesk-marketing-events",
    domain: "marketing",
};

/// The durable consumer of marketing's at-risk announcements, campaign contacts and consent.
pub fn marketing_options() -> ConsumerOptions {
    ConsumerOptions::reading(MARKETING_EVENTS).subjects(&[
        marketing_events::CUSTOMER_AT_RISK.subject,
        marketing_events::CAMPAIGN_CONTACTED.subject,
        marketing_events::CONSENT_CHANGED.subject,
    ])
}

/// The durable consumer `servicedesk-sales-events`, reading the sales stream.
pub const SALES_EVENTS: Reading = Reading {
    durable: "servicedesk-sales-events",
    domain: "sales",
};

/// The durable consumer of the sales alerts and task reminders the desk delivers.
pub fn sales_options() -> ConsumerOptions {
    ConsumerOptions::reading(SALES_EVENTS).subjects(&[
        sales_events::ALERT_RAISED.subject,
        sales_events::TASK_REMINDER_DUE.subject,
    ])
}

/// Delivers what sales raises for people: an alert to the rep it concerns and their manager,
/// a task's reminder to its owner, as staff notices through the desk's notification queue.
#[derive(Debug, Clone)]
pub struct SalesEvents {
    /// Stamps notifications.
    pub clock: Arc<dyn Clock>,
}

impl EventHandler for SalesEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let now = self.clock.now_micros();
        match event.event_type.as_str() {
            sales_events::types::ALERT_RAISED => {
                let alert = event
                    .decode::<crm_proto::sales::v1::AlertRaised>()?
                    .alert
                    .unwrap_or_default();
                let kind = crm_proto::sales::v1::AlertKind::try_from(alert.kind).unwrap_or_default();
                let payload = serde_json::json!({
                    "alert_id": alert.id,
                    "kind": kind.as_str_name().trim_start_matches("ALERT_KIND_").to_lowercase(),
                    "subject_id": alert.subject_id,
                    "owner_id": alert.owner_id,
                    "manager_id": alert.manager_id,
                    "message": alert.message,
                });
                let mut told: Vec<&str> = Vec::new();
                for user in [alert.owner_id.as_str(), alert.manager_id.as_str()] {
                    if user.is_empty() || told.contains(&user) {
                        continue;
                    }
                    told.push(user);
                    let key = format!("alert:{}:{user}", alert.id);
                    notifications::enqueue_to_staff(tx, &key, "sales_alert", user, "", &payload, now).await?;
                }
            }
            sales_events::types::TASK_REMINDER_DUE => {
                let task = event
                    .decode::<crm_proto::sales::v1::TaskReminderDue>()?
                    .task
                    .unwrap_or_default();
                let time = |t: &Option<prost_types::Timestamp>| {
                    t.as_ref()
                        .map(|t| crm_platform::time::micros(t).to_string())
                        .unwrap_or_default()
                };
                let payload = serde_json::json!({
                    "task_id": task.id,
                    "title": task.title,
                    "notes": task.notes,
                    "due_time": task.due_time.as_ref().map(|t| {
                        chrono::DateTime::from_timestamp_micros(crm_platform::time::micros(t))
                            .unwrap_or_default()
                            .to_rfc3339()
                    }),
                    "party_id": task.party_id,
                    "opportunity_id": task.opportunity_id,
                    "case_id": task.case_id,
                });
                // A rescheduled task reminds again: the reminder time keys it.
                let key = format!("task:{}:{}:{}", task.id, time(&task.remind_time), task.owner_id);
                notifications::enqueue_to_staff(
                    tx,
                    &key,
                    "task_reminder",
                    &task.owner_id,
                    &task.party_id,
                    &payload,
                    now,
                )
                .await?;
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}

/// Flags customers at risk of leaving, for outbound call lists, and queues an outreach notice;
/// queues each campaign contact's message on the campaign's channel; keeps the consent copy the
/// delivery checks.
#[derive(Debug, Clone)]
pub struct MarketingEvents {
    /// Stamps notifications.
    pub clock: Arc<dyn Clock>,
}

impl EventHandler for MarketingEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        if event.event_type == marketing_events::types::CAMPAIGN_CONTACTED {
            let e: crm_proto::marketing::v1::CampaignContacted = event.decode()?;
            let channel = crate::domain::notify::campaign_channel(e.channel);
            let payload = serde_json::json!({
                "campaign_id": e.campaign_id,
                "campaign_name": e.campaign_name,
                "code": e.code,
                "message": e.message,
            });
            let keys: Vec<String> = e
                .party_ids
                .iter()
                .map(|party| format!("campaign:{}:{party}", e.campaign_id))
                .collect();
            let notices: Vec<notifications::Notice<'_>> = e
                .party_ids
                .iter()
                .zip(&keys)
                .map(|(party, key)| notifications::Notice {
                    dedupe_key: key,
                    channel,
                    template: "campaign",
                    recipient: party,
                    about: party,
                })
                .collect();
            notifications::insert_many(tx, &notices, &payload, self.clock.now_micros()).await?;
            return Ok(());
        }
        if event.event_type == marketing_events::types::CONSENT_CHANGED {
            let c = event
                .decode::<crm_proto::marketing::v1::ConsentChanged>()?
                .consent
                .unwrap_or_default();
            let at = c
                .update_time
                .as_ref()
                .map(crm_platform::time::micros)
                .unwrap_or_default();
            crate::storage::consents::set(tx, &c.party_id, c.channel, (c.opted_out, c.do_not_contact), at)
                .await?;
            return Ok(());
        }
        if event.event_type == marketing_events::types::CUSTOMER_AT_RISK {
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
    /// The JetStream API, to purge an erased party's events from the stream.
    pub js: async_nats::jetstream::Context,
    /// The tiers the settings name for preferential service (empty: the pyramid's top 20%).
    pub preferential_tiers: Vec<String>,
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
            customers_events::types::PARTY_CREATED => {
                Vec::from_iter(event.decode::<customers::PartyCreated>()?.party)
            }
            customers_events::types::PARTIES_IMPORTED => {
                let parties = event.decode::<customers::PartiesImported>()?.parties;
                copy::upsert_many(tx, &copies_of(&parties)).await?;
                // Imports of cases look customers up by external id.
                crm_storage::statistics::analyze_if_grown(tx, "customers").await?;
                return Ok(());
            }
            customers_events::types::PARTY_UPDATED => {
                Vec::from_iter(event.decode::<customers::PartyUpdated>()?.party)
            }
            customers_events::types::PARTY_TIER_CHANGED => {
                let e: customers::PartyTierChanged = event.decode()?;
                self.apply_tiers(tx, vec![(e.party_id, e.tier)]).await?;
                return Ok(());
            }
            customers_events::types::PARTIES_TIER_CHANGED => {
                let e: customers::PartiesTierChanged = event.decode()?;
                let moves = e.changes.into_iter().map(|c| (c.party_id, c.tier)).collect();
                self.apply_tiers(tx, moves).await?;
                return Ok(());
            }
            customers_events::types::PARTY_MERGED => {
                let e: customers::PartyMerged = event.decode()?;
                for merged in &e.merged_ids {
                    let version = e.merged_versions.get(merged).copied().unwrap_or_default();
                    copy::rekey(tx, merged, &e.survivor_id, version).await?;
                }
                return Ok(());
            }
            customers_events::types::VALUE_TIERS_CHANGED => {
                let e: customers::ValueTierConfigChanged = event.decode()?;
                let pyramid: Vec<(String, i64)> = e
                    .config
                    .map(|c| {
                        c.tiers
                            .into_iter()
                            .map(|t| (t.name, i64::from(t.customer_share_bps)))
                            .collect()
                    })
                    .unwrap_or_default();
                crate::storage::tiers::set_pyramid(tx, &pyramid).await?;
                return Ok(());
            }
            customers_events::types::PARTY_ERASED => {
                let e: customers::PartyErased = event.decode()?;
                copy::erase(tx, &e.party_id, e.version).await?;
                // Its cases' events carried what it wrote.
                crm_events::privacy::forget(tx, &self.js, "servicedesk", &e.party_id).await?;
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
            version: p.version(),
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
        let preferential = crate::storage::tiers::preferential(tx, &self.preferential_tiers).await?;
        // Every open case takes the tier; those whose priority moves get a timeline entry and
        // an event. Written with a few multi-row statements per event: a re-rank announces
        // thousands of customers at once. Each case goes with its priority before.
        let mut changes: Vec<(cases::CaseRecord, i32)> = open
            .into_iter()
            .map(|mut record| {
                let tier = tier_of
                    .get(record.case.party_id.as_str())
                    .copied()
                    .unwrap_or_default();
                let previous = record.case.priority;
                record.case.customer_tier = tier.into();
                record.case.priority = priority(
                    record.case.r#type,
                    record.case.severity,
                    preferential.includes(tier),
                );
                (record, previous)
            })
            .collect();
        let written = cases::set_priorities(
            tx,
            &changes
                .iter()
                .map(|(r, _)| cases::Reprioritised {
                    id: &r.case.id,
                    version: r.version,
                    customer_tier: &r.case.customer_tier,
                    priority: r.case.priority,
                })
                .collect::<Vec<_>>(),
        )
        .await?;
        anyhow::ensure!(
            written == changes.len() as u64,
            "{} of {} open cases changed concurrently",
            changes.len() as u64 - written,
            changes.len()
        );
        let moved_ids: Vec<&str> = changes
            .iter()
            .filter(|(r, previous)| r.case.priority != *previous)
            .map(|(r, _)| r.case.id.as_str())
            .collect();
        let last = cases::last_timeline_seqs(tx, &moved_ids).await?;
        let mut entries = Vec::with_capacity(moved_ids.len());
        let mut announced = Vec::with_capacity(moved_ids.len());
        for (record, previous) in changes
            .iter_mut()
            .filter(|(r, previous)| r.case.priority != *previous)
        {
            let previous = *previous;
            record.version += 1;
            entries.push(cases::NumberedEntry {
                seq: last.get(&record.case.id).copied().unwrap_or_default() + 1,
                case_id: record.case.id.clone(),
                at: now,
                actor_id: "system".into(),
                kind: "priority",
                text: format!(
                    "priority {previous} -> {} (customer tier {})",
                    record.case.priority, record.case.customer_tier
                ),
                internal: true,
            });
            announced.push(NewEvent::of(
                ev::CASE_PRIORITY_CHANGED,
                record.case.id.clone(),
                &pb::CasePriorityChanged {
                    case: Some(record.to_proto(Vec::new())),
                    previous_priority: previous,
                },
            ));
        }
        cases::add_numbered_timeline(tx, &entries).await?;
        enqueue_many(tx, announced).await?;
        Ok(())
    }
}
