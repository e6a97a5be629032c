//! Profiles, RFM, segments and consent.

use std::collections::BTreeMap;

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, decode_token, finish_page, finish_walked_page, key_of, page_size};
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1::{self as pb, Channel};

use super::{MarketingApi, day_of, end_of};
use crate::domain::rfm::{Cuts, Scored};
use crate::domain::segment::{self, Facts};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::audience::{self, Audience};
use crate::storage::{campaigns, consent, figures, profiles, rfm, segments, timestamp};
use crm_proto::marketing::v1::events as ev;

/// Where a page of a past day's RFM scores ends, with that day's boundaries.
#[derive(serde::Serialize, serde::Deserialize)]
struct PastPosition {
    /// The day, YYYY-MM-DD.
    as_of: String,
    /// The last customer of the page.
    after: String,
    /// The day's boundaries.
    cuts: Cuts,
}

/// Checks a consent's channel.
pub(super) fn check_channel(c: &pb::Consent) -> Violations {
    let mut v = Violations::new();
    v.check(
        matches!(Channel::try_from(c.channel), Err(_) | Ok(Channel::Unspecified)),
        "channel",
        "MAIL, EMAIL, SMS, PHONE or WEB",
    );
    v
}

/// Campaigns a profile shows; ListProfileCampaigns gives the rest.
const PROFILE_CAMPAIGNS: i64 = 20;

/// The customers a page of a rule segment's members looks at, at most (a page holds up to
/// 10,000): a rule few customers meet gives short pages instead of a walk of the whole base.
const MEMBER_PAGE_LOOKS_AT: i64 = 20_000;

/// Campaign history rows as the API shows them.
fn history_entries(rows: Vec<(String, String, String)>) -> Vec<pb::CampaignHistoryEntry> {
    rows.into_iter()
        .map(|(campaign_id, campaign_name, status)| pb::CampaignHistoryEntry {
            campaign_id,
            campaign_name,
            status,
        })
        .collect()
}

impl MarketingApi {
    fn money(&self, amount_minor: i64) -> Option<Money> {
        Some(Money {
            amount_minor,
            currency_code: self.config.reporting_currency.clone(),
        })
    }

    fn rfm_message(&self, s: &Scored, orders: i64, total_minor: i64, recency_days: i64) -> pb::RfmScore {
        pb::RfmScore {
            party_id: s.id.clone(),
            recency: i32::from(s.r),
            frequency: i32::from(s.f),
            monetary: i32::from(s.m),
            cell: s.cell(),
            recency_days,
            order_count: orders,
            total_spend: self.money(total_minor),
            average_spend: self.money(if orders > 0 { total_minor / orders } else { 0 }),
        }
    }

