//! Customers events consumed by sales: the read copy of accounts, merges (re-keying every sales
//! record of the merged parties) and erasures (anonymising the sales copy).

use std::sync::Arc;

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_platform::clock::Clock;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::events as customers_events;
use crm_proto::marketing::v1::events as marketing_events;
use crm_proto::partners::v1 as partners;
use crm_proto::partners::v1::events as partners_events;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::events as ev;
use crm_storage::Tx;

use crate::storage::accounts;

/// The durable consumer `sales-customer-events`, reading the customers stream.
pub const CUSTOMER_EVENTS: Reading = Reading {
    durable: "sales-customer-events",
    domain: "customers",
};

/// The durable consumer of customers events.
pub fn options() -> ConsumerOptions {
    ConsumerOptions::reading(CUSTOMER_EVENTS).subjects(&[
        customers_events::PARTY_CREATED.subject,
        customers_events::PARTIES_IMPORTED.subject,
        customers_events::PARTY_UPDATED.subject,
        customers_events::PARTY_MERGED.subject,
        customers_events::PARTY_ERASED.subject,
        customers_events::COMPETITOR_CHANGED.subject,
    ])
}

/// Applies customers events to the sales database.
#[derive(Debug, Clone)]
pub struct CustomerEvents {
    /// The JetStream API, to purge an erased party's events from the stream.
    pub js: async_nats::jetstream::Context,
}

impl EventHandler for CustomerEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            customers_events::types::PARTY_CREATED => {
                let e: customers::PartyCreated = event.decode()?;
                copy_accounts(tx, e.party.as_slice()).await?;
            }
            customers_events::types::PARTIES_IMPORTED => {
                let e: customers::PartiesImported = event.decode()?;
                copy_accounts(tx, &e.parties).await?;
                // Imports look accounts up by external id.
                crm_storage::statistics::analyze_if_grown(tx, "accounts").await?;
            }
            customers_events::types::PARTY_UPDATED => {
                let e: customers::PartyUpdated = event.decode()?;
                copy_accounts(tx, e.party.as_slice()).await?;
            }
            customers_events::types::PARTY_MERGED => {
                let e: customers::PartyMerged = event.decode()?;
                for merged in &e.merged_ids {
                    let version = e.merged_versions.get(merged).copied().unwrap_or_default();
                    accounts::rekey(tx, merged, &e.survivor_id, version).await?;
                }
            }
            customers_events::types::COMPETITOR_CHANGED => {
                let e: customers::CompetitorChanged = event.decode()?;
                let competitor = e.competitor.unwrap_or_default();
                if e.deleted {
                    crate::storage::competitors::delete(tx, &competitor.id).await?;
                } else {
                    crate::storage::competitors::upsert(tx, &competitor.id, &competitor.name).await?;
                }
            }
            customers_events::types::PARTY_ERASED => {
                let e: customers::PartyErased = event.decode()?;
                accounts::anonymise(tx, &e.party_id, e.version).await?;
                // The leads of the party announced its contact data.
                crm_events::privacy::forget(tx, &self.js, "sales", &e.party_id).await?;
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}

/// Stores the account copies of `parties` (distinct) and assigns them their territories.
async fn copy_accounts(tx: &mut Tx, parties: &[customers::Party]) -> anyhow::Result<()> {
    if parties.is_empty() {
        return Ok(());
    }
    let copies: Vec<accounts::Account> = parties.iter().map(accounts::Account::from_party).collect();
    accounts::upsert_many(tx, &copies).await?;
    let ids: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
    crate::assignment::reassign(tx, &ids).await?;
    Ok(())
}

/// The durable consumer `sales-partner-events`, reading the partners stream.
pub const PARTNER_EVENTS: Reading = Reading {
    durable: "sales-partner-events",
    domain: "partners",
};

/// The durable consumer of partners events: e-orders and approved deal registrations.
pub fn partner_options() -> ConsumerOptions {
    ConsumerOptions::reading(PARTNER_EVENTS).subjects(&[
        partners_events::PARTNER_CHANGED.subject,
        partners_events::PARTNER_ORDER_SUBMITTED.subject,
        partners_events::DEAL_REGISTRATION_APPROVED.subject,
    ])
}

/// Keeps the copy of channel partners; turns partner e-orders into sales orders on the
/// partner's channel and approved deal registrations into leads, each exactly once (by the
/// partner's reference and the registration id).
#[derive(Debug, Clone)]
pub struct PartnerEvents {
    /// When the orders and leads made here are recorded.
    pub clock: Arc<dyn Clock>,
}

impl EventHandler for PartnerEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            partners_events::types::PARTNER_CHANGED => {
                if let Some(p) = event.decode::<partners::PartnerChanged>()?.partner {
                    crate::storage::channel_partners::upsert(tx, &p).await?;
                }
            }
            partners_events::types::PARTNER_ORDER_SUBMITTED => {
                let e: partners::PartnerOrderSubmitted = event.decode()?;
                if let Some(order) = e.order {
                    partner_order(tx, &order, &e.party_id, self.clock.now_micros()).await?;
                }
            }
            partners_events::types::DEAL_REGISTRATION_APPROVED => {
                if let Some(r) = event.decode::<partners::DealRegistrationApproved>()?.registration {
                    registration_lead(tx, &r, self.clock.now_micros()).await?;
                }
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}

