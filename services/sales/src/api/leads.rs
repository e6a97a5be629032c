//! Leads: capture, qualification, conversion.

use crm_auth::{Principal, Role};
use crm_platform::Violations;
use crm_platform::client::forwarded;
use crm_platform::paging::{decode_token, next_token, page_size};
use crm_proto::customers::v1 as customers;
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, LeadStatus, OpportunityStatus};

use super::{SalesApi, version};
use crate::domain::rules::{self, validate_lead};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{accounts, leads, opportunities, stages};

fn readable(principal: &Principal, lead: &pb::Lead) -> bool {
    rules::may_read(principal, &lead.owner_id, &lead.team_id, "")
}

impl SalesApi {
    pub(super) async fn handle_create_lead(
        &self,
        principal: &Principal,
        req: pb::CreateLeadRequest,
    ) -> Result<pb::CreateLeadResponse> {
        let mut lead = req.lead.ok_or_else(|| invalid("lead", "required"))?;
        lead.status = LeadStatus::New as i32;
        lead.opportunity_id.clear();
        lead.disqualified_reason.clear();
        lead.email = lead.email.trim().to_lowercase();
        super::check_assignment(
            principal,
            &rules::Assignment {
                owner_id: Some(&lead.owner_id),
                team_id: Some(&lead.team_id),
                territory_id: None,
            },
        )?;
        if lead.owner_id.is_empty() && principal.has_role(Role::SalesRep) {
            lead.owner_id = principal.user_id.clone();
            lead.team_id = principal.team_id.clone().unwrap_or_default();
        }
        validate_lead(&lead).finish()?;
        self.fetch_party(principal, &lead.party_id, "lead.party_id")
            .await?;
        let mut tx = self.store.begin().await?;
        // A campaign response or deal registration delivered again is the same lead.
        if !lead.source_ref.is_empty()
            && let Some(existing) = leads::by_source_ref(&mut tx, lead.source, &lead.source_ref).await?
        {
            // The same answer as GetLead would give: someone else's lead is not shown.
            if !readable(principal, &existing) {
                return Err(Error::PermissionDenied(format!(
                    "{} may not read lead {}",
                    principal.user_id, existing.id
                )));
            }
            return Ok(pb::CreateLeadResponse { lead: Some(existing) });
        }
        if !lead.party_id.is_empty() {
            self.ensure_party(&mut tx, &lead.party_id, "lead.party_id")
                .await?;
        }
        leads::insert(&mut tx, &mut lead, self.store.now_micros()).await?;
        let stored = leads::get(&mut tx, &lead.id)
            .await?
            .ok_or_else(|| Error::NotFound("lead".into()))?;
        events::publish_about(
            &mut tx,
            ev::LEAD_CREATED,
            &stored.id,
            &stored.party_id,
            &pb::LeadCreated {
                lead: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateLeadResponse { lead: Some(stored) })
    }

    pub(super) async fn handle_get_lead(
        &self,
        principal: &Principal,
        req: pb::GetLeadRequest,
    ) -> Result<pb::GetLeadResponse> {
        let mut conn = self.store.conn().await?;
        let lead = leads::get(&mut conn, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("lead {}", req.id)))?;
        if !readable(principal, &lead) {
            return Err(Error::PermissionDenied(format!(
                "{} may not read lead {}",
                principal.user_id, lead.id
            )));
        }
        Ok(pb::GetLeadResponse { lead: Some(lead) })
    }