    /// One customer's profile: their own row, figures and campaign history, scored against the
    /// stored RFM boundaries and matched against each segment's rule; nothing of the rest of
    /// the base is read.
    pub(super) async fn handle_get_profile(
        &self,
        _p: &Principal,
        req: pb::GetProfileRequest,
    ) -> Result<pb::GetProfileResponse> {
        let cuts = self.cuts().await?;
        let mut conn = self.store.conn().await?;
        let p = profiles::get(&mut conn, &req.party_id)
            .await?
            .filter(|p| p.status == "active")
            .ok_or_else(|| Error::NotFound(format!("profile {}", req.party_id)))?;
        let f = figures::of(&mut conn, &p.party_id, &self.config.reporting_currency).await?;
        let scored = f
            .as_ref()
            .map(|f| cuts.score(&p.party_id, f.last_day, f.orders, f.total_minor));
        let recency_days = f
            .as_ref()
            .map(|f| (self.today() - day_of(f.last_at)).num_days().max(0));
        let facts = Facts {
            rfm: scored.as_ref().map(|s| (s.r, s.f, s.m)),
            order_count: f.as_ref().map_or(0, |f| f.orders),
            total_spend_minor: f.as_ref().map_or(0, |f| f.total_minor),
            recency_days,
            industry: &p.industry,
            region_code: &p.region_code,
            tags: &p.tags,
            attributes: &p.attributes,
        };
        // The segments it is in: the rules evaluated here, the lists asked in SQL.
        let mut member_of: Vec<(String, String)> = segments::rule_segments(&mut conn)
            .await?
            .into_iter()
            .filter(|s| segment::matches(&s.conditions, &facts))
            .map(|s| (s.name, s.id))
            .collect();
        member_of.extend(segments::lists_holding(&mut conn, &p.party_id).await?);
        member_of.sort();
        let segment_ids: Vec<String> = member_of.into_iter().map(|(_, id)| id).collect();
        let campaigns =
            history_entries(campaigns::history(&mut conn, &p.party_id, None, PROFILE_CAMPAIGNS).await?);
        // Counted only when the latest fill the profile's share.
        let campaign_count = if (campaigns.len() as i64) < PROFILE_CAMPAIGNS {
            campaigns.len() as i64
        } else {
            campaigns::history_count(&mut conn, &p.party_id).await?
        };
        let f = f.unwrap_or_default();
        Ok(pb::GetProfileResponse {
            profile: Some(pb::Profile {
                rfm: scored
                    .map(|s| self.rfm_message(&s, f.orders, f.total_minor, recency_days.unwrap_or_default())),
                party_id: p.party_id,
                display_name: p.display_name,
                industry: p.industry,
                region_code: p.region_code,
                attributes: p.attributes,
                tags: p.tags,
                birth_date: p.birth_date,
                first_purchase_time: (f.orders > 0).then(|| timestamp(f.first_at)),
                last_purchase_time: (f.orders > 0).then(|| timestamp(f.last_at)),
                order_count: f.orders,
                total_spend: self.money(f.total_minor),
                segment_ids,
                campaigns,
                campaign_count,
            }),
        })
    }

    pub(super) async fn handle_recompute_profiles(
        &self,
        _p: &Principal,
        _req: pb::RecomputeProfilesRequest,
    ) -> Result<pb::RecomputeProfilesResponse> {
        // Figures are kept as purchases arrive; recomputing refreshes the RFM boundaries now.
        crate::scores::refresh_cuts(&self.store, &self.config.reporting_currency).await?;
        let mut conn = self.store.conn().await?;
        Ok(pb::RecomputeProfilesResponse {
            profiles: profiles::active_count(&mut conn).await?,
        })
    }

