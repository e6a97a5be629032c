//! Campaigns and the test-cell method.

use std::collections::BTreeMap;

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_key, finish_page, page_size, text_pair, time_and_id};
use crm_platform::time::micros;
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1::events as ev;
use crm_proto::marketing::v1::{self as pb, CampaignStatus, Channel, ContactPhase};

use super::MarketingApi;
use crate::domain::test_cell;
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{campaigns, segments, selections, timestamp};
use crate::{contacting, selecting};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

fn minor(m: &Option<Money>) -> i64 {
    m.as_ref().map(|m| m.amount_minor).unwrap_or_default()
}

fn with_break_even(mut c: pb::Campaign) -> pb::Campaign {
    c.break_even_bps =
        test_cell::break_even_bps(minor(&c.cost_per_contact), minor(&c.net_profit_per_response))
            .unwrap_or_default();
    c
}

/// Refuses a contact run that could take the campaign over its budget: `more` members to go
/// through, after `already_contacted`.
fn within_budget(c: &pb::Campaign, already_contacted: i64, more: i64) -> Result<()> {
    let cost = (already_contacted + more) * minor(&c.cost_per_contact);
    if cost > minor(&c.budget) {
        return Err(Error::FailedPrecondition(format!(
            "contacting up to {more} more would cost up to {cost} against a budget of {} (minor units)",
            minor(&c.budget)
        )));
    }
    Ok(())
}