    pub(super) async fn handle_list_leads(
        &self,
        principal: &Principal,
        req: pb::ListLeadsRequest,
    ) -> Result<pb::ListLeadsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let visible = rules::VisibleRecords::of(principal).outside_territories();
        let found = leads::list(
            &mut conn,
            (req.status, req.source, &req.owner_id),
            &visible,
            &after,
            size,
        )
        .await?;
        let next_page_token = next_token(found.len(), size, found.last().map(|l| l.id.clone()));
        Ok(pb::ListLeadsResponse {
            leads: found,
            next_page_token,
        })
    }

    /// A lead the principal may change, at `etag`.
    async fn lead_for_write(
        &self,
        conn: &mut crm_storage::Conn,
        principal: &Principal,
        id: &str,
        etag: &str,
    ) -> Result<(pb::Lead, i64)> {
        let expected = version(etag, "etag")?;
        let lead = leads::get(conn, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("lead {id}")))?;
        if !rules::may_write(principal, &lead.owner_id, &lead.team_id, "") {
            return Err(Error::PermissionDenied(format!(
                "{} may not change lead {id}",
                principal.user_id
            )));
        }
        if lead.etag != expected.to_string() {
            return Err(Error::Stale(format!("lead {id}")));
        }
        Ok((lead, expected))
    }

    pub(super) async fn handle_qualify_lead(
        &self,
        principal: &Principal,
        req: pb::QualifyLeadRequest,
    ) -> Result<pb::QualifyLeadResponse> {
        let mut v = Violations::new();
        let target = LeadStatus::try_from(req.status).unwrap_or(LeadStatus::Unspecified);
        v.check(
            !matches!(
                target,
                LeadStatus::Working | LeadStatus::Qualified | LeadStatus::Disqualified
            ),
            "status",
            "WORKING, QUALIFIED or DISQUALIFIED",
        );
        v.check(
            target == LeadStatus::Disqualified && req.reason.trim().is_empty(),
            "reason",
            "required when disqualifying",
        );
        v.check(
            req.score != -1 && !(0..=100).contains(&req.score),
            "score",
            "0 to 100, or -1 to keep",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let (mut lead, expected) = self
            .lead_for_write(&mut tx, principal, &req.id, &req.etag)
            .await?;
        if lead.status == LeadStatus::Converted as i32 {
            return Err(Error::FailedPrecondition(format!(
                "lead {} is already converted",
                lead.id
            )));
        }
        lead.status = target as i32;
        lead.disqualified_reason = if target == LeadStatus::Disqualified {
            req.reason.trim().to_string()
        } else {
            String::new()
        };
        if req.score != -1 {
            lead.score = req.score;
        }
        if !leads::update(&mut tx, &lead, expected).await? {
            return Err(Error::Stale(format!("lead {}", lead.id)));
        }
        let stored = leads::get(&mut tx, &lead.id)
            .await?
            .ok_or_else(|| Error::NotFound("lead".into()))?;
        events::publish_about(
            &mut tx,
            ev::LEAD_QUALIFIED,
            &stored.id,
            &stored.party_id,
            &pb::LeadQualified {
                lead: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::QualifyLeadResponse { lead: Some(stored) })
    }

    pub(super) async fn handle_convert_lead(
        &self,
        principal: &Principal,
        req: pb::ConvertLeadRequest,
    ) -> Result<pb::ConvertLeadResponse> {
        let mut v = Violations::new();
        rules::check_money(&mut v, "amount", &req.amount);
        v.check(
            !rules::is_date(&req.expected_close_date),
            "expected_close_date",
            "a date YYYY-MM-DD",
        );
        v.check(
            req.opportunity_name.len() > 200,
            "opportunity_name",
            "at most 200 characters",
        );
        v.finish()?;
        // Check the lead before creating anything in the customers service.
        let mut conn = self.store.conn().await?;
        let (lead, _) = self
            .lead_for_write(&mut conn, principal, &req.id, &req.etag)
            .await?;
        if lead.status != LeadStatus::Qualified as i32 {
            return Err(Error::FailedPrecondition(format!(
                "lead {} is not qualified",
                lead.id
            )));
        }
        drop(conn);
        let (party_id, party_created) = if lead.party_id.is_empty() {
            (self.create_party_for(principal, &lead).await?, true)
        } else {
            (lead.party_id.clone(), false)
        };
        if !party_created {
            self.fetch_party(principal, &party_id, "lead.party_id").await?;
        }
        let mut tx = self.store.begin().await?;
        let (mut lead, expected) = self
            .lead_for_write(&mut tx, principal, &req.id, &req.etag)
            .await?;
        self.ensure_party(&mut tx, &party_id, "lead.party_id").await?;
        let first = stages::list(&mut tx)
            .await?
            .into_iter()
            .find(|s| !s.is_won && !s.is_lost)
            .ok_or_else(|| Error::FailedPrecondition("the pipeline has no open stage".into()))?;
        let name = if req.opportunity_name.trim().is_empty() {
            format!(
                "{} opportunity",
                if lead.company_name.is_empty() {
                    &lead.contact_name
                } else {
                    &lead.company_name
                }
            )
        } else {
            req.opportunity_name.trim().to_string()
        };
        let mut opportunity = pb::Opportunity {
            name,
            party_id: party_id.clone(),
            stage_code: first.code,
            amount: req.amount,
            expected_close_date: req.expected_close_date,
            owner_id: if lead.owner_id.is_empty() {
                principal.user_id.clone()
            } else {
                lead.owner_id.clone()
            },
            team_id: lead.team_id.clone(),
            status: OpportunityStatus::Open as i32,
            lead_id: lead.id.clone(),
            ..Default::default()
        };
        opportunities::insert(&mut tx, &mut opportunity, self.store.now_micros()).await?;
        lead.status = LeadStatus::Converted as i32;
        lead.party_id = party_id;
        lead.opportunity_id = opportunity.id.clone();
        if !leads::update(&mut tx, &lead, expected).await? {
            return Err(Error::Stale(format!("lead {}", lead.id)));
        }
        let lead = leads::get(&mut tx, &lead.id)
            .await?
            .ok_or_else(|| Error::NotFound("lead".into()))?;
        let opportunity = self.opportunity(&mut tx, &opportunity.id).await?;
        events::publish(
            &mut tx,
            ev::OPPORTUNITY_CREATED,
            &opportunity.id,
            &pb::OpportunityCreated {
                opportunity: Some(opportunity.clone()),
            },
        )
        .await?;
        events::publish_about(
            &mut tx,
            ev::LEAD_CONVERTED,
            &lead.id,
            &lead.party_id,
            &pb::LeadConverted {
                lead: Some(lead.clone()),
                opportunity_id: opportunity.id.clone(),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::ConvertLeadResponse {
            lead: Some(lead),
            opportunity: Some(opportunity),
            party_created,
        })
    }

    /// Creates the customer party of a lead in the customers service, as the caller.
    async fn create_party_for(&self, principal: &Principal, lead: &pb::Lead) -> Result<String> {
        use customers::{ContactPoint, ContactPointKind, PartyKind};
        let mut party = if lead.company_name.trim().is_empty() {
            let name = lead.contact_name.trim();
            let (given, family) = name.rsplit_once(' ').unwrap_or((name, ""));
            customers::Party {
                kind: PartyKind::Person as i32,
                given_name: given.into(),
                family_name: family.into(),
                ..Default::default()
            }
        } else {
            customers::Party {
                kind: PartyKind::Organization as i32,
                organization_name: lead.company_name.trim().into(),
                ..Default::default()
            }
        };
        party.source = format!("lead:{}", lead.id);
        party.owner_id = lead.owner_id.clone();
        party.team_id = lead.team_id.clone();
        if !lead.email.is_empty() {
            party.contact_points.push(ContactPoint {
                kind: ContactPointKind::Email as i32,
                value: lead.email.clone(),
                ..Default::default()
            });
        }
        if !lead.phone.is_empty() {
            party.contact_points.push(ContactPoint {
                kind: ContactPointKind::Phone as i32,
                value: lead.phone.clone(),
                ..Default::default()
            });
        }
        let asked = customers::CreatePartyRequest {
            party: Some(party),
            // Converting the lead again after a failure (or a retried call) finds the party made
            // the first time.
            request_id: format!("lead-conversion:{}", lead.id),
        };
        let created = self
            .ask_customers(|mut client| {
                let request = forwarded(principal, asked.clone());
                async move { client.create_party(request).await }
            })
            .await
            .map_err(|status| match status.code() {
                tonic::Code::InvalidArgument => invalid(
                    "lead",
                    &format!("the lead cannot become a party: {}", status.message()),
                ),
                tonic::Code::PermissionDenied => Error::PermissionDenied(status.message().to_string()),
                _ => Error::Unavailable(format!("customers service: {}", status.message())),
            })?
            .party
            .ok_or_else(|| Error::Unavailable("customers service returned no party".into()))?;
        let mut conn = self.store.conn().await?;
        accounts::upsert(&mut conn, &accounts::Account::from_party(&created)).await?;
        Ok(created.id)
    }
}
