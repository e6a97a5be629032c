//! The pipeline and its opportunities.

use crm_auth::{Principal, Role};
use crm_platform::Violations;
use crm_platform::export;
use crm_platform::paging::{decode_token, next_token, page_size};
use crm_platform::service::ResponseStream;
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, OpportunityStatus};

use super::{SalesApi, version};
use crate::domain::rules::{self, validate_opportunity, validate_pipeline};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{opportunities, stages};

/// Field paths UpdateOpportunity accepts.
const UPDATABLE: &[&str] = &[
    "name",
    "amount",
    "expected_close_date",
    "owner_id",
    "team_id",
    "territory_id",
    "next_step",
    "competitor_ids",
    "products",
];

fn readable(principal: &Principal, o: &pb::Opportunity) -> bool {
    rules::may_read(principal, &o.owner_id, &o.team_id, &o.territory_id)
}

fn with_probability(mut o: pb::Opportunity, stages: &[pb::PipelineStage]) -> pb::Opportunity {
    o.win_probability_bps = stages
        .iter()
        .find(|s| s.code == o.stage_code)
        .map_or(0, |s| s.win_probability_bps);
    o
}

impl SalesApi {
    /// An opportunity with its history and current win probability.
    pub(super) async fn opportunity(
        &self,
        conn: &mut crm_storage::Conn,
        id: &str,
    ) -> Result<pb::Opportunity> {
        let o = opportunities::get(conn, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("opportunity {id}")))?;
        let stages = stages::list(conn).await?;
        Ok(with_probability(o, &stages))
    }

    /// An open opportunity the principal may change, at `etag` (when given).
    pub(super) async fn opportunity_for_write(
        &self,
        conn: &mut crm_storage::Conn,
        principal: &Principal,
        id: &str,
        etag: Option<&str>,
    ) -> Result<(pb::Opportunity, i64)> {
        let o = self.opportunity(conn, id).await?;
        if !rules::may_write(principal, &o.owner_id, &o.team_id, &o.territory_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not change opportunity {id}",
                principal.user_id
            )));
        }
        let current: i64 = o.etag.parse().unwrap_or_default();
        if let Some(etag) = etag
            && version(etag, "etag")? != current
        {
            return Err(Error::Stale(format!("opportunity {id}")));
        }
        if o.status != OpportunityStatus::Open as i32 {
            return Err(Error::FailedPrecondition(format!("opportunity {id} is closed")));
        }
        Ok((o, current))
    }

    pub(super) async fn handle_get_pipeline(
        &self,
        _p: &Principal,
        _req: pb::GetPipelineRequest,
    ) -> Result<pb::GetPipelineResponse> {
        let mut conn = self.store.conn().await?;
        Ok(pb::GetPipelineResponse {
            stages: stages::list(&mut conn).await?,
        })
    }

    pub(super) async fn handle_update_pipeline(
        &self,
        _p: &Principal,
        req: pb::UpdatePipelineRequest,
    ) -> Result<pb::UpdatePipelineResponse> {
        validate_pipeline(&req.stages).finish()?;
        let mut tx = self.store.begin().await?;
        // Stages in use by open opportunities must survive.
        let kept: Vec<&str> = req.stages.iter().map(|s| s.code.as_str()).collect();
        for stage in stages::list(&mut tx).await? {
            if !kept.contains(&stage.code.as_str())
                && !opportunities::list(
                    &mut tx,
                    opportunities::ListFilter {
                        stage_code: &stage.code,
                        ..Default::default()
                    },
                    &rules::VisibleRecords::All,
                    "",
                    1,
                )
                .await?
                .is_empty()
            {
                return Err(Error::FailedPrecondition(format!(
                    "stage {} is used by opportunities",
                    stage.code
                )));
            }
        }
        stages::replace(&mut tx, &req.stages).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdatePipelineResponse { stages: req.stages })
    }

    pub(super) async fn handle_create_opportunity(
        &self,
        principal: &Principal,
        req: pb::CreateOpportunityRequest,
    ) -> Result<pb::CreateOpportunityResponse> {
        let mut o = req
            .opportunity
            .ok_or_else(|| invalid("opportunity", "required"))?;
        o.name = o.name.trim().to_string();
        validate_opportunity(&o).finish()?;
        super::check_assignment(
            principal,
            &rules::Assignment {
                owner_id: Some(&o.owner_id),
                team_id: Some(&o.team_id),
                territory_id: Some(&o.territory_id),
            },
        )?;
        if o.owner_id.is_empty() && principal.has_role(Role::SalesRep) {
            o.owner_id = principal.user_id.clone();
        }
        if o.team_id.is_empty() {
            o.team_id = principal.team_id.clone().unwrap_or_default();
        }
        self.fetch_party(principal, &o.party_id, "opportunity.party_id")
            .await?;
        let mut tx = self.store.begin().await?;
        self.ensure_party(&mut tx, &o.party_id, "opportunity.party_id")
            .await?;
        self.check_products(&mut tx, &o).await?;
        self.check_competitors(&mut tx, &o, &[]).await?;
        if o.territory_id.is_empty() {
            let mut lines = Vec::new();
            for p in &o.products {
                if let Some(product) = crate::storage::catalog::product_by_id(&mut tx, &p.product_id).await? {
                    lines.push(product.product_line);
                }
            }
            o.territory_id =
                crate::assignment::territory_for_opportunity(&mut tx, &o.party_id, &lines).await?;
        }
        let first = stages::list(&mut tx)
            .await?
            .into_iter()
            .find(|s| !s.is_won && !s.is_lost)
            .ok_or_else(|| Error::FailedPrecondition("the pipeline has no open stage".into()))?;
        o.stage_code = first.code;
        o.status = OpportunityStatus::Open as i32;
        o.lost_reason.clear();
        o.lead_id.clear();
        opportunities::insert(&mut tx, &mut o, self.store.now_micros()).await?;
        let stored = self.opportunity(&mut tx, &o.id).await?;
        events::publish(
            &mut tx,
            ev::OPPORTUNITY_CREATED,
            &stored.id,
            &pb::OpportunityCreated {
                opportunity: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateOpportunityResponse {
            opportunity: Some(stored),
        })
    }

    /// Refuses competitor ids the customers service never announced (or deleted), except those
    /// `kept` from before (a competitor deleted since it was recorded stays on the deal).
    async fn check_competitors(
        &self,
        conn: &mut crm_storage::Conn,
        o: &pb::Opportunity,
        kept: &[String],
    ) -> Result<()> {
        let ids: Vec<&str> = o.competitor_ids.iter().map(String::as_str).collect();
        let known = crate::storage::competitors::names(conn, &ids).await?;
        let mut v = Violations::new();
        for (i, id) in o.competitor_ids.iter().enumerate() {
            if !known.contains_key(id) && !kept.contains(id) {
                v.add(format!("opportunity.competitor_ids[{i}]"), "no such competitor");
            }
        }
        Ok(v.finish()?)
    }

    async fn check_products(&self, conn: &mut crm_storage::Conn, o: &pb::Opportunity) -> Result<()> {
        let mut v = Violations::new();
        for (i, p) in o.products.iter().enumerate() {
            if crate::storage::catalog::product_by_id(conn, &p.product_id)
                .await?
                .is_none()
            {
                v.add(format!("opportunity.products[{i}].product_id"), "no such product");
            }
        }
        Ok(v.finish()?)
    }

    pub(super) async fn handle_get_opportunity(
        &self,
        principal: &Principal,
        req: pb::GetOpportunityRequest,
    ) -> Result<pb::GetOpportunityResponse> {
        let mut conn = self.store.conn().await?;
        let o = self.opportunity(&mut conn, &req.id).await?;
        if !readable(principal, &o) {
            return Err(Error::PermissionDenied(format!(
                "{} may not read opportunity {}",
                principal.user_id, o.id
            )));
        }
        Ok(pb::GetOpportunityResponse { opportunity: Some(o) })
    }

    pub(super) async fn handle_update_opportunity(
        &self,
        principal: &Principal,
        req: pb::UpdateOpportunityRequest,
    ) -> Result<pb::UpdateOpportunityResponse> {
        let patch = req
            .opportunity
            .ok_or_else(|| invalid("opportunity", "required"))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut v = Violations::new();
        v.check(paths.is_empty(), "update_mask", "name at least one field");
        for path in &paths {
            v.check(
                !UPDATABLE.contains(&path.as_str()),
                "update_mask",
                format!("{path:?} cannot be updated"),
            );
        }
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let (mut o, expected) = self
            .opportunity_for_write(&mut tx, principal, &patch.id, Some(&patch.etag))
            .await?;
        let recorded = o.competitor_ids.clone();
        let changes =
            |path: &str, current: &str, next: &str| paths.iter().any(|p| p == path) && current != next;
        super::check_assignment(
            principal,
            &rules::Assignment {
                owner_id: changes("owner_id", &o.owner_id, &patch.owner_id)
                    .then_some(patch.owner_id.as_str()),
                team_id: changes("team_id", &o.team_id, &patch.team_id).then_some(patch.team_id.as_str()),
                territory_id: changes("territory_id", &o.territory_id, &patch.territory_id)
                    .then_some(patch.territory_id.as_str()),
            },
        )?;
        for path in &paths {
            match path.as_str() {
                "name" => o.name = patch.name.trim().to_string(),
                "amount" => o.amount.clone_from(&patch.amount),
                "expected_close_date" => o.expected_close_date.clone_from(&patch.expected_close_date),
                "owner_id" => o.owner_id.clone_from(&patch.owner_id),
                "team_id" => o.team_id.clone_from(&patch.team_id),
                "territory_id" => o.territory_id.clone_from(&patch.territory_id),
                "next_step" => o.next_step.clone_from(&patch.next_step),
                "competitor_ids" => o.competitor_ids.clone_from(&patch.competitor_ids),
                _ => o.products.clone_from(&patch.products),
            }
        }
        validate_opportunity(&o).finish()?;
        self.check_products(&mut tx, &o).await?;
        self.check_competitors(&mut tx, &o, &recorded).await?;
        if !opportunities::update(&mut tx, &o, expected, None).await? {
            return Err(Error::Stale(format!("opportunity {}", o.id)));
        }
        let stored = self.opportunity(&mut tx, &o.id).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateOpportunityResponse {
            opportunity: Some(stored),
        })
    }

    pub(super) async fn handle_export_opportunities(
        &self,
        principal: Principal,
        req: pb::ExportOpportunitiesRequest,
    ) -> Result<ResponseStream<pb::ExportOpportunitiesResponse>> {
        let db = self.store.db().clone();
        Ok(export::keyset_pages(String::new(), move |after: String| {
            let (db, req, principal) = (db.clone(), req.clone(), principal.clone());
            async move {
                let mut conn = db.pool().acquire().await?;
                let page = opportunities::list(
                    &mut conn,
                    opportunities::ListFilter {
                        party_id: &req.party_id,
                        owner_id: &req.owner_id,
                        stage_code: &req.stage_code,
                        status: req.status,
                    },
                    &rules::VisibleRecords::of(&principal),
                    &after,
                    export::PAGE,
                )
                .await?;
                let next = export::next_key(page.len(), export::PAGE, page.last().map(|o| o.id.clone()));
                let stages = stages::list(&mut conn).await?;
                let opportunities: Vec<pb::Opportunity> = page
                    .into_iter()
                    .filter(|o| readable(&principal, o))
                    .map(|o| with_probability(o, &stages))
                    .collect();
                let message =
                    (!opportunities.is_empty()).then_some(pb::ExportOpportunitiesResponse { opportunities });
                Ok((message, next))
            }
        }))
    }

    pub(super) async fn handle_list_opportunities(
        &self,
        principal: &Principal,
        req: pb::ListOpportunitiesRequest,
    ) -> Result<pb::ListOpportunitiesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let found = opportunities::list(
            &mut conn,
            opportunities::ListFilter {
                party_id: &req.party_id,
                owner_id: &req.owner_id,
                stage_code: &req.stage_code,
                status: req.status,
            },
            &rules::VisibleRecords::of(principal),
            &after,
            size,
        )
        .await?;
        let next_page_token = next_token(found.len(), size, found.last().map(|o| o.id.clone()));
        let stages = stages::list(&mut conn).await?;
        let opportunities = found
            .into_iter()
            .filter(|o| readable(principal, o))
            .map(|o| with_probability(o, &stages))
            .collect();
        Ok(pb::ListOpportunitiesResponse {
            opportunities,
            next_page_token,
        })
    }

    pub(super) async fn handle_move_opportunity_stage(
        &self,
        principal: &Principal,
        req: pb::MoveOpportunityStageRequest,
    ) -> Result<pb::MoveOpportunityStageResponse> {
        let mut v = Violations::new();
        v.check(req.stage_code.is_empty(), "stage_code", "required");
        v.check(
            !req.planned_leave_date.is_empty() && !rules::is_date(&req.planned_leave_date),
            "planned_leave_date",
            "a date YYYY-MM-DD",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let (mut o, expected) = self
            .opportunity_for_write(&mut tx, principal, &req.id, Some(&req.etag))
            .await?;
        let stage = stages::list(&mut tx)
            .await?
            .into_iter()
            .find(|s| s.code == req.stage_code)
            .ok_or_else(|| invalid("stage_code", "no such stage"))?;
        if stage.is_won || stage.is_lost {
            return Err(invalid("stage_code", "use CloseOpportunity to win or lose"));
        }
        if stage.code == o.stage_code {
            return Err(Error::FailedPrecondition(format!(
                "opportunity {} is already in {}",
                o.id, stage.code
            )));
        }
        let previous = std::mem::replace(&mut o.stage_code, stage.code.clone());
        if !opportunities::update(&mut tx, &o, expected, None).await? {
            return Err(Error::Stale(format!("opportunity {}", o.id)));
        }
        let planned = if req.planned_leave_date.is_empty() {
            opportunities::pending_plan(&mut tx, &o.id, &stage.code)
                .await?
                .unwrap_or_default()
        } else {
            req.planned_leave_date.clone()
        };
        opportunities::enter_stage(&mut tx, &o.id, &stage.code, &planned, self.store.now_micros()).await?;
        let stored = self.opportunity(&mut tx, &o.id).await?;
        events::publish(
            &mut tx,
            ev::OPPORTUNITY_STAGE_CHANGED,
            &stored.id,
            &pb::OpportunityStageChanged {
                opportunity: Some(stored.clone()),
                previous_stage_code: previous,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::MoveOpportunityStageResponse {
            opportunity: Some(stored),
        })
    }

    pub(super) async fn handle_set_stage_plan(
        &self,
        principal: &Principal,
        req: pb::SetStagePlanRequest,
    ) -> Result<pb::SetStagePlanResponse> {
        let mut tx = self.store.begin().await?;
        let (o, expected) = self
            .opportunity_for_write(&mut tx, principal, &req.id, Some(&req.etag))
            .await?;
        let stages = stages::list(&mut tx).await?;
        let mut v = Violations::new();
        v.check(req.plans.is_empty(), "plans", "name at least one stage");
        for (i, plan) in req.plans.iter().enumerate() {
            v.check(
                !stages
                    .iter()
                    .any(|s| s.code == plan.stage_code && !s.is_won && !s.is_lost),
                format!("plans[{i}].stage_code"),
                "an open stage of the pipeline",
            );
            v.check(
                !rules::is_date(&plan.planned_leave_date),
                format!("plans[{i}].planned_leave_date"),
                "a date YYYY-MM-DD",
            );
        }
        v.finish()?;
        for plan in &req.plans {
            opportunities::set_plan(&mut tx, &o.id, &plan.stage_code, &plan.planned_leave_date).await?;
        }
        // The plan is part of the opportunity: bump its version.
        if !opportunities::update(&mut tx, &o, expected, None).await? {
            return Err(Error::Stale(format!("opportunity {}", o.id)));
        }
        let stored = self.opportunity(&mut tx, &o.id).await?;
        self.store.commit(tx).await?;
        Ok(pb::SetStagePlanResponse {
            opportunity: Some(stored),
        })
    }

    pub(super) async fn handle_close_opportunity(
        &self,
        principal: &Principal,
        req: pb::CloseOpportunityRequest,
    ) -> Result<pb::CloseOpportunityResponse> {
        if !req.won && req.lost_reason.trim().is_empty() {
            return Err(invalid("lost_reason", "required when an opportunity is lost"));
        }
        let mut tx = self.store.begin().await?;
        let (o, expected) = self
            .opportunity_for_write(&mut tx, principal, &req.id, Some(&req.etag))
            .await?;
        let stored = self
            .close(&mut tx, o, expected, req.won, req.lost_reason.trim())
            .await?;
        self.store.commit(tx).await?;
        Ok(pb::CloseOpportunityResponse {
            opportunity: Some(stored),
        })
    }

    /// Moves an open opportunity to the won or lost stage and announces it.
    pub(super) async fn close(
        &self,
        tx: &mut crm_storage::Tx,
        mut o: pb::Opportunity,
        expected: i64,
        won: bool,
        lost_reason: &str,
    ) -> Result<pb::Opportunity> {
        let stage = stages::list(tx)
            .await?
            .into_iter()
            .find(|s| if won { s.is_won } else { s.is_lost })
            .ok_or_else(|| Error::FailedPrecondition("the pipeline has no closing stage".into()))?;
        let now = self.store.now_micros();
        o.stage_code = stage.code.clone();
        o.status = if won {
            OpportunityStatus::Won
        } else {
            OpportunityStatus::Lost
        } as i32;
        o.lost_reason = lost_reason.to_string();
        if !opportunities::update(tx, &o, expected, Some(now)).await? {
            return Err(Error::Stale(format!("opportunity {}", o.id)));
        }
        opportunities::enter_stage(tx, &o.id, &stage.code, "", now).await?;
        let stored = self.opportunity(tx, &o.id).await?;
        if won {
            events::publish(
                tx,
                ev::OPPORTUNITY_WON,
                &stored.id,
                &pb::OpportunityWon {
                    opportunity: Some(stored.clone()),
                },
            )
            .await?;
        } else {
            events::publish(
                tx,
                ev::OPPORTUNITY_LOST,
                &stored.id,
                &pb::OpportunityLost {
                    opportunity: Some(stored.clone()),
                },
            )
            .await?;
        }
        Ok(stored)
    }
}