/// A campaign code: upper-case letters, digits, '-' and '_', up to 32.
fn valid_code(code: &str) -> bool {
    code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl MarketingApi {
    /// How long a call goes through a run or a selection: the configured wait, within half
    /// the caller's time left.
    fn wait(&self) -> std::time::Duration {
        crm_platform::deadline::remaining().map_or(self.config.contact_wait, |left| {
            self.config.contact_wait.min(left / 2)
        })
    }

    /// Goes through the campaign's new contact run while the call may wait: the run, ended or
    /// still under way.
    async fn go_through(&self, campaign_id: &str) -> Result<pb::ContactRun> {
        contacting::go_through(&self.store, &self.config, campaign_id, self.wait())
            .await?
            .map(|run| run.to_proto())
            .ok_or_else(|| Error::NotFound(format!("the contact run of campaign {campaign_id}")))
    }

    async fn campaign(&self, conn: &mut crm_storage::Conn, id: &str) -> Result<pb::Campaign> {
        campaigns::get(conn, id)
            .await?
            .map(with_break_even)
            .ok_or_else(|| Error::NotFound(format!("campaign {id}")))
    }

    async fn move_campaign(
        &self,
        tx: &mut crm_storage::Tx,
        c: &pb::Campaign,
        from: CampaignStatus,
        to: CampaignStatus,
    ) -> Result<pb::Campaign> {
        if !campaigns::transition(tx, &c.id, from as i32, to as i32).await? {
            return Err(Error::FailedPrecondition(format!(
                "campaign {} is not {}",
                c.id,
                status_name(from)
            )));
        }
        let moved = self.campaign(tx, &c.id).await?;
        events::publish(
            tx,
            ev::CAMPAIGN_CHANGED,
            &moved.id,
            &pb::CampaignChanged {
                campaign: Some(moved.clone()),
            },
        )
        .await?;
        Ok(moved)
    }

    pub(super) async fn handle_create_campaign(
        &self,
        _p: &Principal,
        req: pb::CreateCampaignRequest,
    ) -> Result<pb::CreateCampaignResponse> {
        let mut c = req.campaign.ok_or_else(|| invalid("campaign", "required"))?;
        c.name = c.name.trim().to_string();
        c.code = c.code.trim().to_string();
        c.message = c.message.trim().to_string();
        if c.attribution_window_days == 0 {
            c.attribution_window_days = 30;
        }
        let mut v = Violations::new();
        v.check(
            c.name.is_empty() || c.name.len() > 200,
            "campaign.name",
            "1 to 200 characters",
        );
        v.check(
            matches!(Channel::try_from(c.channel), Err(_) | Ok(Channel::Unspecified)),
            "campaign.channel",
            "MAIL, EMAIL, SMS, PHONE or WEB",
        );
        let currency = c
            .cost_per_contact
            .as_ref()
            .map(|m| m.currency_code.clone())
            .unwrap_or_default();
        for (field, m, positive) in [
            ("budget", &c.budget, false),
            ("cost_per_contact", &c.cost_per_contact, false),
            ("net_profit_per_response", &c.net_profit_per_response, true),
        ] {
            match m {
                None => v.add(format!("campaign.{field}"), "required"),
                Some(m) => {
                    v.check(
                        m.amount_minor < 0 || (positive && m.amount_minor == 0),
                        format!("campaign.{field}.amount_minor"),
                        if positive {
                            "must be positive"
                        } else {
                            "must not be negative"
                        },
                    );
                    v.check(
                        m.currency_code.len() != 3 || m.currency_code != currency,
                        format!("campaign.{field}.currency_code"),
                        "one ISO 4217 currency for all amounts",
                    );
                }
            }
        }
        v.check(c.segment_id.is_empty(), "campaign.segment_id", "required");
        v.check(
            !(1..=1000).contains(&c.test_every_n),
            "campaign.test_every_n",
            "1 to 1000",
        );
        v.check(
            !(1..=365).contains(&c.attribution_window_days),
            "campaign.attribution_window_days",
            "1 to 365",
        );
        v.check(
            !valid_code(&c.code),
            "campaign.code",
            "upper-case letters, digits, '-' and '_', up to 32",
        );
        v.check(
            c.message.chars().count() > 5_000,
            "campaign.message",
            "at most 5000 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if segments::get(&mut tx, &c.segment_id).await?.is_none() {
            return Err(invalid("campaign.segment_id", "no such segment"));
        }
        if !c.code.is_empty() && campaigns::by_code(&mut tx, &c.code).await?.is_some() {
            return Err(Error::AlreadyExists(format!("a campaign with code {}", c.code)));
        }
        c.status = CampaignStatus::Draft as i32;
        campaigns::insert(&mut tx, &mut c, self.store.now_micros()).await?;
        let stored = self.campaign(&mut tx, &c.id).await?;
        events::publish(
            &mut tx,
            ev::CAMPAIGN_CHANGED,
            &stored.id,
            &pb::CampaignChanged {
                campaign: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateCampaignResponse {
            campaign: Some(stored),
        })
    }

    pub(super) async fn handle_get_campaign(
        &self,
        _p: &Principal,
        req: pb::GetCampaignRequest,
    ) -> Result<pb::GetCampaignResponse> {
        let mut conn = self.store.conn().await?;
        Ok(pb::GetCampaignResponse {
            campaign: Some(self.campaign(&mut conn, &req.id).await?),
        })
    }

    pub(super) async fn handle_list_campaigns(
        &self,
        _p: &Principal,
        req: pb::ListCampaignsRequest,
    ) -> Result<pb::ListCampaignsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let before = decode_key(&req.page_token, &mut v, time_and_id);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = campaigns::list(&mut conn, req.status, before, size + 1).await?;
        let (rows, next_page_token) = finish_page(rows, size, |c| {
            format!("{}|{}", c.create_time.as_ref().map_or(0, micros), c.id)
        });
        Ok(pb::ListCampaignsResponse {
            campaigns: rows.into_iter().map(with_break_even).collect(),
            next_page_token,
        })
    }

    pub(super) async fn handle_select_members(
        &self,
        _p: &Principal,
        req: pb::SelectMembersRequest,
    ) -> Result<pb::SelectMembersResponse> {
        // Before the transaction: computing the first boundaries writes them (one writer on
        // SQLite). Every page of the selection scores against these.
        let cuts = self.cuts().await?;
        let mut tx = self.store.begin().await?;
        let c = self.campaign(&mut tx, &req.campaign_id).await?;
        segments::get(&mut tx, &c.segment_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("segment {}", c.segment_id)))?;
        let today = self.audience(&cuts).today;
        if !selections::start(&mut tx, &c.id, &cuts, today, self.store.now_micros()).await? {
            return Err(Error::FailedPrecondition(format!(
                "campaign {} is no longer a draft",
                c.id
            )));
        }
        self.store.commit(tx).await?;
        let selection = selecting::go_through(&self.store, &self.config, &c.id, self.wait())
            .await?
            .ok_or_else(|| Error::NotFound(format!("the selection of campaign {}", c.id)))?;
        Ok(pb::SelectMembersResponse {
            selected: selection.selected,
            suppressed: selection.suppressed,
            selection: Some(selection.to_proto()),
        })
    }

    pub(super) async fn handle_start_test(
        &self,
        _p: &Principal,
        req: pb::StartTestRequest,
    ) -> Result<pb::StartTestResponse> {
        let mut tx = self.store.begin().await?;
        let c = self.campaign(&mut tx, &req.campaign_id).await?;
        if let Some(selection) = c.selection.as_ref().filter(|s| s.finish_time.is_none()) {
            return Err(Error::FailedPrecondition(format!(
                "campaign {} is still selecting its members ({} so far)",
                c.id, selection.selected
            )));
        }
        // Only counted here: the run picks the test group as it goes through the members.
        let (members, to_contact) = campaigns::test_plan(&mut tx, &c.id, i64::from(c.test_every_n)).await?;
        if members == 0 {
            return Err(Error::FailedPrecondition(format!(
                "campaign {} has no members; select them first",
                c.id
            )));
        }
        within_budget(&c, 0, to_contact)?;
        let now = self.store.now_micros();
        campaigns::start_run(&mut tx, &c.id, ContactPhase::Test, &[], to_contact, now).await?;
        self.move_campaign(&mut tx, &c, CampaignStatus::Draft, CampaignStatus::Testing)
            .await?;
        self.store.commit(tx).await?;
        let run = self.go_through(&c.id).await?;
        Ok(pb::StartTestResponse {
            contacted: run.contacted,
            suppressed: run.suppressed,
            capped: run.capped,
            run: Some(run),
        })
    }

    pub(super) async fn handle_record_response(
        &self,
        _p: &Principal,
        req: pb::RecordResponseRequest,
    ) -> Result<pb::RecordResponseResponse> {
        let mut v = Violations::new();
        v.check(req.party_id.is_empty(), "party_id", "required");
        v.check(
            req.response_id.trim().is_empty() || req.response_id.len() > 200,
            "response_id",
            "1 to 200 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let c = self.campaign(&mut tx, &req.campaign_id).await?;
        if !matches!(
            CampaignStatus::try_from(c.status),
            Ok(CampaignStatus::Testing | CampaignStatus::RolledOut)
        ) {
            return Err(Error::FailedPrecondition(format!(
                "campaign {} is not running",
                c.id
            )));
        }
        let member = campaigns::member(&mut tx, &c.id, &req.party_id).await?;
        match member.map(|m| m.status) {
            None => {
                return Err(Error::NotFound(format!(
                    "member {} of campaign {}",
                    req.party_id, c.id
                )));
            }
            Some(s) if s == "selected" => {
                return Err(Error::FailedPrecondition(format!(
                    "{} was not contacted",
                    req.party_id
                )));
            }
            _ => {}
        }
        let response = crate::responses::Response {
            party_id: &req.party_id,
            response_id: req.response_id.trim(),
            order_id: "",
        };
        let recorded = crate::responses::record(&mut tx, &c, &response, self.store.now_micros()).await?;
        self.store.commit(tx).await?;
        Ok(pb::RecordResponseResponse { recorded })
    }

    async fn results(
        &self,
        conn: &mut crm_storage::Conn,
        c: &pb::Campaign,
    ) -> Result<(i64, Vec<pb::CellResult>)> {
        let break_even = c.break_even_bps;
        let results = campaigns::cell_counts(conn, &c.id)
            .await?
            .into_iter()
            .map(|(cell, members, tested, responses)| pb::CellResult {
                cell,
                members,
                tested,
                responses,
                ..Default::default()
            })
            .map(|mut r| {
                r.response_rate_bps = test_cell::response_rate_bps(r.responses, r.tested);
                r.selected = test_cell::roll_out(
                    r.responses,
                    r.tested,
                    minor(&c.cost_per_contact),
                    minor(&c.net_profit_per_response),
                );
                r
            })
            .collect();
        Ok((break_even, results))
    }

    pub(super) async fn handle_get_test_results(
        &self,
        _p: &Principal,
        req: pb::GetTestResultsRequest,
    ) -> Result<pb::GetTestResultsResponse> {
        let mut conn = self.store.conn().await?;
        let c = self.campaign(&mut conn, &req.campaign_id).await?;
        let (break_even_bps, cells) = self.results(&mut conn, &c).await?;
        Ok(pb::GetTestResultsResponse {
            break_even_bps,
            cells,
        })
    }

    pub(super) async fn handle_roll_out(
        &self,
        _p: &Principal,
        req: pb::RollOutRequest,
    ) -> Result<pb::RollOutResponse> {
        let mut tx = self.store.begin().await?;
        let c = self.campaign(&mut tx, &req.campaign_id).await?;
        if c.contact_run
            .as_ref()
            .is_some_and(|r| r.phase == ContactPhase::Test as i32 && r.finish_time.is_none())
        {
            return Err(Error::FailedPrecondition(format!(
                "campaign {}'s test group is still being contacted (see its contact_run); roll out once the test's results are in",
                c.id
            )));
        }
        let (_, results) = self.results(&mut tx, &c).await?;
        let chosen: Vec<String> = results
            .iter()
            .filter(|r| r.selected)
            .map(|r| r.cell.clone())
            .collect();
        let already = campaigns::contacted_count(&mut tx, &c.id).await?;
        let to_contact = campaigns::count_to_contact(&mut tx, &c.id, &chosen).await?;
        within_budget(&c, already, to_contact)?;
        let now = self.store.now_micros();
        campaigns::start_run(&mut tx, &c.id, ContactPhase::RollOut, &chosen, to_contact, now).await?;
        self.move_campaign(&mut tx, &c, CampaignStatus::Testing, CampaignStatus::RolledOut)
            .await?;
        self.store.commit(tx).await?;
        let run = self.go_through(&c.id).await?;
        Ok(pb::RollOutResponse {
            contacted: run.contacted,
            cells: chosen,
            suppressed: run.suppressed,
            capped: run.capped,
            run: Some(run),
        })
    }

    pub(super) async fn handle_close_campaign(
        &self,
        _p: &Principal,
        req: pb::CloseCampaignRequest,
    ) -> Result<pb::CloseCampaignResponse> {
        let mut tx = self.store.begin().await?;
        let c = self.campaign(&mut tx, &req.campaign_id).await?;
        let from = CampaignStatus::try_from(c.status).unwrap_or(CampaignStatus::Unspecified);
        if !matches!(from, CampaignStatus::Testing | CampaignStatus::RolledOut) {
            return Err(Error::FailedPrecondition(format!(
                "campaign {} is not running",
                c.id
            )));
        }
        // A run under way stops: its remaining members are not contacted.
        campaigns::stop_run(&mut tx, &c.id, self.store.now_micros()).await?;
        let closed = self
            .move_campaign(&mut tx, &c, from, CampaignStatus::Closed)
            .await?;
        self.store.commit(tx).await?;
        Ok(pb::CloseCampaignResponse {
            campaign: Some(closed),
        })
    }

    pub(super) async fn handle_list_campaign_members(
        &self,
        _p: &Principal,
        req: pb::ListCampaignMembersRequest,
    ) -> Result<pb::ListCampaignMembersResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let after = decode_key(&req.page_token, &mut v, text_pair);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let c = self.campaign(&mut conn, &req.campaign_id).await?;
        let rows = campaigns::members_after(
            &mut conn,
            &c.id,
            after
                .as_ref()
                .map(|(cell, party)| (cell.as_str(), party.as_str())),
            size + 1,
        )
        .await?;
        let (rows, next_page_token) = finish_page(rows, size, |m| format!("{}|{}", m.cell, m.party_id));
        let members = rows
            .into_iter()
            .map(|m| pb::CampaignMember {
                party_id: m.party_id,
                cell: m.cell,
                test_group: m.test_group,
                status: m.status,
                contact_time: m.contacted_at.map(timestamp),
            })
            .collect();
        Ok(pb::ListCampaignMembersResponse {
            members,
            next_page_token,
        })
    }

    pub(super) async fn handle_get_campaign_performance(
        &self,
        _p: &Principal,
        req: pb::GetCampaignPerformanceRequest,
    ) -> Result<pb::GetCampaignPerformanceResponse> {
        let mut conn = self.store.conn().await?;
        let c = self.campaign(&mut conn, &req.campaign_id).await?;
        let currency = c
            .cost_per_contact
            .as_ref()
            .map(|m| m.currency_code.clone())
            .unwrap_or_default();
        let window = i64::from(c.attribution_window_days) * DAY_MICROS;
        let cost_per_contact = minor(&c.cost_per_contact);
        // Orders within the window after contact are attributed to the campaign.
        let mut cells: BTreeMap<String, pb::Performance> = BTreeMap::new();
        for o in campaigns::performance_by_cell(&mut conn, &c.id, &currency, window).await? {
            cells.insert(
                o.cell.clone(),
                pb::Performance {
                    cell: o.cell,
                    contacted: o.contacted,
                    responses: o.responses,
                    conversions: o.conversions,
                    revenue: Some(Money {
                        amount_minor: o.revenue,
                        currency_code: currency.clone(),
                    }),
                    ..Default::default()
                },
            );
        }
        let finish = |mut p: pb::Performance| {
            let cost = p.contacted * cost_per_contact;
            let revenue = minor(&p.revenue);
            p.revenue = Some(Money {
                amount_minor: revenue,
                currency_code: currency.clone(),
            });
            p.cost = Some(Money {
                amount_minor: cost,
                currency_code: currency.clone(),
            });
            p.response_rate_bps = test_cell::response_rate_bps(p.responses, p.contacted);
            p.roi_bps = if cost > 0 {
                (revenue - cost) * 10_000 / cost
            } else {
                0
            };
            p
        };
        let overall = cells.values().fold(pb::Performance::default(), |mut acc, p| {
            acc.contacted += p.contacted;
            acc.responses += p.responses;
            acc.conversions += p.conversions;
            acc.revenue = Some(Money {
                amount_minor: minor(&acc.revenue) + minor(&p.revenue),
                currency_code: currency.clone(),
            });
            acc
        });
        Ok(pb::GetCampaignPerformanceResponse {
            overall: Some(finish(overall)),
            cells: cells.into_values().map(finish).collect(),
        })
    }
}

fn status_name(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Draft => "a draft",
        CampaignStatus::Testing => "testing",
        CampaignStatus::RolledOut => "rolled out",
        CampaignStatus::Closed => "closed",
        CampaignStatus::Unspecified => "in that state",
    }
}