async fn partner_order(
    tx: &mut Tx,
    submitted: &partners::PartnerOrder,
    party_id: &str,
    now: i64,
) -> anyhow::Result<()> {
    use crate::storage::{catalog, orders};
    let partner_id = submitted.partner_id.clone();
    if orders::by_external_ref(tx, &partner_id, &submitted.external_ref)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let reject = |reason: String| sales::OrderRejected {
        partner_id: partner_id.clone(),
        external_ref: submitted.external_ref.clone(),
        reason,
    };
    let account_ok = accounts::get(tx, party_id)
        .await?
        .is_some_and(|a| a.status == "active");
    let book = catalog::default_price_book(tx, &submitted.currency_code).await?;
    let problem = match (&book, account_ok) {
        (_, false) => Some(format!("party {party_id} is not a live customer")),
        (None, _) => Some(format!("no default price book in {}", submitted.currency_code)),
        _ => None,
    };
    if let Some(reason) = problem {
        return Ok(crate::events::publish(tx, ev::ORDER_REJECTED, &partner_id, &reject(reason)).await?);
    }
    let book = book.unwrap_or_default();
    let mut lines: Vec<sales::LineItem> = submitted
        .lines
        .iter()
        .map(|l| sales::LineItem {
            product_id: l.product_id.clone(),
            quantity: l.quantity,
            ..Default::default()
        })
        .collect();
    let totals = match crate::api::price_lines(tx, &book, &mut lines, 0, false).await {
        Ok(totals) => totals,
        Err(crate::error::Error::Invalid(v)) => {
            let reason = v
                .iter()
                .map(|(f, d)| format!("{f}: {d}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Ok(crate::events::publish(tx, ev::ORDER_REJECTED, &partner_id, &reject(reason)).await?);
        }
        Err(err) => return Err(anyhow::anyhow!("pricing a partner order: {err}")),
    };
    let mut order = sales::Order {
        party_id: party_id.to_string(),
        channel: Some(sales::Channel {
            partner_id: partner_id.clone(),
        }),
        lines,
        total: Some(crm_proto::common::v1::Money {
            amount_minor: totals.total_minor,
            currency_code: book.currency_code.clone(),
        }),
        status: sales::OrderStatus::Placed as i32,
        external_ref: submitted.external_ref.clone(),
        owner_id: format!("partner:{partner_id}"),
        ..Default::default()
    };
    orders::insert(tx, &mut order, now).await?;
    let stored = orders::get(tx, &order.id).await?.unwrap_or(order);
    crate::events::publish(
        tx,
        ev::ORDER_PLACED,
        &stored.party_id,
        &sales::OrderPlaced {
            order: Some(stored.clone()),
        },
    )
    .await?;
    Ok(())
}

async fn registration_lead(tx: &mut Tx, r: &partners::DealRegistration, now: i64) -> anyhow::Result<()> {
    use crate::storage::leads;
    let source = sales::LeadSource::Partner as i32;
    if leads::by_source_ref(tx, source, &r.id).await?.is_some() {
        return Ok(());
    }
    let estimate = r
        .estimated_amount
        .as_ref()
        .map(|m| format!(" Estimated {} {}.", m.amount_minor, m.currency_code))
        .unwrap_or_default();
    let mut lead = sales::Lead {
        source,
        source_ref: r.id.clone(),
        company_name: r.company_name.clone(),
        contact_name: r.contact_name.clone(),
        email: r.email.to_lowercase(),
        phone: r.phone.clone(),
        status: sales::LeadStatus::New as i32,
        notes: format!("Registered by partner {}.{estimate} {}", r.partner_id, r.notes)
            .trim()
            .to_string(),
        ..Default::default()
    };
    leads::insert(tx, &mut lead, now).await?;
    let stored = leads::get(tx, &lead.id).await?.unwrap_or(lead);
    crate::events::publish(
        tx,
        ev::LEAD_CREATED,
        &stored.id,
        &sales::LeadCreated {
            lead: Some(stored.clone()),
        },
    )
    .await?;
    Ok(())
}

/// The durable consumer `sales-marketing-events`, reading the marketing stream.
pub const MARKETING_EVENTS: Reading = Reading {
    durable: "sales-marketing-events",
    domain: "marketing",
};

/// The durable consumer of marketing events: campaign responses.
pub fn marketing_options() -> ConsumerOptions {
    ConsumerOptions::reading(MARKETING_EVENTS).subjects(&[marketing_events::CAMPAIGN_RESPONSE.subject])
}

/// Turns each campaign response into one lead (source CAMPAIGN, reference campaign:response),
/// except responses that were orders.
#[derive(Debug, Clone)]
pub struct MarketingEvents {
    /// When the leads made here are recorded.
    pub clock: Arc<dyn Clock>,
}

impl EventHandler for MarketingEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        use crate::storage::leads;
        if event.event_type != marketing_events::types::CAMPAIGN_RESPONSE {
            return Ok(());
        }
        let r: crm_proto::marketing::v1::CampaignResponse = event.decode()?;
        // A response that was a purchase (a redeemed code) is already business, not a lead.
        if !r.order_id.is_empty() {
            return Ok(());
        }
        let source = sales::LeadSource::Campaign as i32;
        let reference = format!("{}:{}", r.campaign_id, r.response_id);
        if leads::by_source_ref(tx, source, &reference).await?.is_some() {
            return Ok(());
        }
        let mut lead = sales::Lead {
            source,
            source_ref: reference,
            party_id: r.party_id.clone(),
            contact_name: r.display_name.clone(),
            status: sales::LeadStatus::New as i32,
            notes: format!("Responded to campaign {}.", r.campaign_name),
            ..Default::default()
        };
        leads::insert(tx, &mut lead, self.clock.now_micros()).await?;
        let stored = leads::get(tx, &lead.id).await?.unwrap_or(lead);
        crate::events::publish(
            tx,
            ev::LEAD_CREATED,
            &stored.id,
            &sales::LeadCreated {
                lead: Some(stored.clone()),
            },
        )
        .await?;
        Ok(())
    }
}