    pub(super) async fn handle_list_rfm_scores(
        &self,
        _p: &Principal,
        req: pb::ListRfmScoresRequest,
    ) -> Result<pb::ListRfmScoresResponse> {
        let date = self.as_of(&req.as_of)?;
        let past = date < self.today();
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let position = decode_token(&req.page_token, &mut v);
        // A past day's pages carry its boundaries, computed for the first: each later page
        // scores only its own customers' purchases.
        let (after, carried) = match serde_json::from_str::<PastPosition>(&position).ok() {
            Some(p) if past && p.as_of == date.to_string() => (p.after, Some(p.cuts)),
            None if !past || position.is_empty() => (position, None),
            _ => {
                v.add("page_token", "not a token of this list at this as_of");
                (String::new(), None)
            }
        };
        let cell = (!req.cell.is_empty()).then(|| parse_cell(&req.cell));
        v.check(
            matches!(cell, Some(None)),
            "cell",
            "r-f-m, each 1 to 5, e.g. 5-5-5",
        );
        v.finish()?;
        let currency = &self.config.reporting_currency;
        let cuts = match carried {
            Some(cuts) => cuts,
            None if past => {
                let mut conn = self.store.conn().await?;
                rfm::boundaries(&mut conn, currency, Some(end_of(date))).await?.0
            }
            None => self.cuts().await?,
        };
        let scoring = if past {
            rfm::Scoring::BeforeAgainst(end_of(date), &cuts)
        } else {
            rfm::Scoring::Current(&cuts)
        };
        let mut conn = self.store.conn().await?;
        let page = rfm::page(
            &mut conn,
            currency,
            scoring,
            cell.flatten(),
            &after,
            size + 1,
            rfm::CELL_PAGE_LOOKS_AT,
        )
        .await?;
        let position = |after: &str| {
            if past {
                let position = PastPosition {
                    as_of: date.to_string(),
                    after: after.to_string(),
                    cuts: cuts.clone(),
                };
                serde_json::to_string(&position).unwrap_or_default()
            } else {
                after.to_string()
            }
        };
        // A page of a rare cell that looked at as many customers as it may ends short, and the
        // next goes on from the last customer it looked at.
        let looked_to = page.looked_to.as_deref().map(position);
        let (rows, next_page_token) =
            finish_walked_page(page.rows, size, |row| position(&row.party_id), looked_to);
        let scores: Vec<pb::RfmScore> = rows
            .into_iter()
            .map(|row| {
                let scored = Scored {
                    id: row.party_id,
                    r: u8::try_from(row.r).unwrap_or(1),
                    f: u8::try_from(row.f).unwrap_or(1),
                    m: u8::try_from(row.m).unwrap_or(1),
                };
                let recency_days = (date - day_of(row.last_at)).num_days().max(0);
                self.rfm_message(&scored, row.orders, row.total_minor, recency_days)
            })
            .collect();
        Ok(pb::ListRfmScoresResponse {
            scores,
            next_page_token,
        })
    }

