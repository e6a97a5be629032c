//! The marketing view of the whole base at a date: profiles, counted purchases in the
//! reporting currency, RFM scores, and what segment rules see.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use crm_proto::marketing::v1 as pb;
use crm_storage::Conn;

use crate::domain::rfm::{self, Purchaser, Scored};
use crate::domain::segment::{self, Facts};
use crate::storage::profiles::{self, Profile, Purchase};

/// Purchase figures of one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Orders that count.
    pub orders: i64,
    /// Their total.
    pub total_minor: i64,
    /// First and last purchase (µs).
    pub first_at: Option<i64>,
    /// Last purchase (µs).
    pub last_at: Option<i64>,
    /// Days from the last purchase to the as-of date.
    pub recency_days: Option<i64>,
}

/// Everything rules, scores and campaigns read.
#[derive(Debug, Default)]
pub struct View {
    /// Active profiles by id.
    pub profiles: Vec<Profile>,
    /// Figures by party.
    pub figures: HashMap<String, Figures>,
    /// RFM scores by party (customers with purchases).
    pub scores: HashMap<String, Scored>,
    /// Counted purchases by party.
    pub purchases: HashMap<String, Vec<Purchase>>,
}

/// The UTC day of a time in µs.
pub fn day_of(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .date_naive()
}

/// Loads the view at `as_of` counting purchases in `currency`.
pub async fn load(conn: &mut Conn, as_of: NaiveDate, currency: &str) -> sqlx::Result<View> {
    let profiles = profiles::active(conn).await?;
    let end = as_of
        .succ_opt()
        .unwrap_or(as_of)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_micros();
    let mut purchases: HashMap<String, Vec<Purchase>> = HashMap::new();
    for p in profiles::purchases(conn).await? {
        if p.counts() && p.currency_code == currency && p.placed_at < end {
            purchases.entry(p.party_id.clone()).or_default().push(p);
        }
    }
    let mut figures = HashMap::new();
    let mut purchasers = Vec::new();
    for profile in &profiles {
        let Some(list) = purchases.get(&profile.party_id) else {
            continue;
        };
        let first_at = list.iter().map(|p| p.placed_at).min();
        let last_at = list.iter().map(|p| p.placed_at).max();
        let recency_days = last_at.map(|t| (as_of - day_of(t)).num_days().max(0));
        let f = Figures {
            orders: list.len() as i64,
            total_minor: list.iter().map(|p| p.amount_minor).sum(),
            first_at,
            last_at,
            recency_days,
        };
        purchasers.push(Purchaser {
            id: profile.party_id.clone(),
            recency_days: recency_days.unwrap_or_default(),
            frequency: f.orders,
            monetary_minor: f.total_minor,
        });
        figures.insert(profile.party_id.clone(), f);
    }
    let scores = rfm::score(&purchasers)
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    Ok(View {
        profiles,
        figures,
        scores,
        purchases,
    })
}

/// Computed views, reused until the data under them changes (its version in the database) or
/// another date is asked for. Loading the whole base for every profile read would make each
/// customer 360 cost as much as the base is large.
#[derive(Debug, Default)]
pub struct Cache {
    views: tokio::sync::Mutex<HashMap<NaiveDate, (i64, Arc<View>)>>,
}

/// Dates kept at once (today's view, the fitted model's date, a report's).
const CACHED_DATES: usize = 4;

impl Cache {
    /// The view at `as_of` in `currency`, computed again only when profiles or purchases changed
    /// since it was last computed.
    pub async fn get(&self, conn: &mut Conn, as_of: NaiveDate, currency: &str) -> sqlx::Result<Arc<View>> {
        // Held while loading, so concurrent readers wait for one load instead of each doing it.
        let mut views = self.views.lock().await;
        let version = profiles::view_version(conn).await?;
        if let Some((at, view)) = views.get(&as_of)
            && *at == version
        {
            return Ok(view.clone());
        }
        let view = Arc::new(load(conn, as_of, currency).await?);
        views.retain(|_, (at, _)| *at == version);
        if views.len() >= CACHED_DATES {
            views.clear();
        }
        views.insert(as_of, (version, view.clone()));
        Ok(view)
    }
}

impl View {
    /// What rules see of a customer.
    pub fn facts<'a>(&'a self, p: &'a Profile) -> Facts<'a> {
        let f = self.figures.get(&p.party_id).cloned().unwrap_or_default();
        Facts {
            rfm: self.scores.get(&p.party_id).map(|s| (s.r, s.f, s.m)),
            order_count: f.orders,
            total_spend_minor: f.total_minor,
            recency_days: f.recency_days,
            industry: &p.industry,
            region_code: &p.region_code,
            tags: &p.tags,
            attributes: &p.attributes,
        }
    }

    /// The customers a segment selects now (static lists: those still active).
    pub fn members(&self, segment: &pb::Segment) -> Vec<String> {
        if segment.conditions.is_empty() {
            return self
                .profiles
                .iter()
                .filter(|p| segment.party_ids.contains(&p.party_id))
                .map(|p| p.party_id.clone())
                .collect();
        }
        self.select(&segment.conditions)
    }

    /// The customers matching conditions.
    pub fn select(&self, conditions: &[pb::Condition]) -> Vec<String> {
        self.profiles
            .iter()
            .filter(|p| segment::matches(conditions, &self.facts(p)))
            .map(|p| p.party_id.clone())
            .collect()
    }

    /// The RFM cell of a customer ("0-0-0" without purchases).
    pub fn cell(&self, party_id: &str) -> String {
        self.scores
            .get(party_id)
            .map(|s| s.cell())
            .unwrap_or_else(|| "0-0-0".into())
    }
}