    pub(super) async fn handle_get_rfm_cells(
        &self,
        _p: &Principal,
        req: pb::GetRfmCellsRequest,
    ) -> Result<pb::GetRfmCellsResponse> {
        let date = self.as_of(&req.as_of)?;
        let cuts = self.scoring_cuts(date).await?;
        let mut conn = self.store.conn().await?;
        // Aggregated in SQL: one row per occupied cell.
        let occupied = rfm::cells(
            &mut conn,
            &self.config.reporting_currency,
            self.scoring(date, &cuts),
        )
        .await?;
        let mut cells: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    cells.insert(format!("{r}-{f}-{m}"), (0, 0));
                }
            }
        }
        for ((r, f, m), customers, revenue) in occupied {
            cells.insert(format!("{r}-{f}-{m}"), (customers, revenue));
        }
        Ok(pb::GetRfmCellsResponse {
            cells: cells
                .into_iter()
                .map(|(cell, (customers, revenue))| pb::RfmCell {
                    cell,
                    customers,
                    revenue: self.money(revenue),
                })
                .collect(),
        })
    }

    pub(super) async fn handle_preview_segment(
        &self,
        _p: &Principal,
        req: pb::PreviewSegmentRequest,
    ) -> Result<pb::PreviewSegmentResponse> {
        let mut v = segment::validate(&req.conditions, "conditions");
        v.check(req.conditions.is_empty(), "conditions", "at least one condition");
        v.finish()?;
        let cuts = self.cuts().await?;
        let cx = self.audience(&cuts);
        let rule = Audience::Rule(&req.conditions);
        let mut conn = self.store.conn().await?;
        Ok(pb::PreviewSegmentResponse {
            count: audience::count(&mut conn, rule, &cx).await?,
            sample_party_ids: audience::page(&mut conn, rule, &cx, "", 20).await?,
        })
    }

    pub(super) async fn handle_create_segment(
        &self,
        _p: &Principal,
        req: pb::CreateSegmentRequest,
    ) -> Result<pb::CreateSegmentResponse> {
        let mut s = req.segment.ok_or_else(|| invalid("segment", "required"))?;
        s.name = s.name.trim().to_string();
        let mut v = segment::validate(&s.conditions, "segment.conditions");
        v.check(
            s.name.is_empty() || s.name.len() > 200,
            "segment.name",
            "1 to 200 characters",
        );
        v.check(
            s.conditions.is_empty() == s.party_ids.is_empty(),
            "segment",
            "give either conditions (a rule) or party ids (a static list)",
        );
        v.check(s.party_ids.len() > 100_000, "segment.party_ids", "at most 100000");
        v.finish()?;
        // Before the transaction: computing the first boundaries writes them (one writer on
        // SQLite).
        let cuts = self.cuts().await?;
        let mut tx = self.store.begin().await?;
        segments::insert(&mut tx, &mut s, self.store.now_micros())
            .await
            .map_err(|e| {
                if crm_storage::is_unique_violation(&e) {
                    Error::AlreadyExists(format!("segment {:?}", s.name))
                } else {
                    e.into()
                }
            })?;
        self.store.commit(tx).await?;
        // Counted after the commit: a rule's count reads the whole base, and inside the
        // transaction it held the one writer of SQLite (every consumer waited) meanwhile.
        let mut conn = self.store.conn().await?;
        let count = audience::count(&mut conn, Audience::of(&s), &self.audience(&cuts)).await?;
        Ok(pb::CreateSegmentResponse {
            segment: Some(s),
            count,
        })
    }

    pub(super) async fn handle_list_segments(
        &self,
        _p: &Principal,
        req: pb::ListSegmentsRequest,
    ) -> Result<pb::ListSegmentsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = segments::list(&mut conn, after, size + 1).await?;
        let (segments, next_page_token) = finish_page(rows, size, |s| key_of(&[&s.name]));
        Ok(pb::ListSegmentsResponse {
            segments,
            next_page_token,
        })
    }

    pub(super) async fn handle_list_profile_campaigns(
        &self,
        _p: &Principal,
        req: pb::ListProfileCampaignsRequest,
    ) -> Result<pb::ListProfileCampaignsResponse> {
        let mut v = Violations::new();
        v.check(req.party_id.is_empty(), "party_id", "required");
        let size = page_size(req.page_size, 100, 500, &mut v);
        let before = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        if profiles::get(&mut conn, &req.party_id).await?.is_none() {
            return Err(Error::NotFound(format!("profile {}", req.party_id)));
        }
        let before = (!before.is_empty()).then_some(before.as_str());
        let rows = campaigns::history(&mut conn, &req.party_id, before, size + 1).await?;
        let (rows, next_page_token) = finish_page(rows, size, |(id, _, _)| id.clone());
        Ok(pb::ListProfileCampaignsResponse {
            campaigns: history_entries(rows),
            next_page_token,
        })
    }

    pub(super) async fn handle_list_segment_members(
        &self,
        _p: &Principal,
        req: pb::ListSegmentMembersRequest,
    ) -> Result<pb::ListSegmentMembersResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 1000, 10_000, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let cuts = self.cuts().await?;
        let mut conn = self.store.conn().await?;
        let s = segments::get(&mut conn, &req.segment_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("segment {}", req.segment_id)))?;
        let page = audience::page_looking_at(
            &mut conn,
            Audience::of(&s),
            &self.audience(&cuts),
            &after,
            size + 1,
            MEMBER_PAGE_LOOKS_AT,
        )
        .await?;
        // A page of a rule few customers meet that looked at as many customers as it may ends
        // short; the next goes on from the last customer it looked at.
        let (party_ids, next_page_token) =
            finish_walked_page(page.party_ids, size, String::clone, page.walked_to);
        Ok(pb::ListSegmentMembersResponse {
            party_ids,
            next_page_token,
        })
    }

    pub(super) async fn handle_set_consent(
        &self,
        _p: &Principal,
        req: pb::SetConsentRequest,
    ) -> Result<pb::SetConsentResponse> {
        let c = req.consent.ok_or_else(|| invalid("consent", "required"))?;
        let mut v = Violations::new();
        v.check(c.party_id.is_empty(), "consent.party_id", "required");
        v.extend_prefixed("consent", check_channel(&c));
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if profiles::get(&mut tx, &c.party_id).await?.is_none() {
            return Err(Error::NotFound(format!("profile {}", c.party_id)));
        }
        let c = self.store_consent(&mut tx, c).await?;
        self.store.commit(tx).await?;
        Ok(pb::SetConsentResponse { consent: Some(c) })
    }

    /// Stores a customer's consent on a channel and announces it (`consent.changed`): the
    /// service desk checks it before every send.
    pub(super) async fn store_consent(
        &self,
        tx: &mut crm_storage::Tx,
        mut c: pb::Consent,
    ) -> Result<pb::Consent> {
        let at = consent::set(tx, &c, self.store.now_micros()).await?;
        c.update_time = Some(timestamp(at));
        events::publish_about(
            tx,
            ev::CONSENT_CHANGED,
            &c.party_id,
            &c.party_id,
            &pb::ConsentChanged {
                consent: Some(c.clone()),
            },
        )
        .await?;
        Ok(c)
    }

    pub(super) async fn handle_record_contact_feedback(
        &self,
        _p: &Principal,
        req: pb::RecordContactFeedbackRequest,
    ) -> Result<pb::RecordContactFeedbackResponse> {
        let kind = pb::ContactFeedbackKind::try_from(req.kind).unwrap_or_default();
        let mut v = Violations::new();
        v.check(
            req.feedback_id.trim().is_empty() || req.feedback_id.len() > 200,
            "feedback_id",
            "1 to 200 characters",
        );
        v.check(req.party_id.is_empty(), "party_id", "required");
        v.check(
            matches!(Channel::try_from(req.channel), Err(_) | Ok(Channel::Unspecified)),
            "channel",
            "MAIL, EMAIL, SMS, PHONE or WEB",
        );
        v.check(
            kind == pb::ContactFeedbackKind::Unspecified,
            "kind",
            "soft_bounce, hard_bounce, opt_out or complaint",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if profiles::get(&mut tx, &req.party_id).await?.is_none() {
            return Err(Error::NotFound(format!("profile {}", req.party_id)));
        }
        let recorded = consent::record_feedback(&mut tx, &req, self.store.now_micros()).await?;
        let mut current = consent::on_channel(&mut tx, &req.party_id, req.channel).await?;
        if recorded {
            let before = current.clone();
            match kind {
                // A dead address: never again on this channel until the customer gives another.
                pb::ContactFeedbackKind::HardBounce => current.do_not_contact = true,
                pb::ContactFeedbackKind::OptOut | pb::ContactFeedbackKind::Complaint => {
                    current.opted_out = true
                }
                _ => {}
            }
            if (current.opted_out, current.do_not_contact) != (before.opted_out, before.do_not_contact) {
                current = self.store_consent(&mut tx, current).await?;
            }
        }
        self.store.commit(tx).await?;
        Ok(pb::RecordContactFeedbackResponse {
            consent: Some(current),
            recorded,
        })
    }

    pub(super) async fn handle_get_consent(
        &self,
        _p: &Principal,
        req: pb::GetConsentRequest,
    ) -> Result<pb::GetConsentResponse> {
        let mut conn = self.store.conn().await?;
        Ok(pb::GetConsentResponse {
            consents: consent::of(&mut conn, &req.party_id).await?,
        })
    }
}

/// An "r-f-m" cell's scores (None when malformed).
fn parse_cell(cell: &str) -> Option<(i64, i64, i64)> {
    let scores: Vec<i64> = cell
        .split('-')
        .map(|s| s.parse::<i64>().ok().filter(|n| (1..=5).contains(n)))
        .collect::<Option<_>>()?;
    match scores.as_slice() {
        [r, f, m] => Some((*r, *f, *m)),
        _ => None,
    }
}
