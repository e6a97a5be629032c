//! The sales organisation, territories and quotas.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::sales::v1::{self as pb, QuotaOwnerKind};

use super::{SalesApi, version};
use crate::domain::rules::check_money;
use crate::domain::territory::{self, TerritoryRule};
use crate::error::{Error, Result, invalid};
use crate::storage::{org, reassignment};
use crm_calendar::Period;

fn name(v: &mut Violations, field: &str, value: &str) {
    v.check(
        value.trim().is_empty() || value.len() > 100,
        field,
        "1 to 100 characters",
    );
}

fn unique(err: sqlx::Error, what: String) -> Error {
    if crm_storage::is_unique_violation(&err) {
        Error::AlreadyExists(what)
    } else {
        err.into()
    }
}

fn validate_territory(t: &pb::Territory) -> Violations {
    let mut v = Violations::new();
    name(&mut v, "territory.name", &t.name);
    let rule = TerritoryRule {
        id: "new".into(),
        priority: t.priority,
        industries: t.industries.clone(),
        regions: t.region_codes.clone(),
        product_lines: t.product_lines.clone(),
    };
    for (field, message) in territory::validate_rule(&rule) {
        v.add(
            format!("territory.{}", field.replace("regions", "region_codes")),
            message,
        );
    }
    v
}

impl SalesApi {
    pub(super) async fn handle_create_department(
        &self,
        _p: &Principal,
        req: pb::CreateDepartmentRequest,
    ) -> Result<pb::CreateDepartmentResponse> {
        let mut d = req.department.ok_or_else(|| invalid("department", "required"))?;
        d.name = d.name.trim().to_string();
        let mut v = Violations::new();
        name(&mut v, "department.name", &d.name);
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if !d.parent_id.is_empty()
            && !org::departments(&mut tx)
                .await?
                .iter()
                .any(|x| x.id == d.parent_id)
        {
            return Err(invalid("department.parent_id", "no such department"));
        }
        org::insert_department(&mut tx, &mut d)
            .await
            .map_err(|e| unique(e, format!("department {:?}", d.name)))?;
        self.store.commit(tx).await?;
        Ok(pb::CreateDepartmentResponse { department: Some(d) })
    }

    pub(super) async fn handle_create_team(
        &self,
        _p: &Principal,
        req: pb::CreateTeamRequest,
    ) -> Result<pb::CreateTeamResponse> {
        let mut t = req.team.ok_or_else(|| invalid("team", "required"))?;
        t.name = t.name.trim().to_string();
        let mut v = Violations::new();
        name(&mut v, "team.name", &t.name);
        v.check(t.department_id.is_empty(), "team.department_id", "required");
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if !org::departments(&mut tx)
            .await?
            .iter()
            .any(|x| x.id == t.department_id)
        {
            return Err(invalid("team.department_id", "no such department"));
        }
        org::insert_team(&mut tx, &mut t)
            .await
            .map_err(|e| unique(e, format!("team {:?}", t.name)))?;
        self.store.commit(tx).await?;
        Ok(pb::CreateTeamResponse { team: Some(t) })
    }

    pub(super) async fn handle_upsert_rep(
        &self,
        _p: &Principal,
        req: pb::UpsertRepRequest,
    ) -> Result<pb::UpsertRepResponse> {
        let rep = req.rep.ok_or_else(|| invalid("rep", "required"))?;
        let mut v = Violations::new();
        v.check(
            rep.user_id.trim().is_empty() || rep.user_id.len() > 200,
            "rep.user_id",
            "1 to 200 characters",
        );
        name(&mut v, "rep.display_name", &rep.display_name);
        v.check(rep.team_id.is_empty(), "rep.team_id", "required");
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if !org::teams(&mut tx).await?.iter().any(|t| t.id == rep.team_id) {
            return Err(invalid("rep.team_id", "no such team"));
        }
        org::upsert_rep(&mut tx, &rep).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpsertRepResponse { rep: Some(rep) })
    }

    pub(super) async fn handle_get_organization(
        &self,
        _p: &Principal,
        _req: pb::GetOrganizationRequest,
    ) -> Result<pb::GetOrganizationResponse> {
        let mut conn = self.store.conn().await?;
        Ok(pb::GetOrganizationResponse {
            departments: org::departments(&mut conn).await?,
            teams: org::teams(&mut conn).await?,
            reps: org::reps(&mut conn).await?,
        })
    }

    pub(super) async fn handle_create_territory(
        &self,
        _p: &Principal,
        req: pb::CreateTerritoryRequest,
    ) -> Result<pb::CreateTerritoryResponse> {
        let mut t = req.territory.ok_or_else(|| invalid("territory", "required"))?;
        t.name = t.name.trim().to_string();
        validate_territory(&t).finish()?;
        let mut tx = self.store.begin().await?;
        org::insert_territory(&mut tx, &mut t)
            .await
            .map_err(|e| unique(e, format!("territory {:?}", t.name)))?;
        let run = reassignment::request(&mut tx, self.store.now_micros()).await?;
        let stored = org::territory_by_id(&mut tx, &t.id).await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateTerritoryResponse {
            territory: stored,
            reassignment: Some(run.to_proto()),
            ..Default::default()
        })
    }

    pub(super) async fn handle_update_territory(
        &self,
        _p: &Principal,
        req: pb::UpdateTerritoryRequest,
    ) -> Result<pb::UpdateTerritoryResponse> {
        let patch = req.territory.ok_or_else(|| invalid("territory", "required"))?;
        let expected = version(&patch.etag, "territory.etag")?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut tx = self.store.begin().await?;
        let mut t = org::territory_by_id(&mut tx, &patch.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("territory {}", patch.id)))?;
        let mut v = Violations::new();
        v.check(paths.is_empty(), "update_mask", "name at least one field");
        for path in &paths {
            match path.as_str() {
                "name" => t.name = patch.name.trim().to_string(),
                "industries" => t.industries.clone_from(&patch.industries),
                "region_codes" => t.region_codes.clone_from(&patch.region_codes),
                "product_lines" => t.product_lines.clone_from(&patch.product_lines),
                "priority" => t.priority = patch.priority,
                "team_id" => t.team_id.clone_from(&patch.team_id),
                other => v.add("update_mask", format!("{other:?} cannot be updated")),
            }
        }
        v.finish()?;
        validate_territory(&t).finish()?;
        if t.etag != expected.to_string() || !org::update_territory(&mut tx, &t, expected).await? {
            return Err(Error::Stale(format!("territory {}", t.id)));
        }
        let run = reassignment::request(&mut tx, self.store.now_micros()).await?;
        let stored = org::territory_by_id(&mut tx, &t.id).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateTerritoryResponse {
            territory: stored,
            reassignment: Some(run.to_proto()),
            ..Default::default()
        })
    }

    pub(super) async fn handle_delete_territory(
        &self,
        _p: &Principal,
        req: pb::DeleteTerritoryRequest,
    ) -> Result<pb::DeleteTerritoryResponse> {
        let mut tx = self.store.begin().await?;
        if !org::delete_territory(&mut tx, &req.id).await? {
            return Err(Error::NotFound(format!("territory {}", req.id)));
        }
        let run = reassignment::request(&mut tx, self.store.now_micros()).await?;
        self.store.commit(tx).await?;
        Ok(pb::DeleteTerritoryResponse {
            reassignment: Some(run.to_proto()),
            ..Default::default()
        })
    }

    pub(super) async fn handle_list_territories(
        &self,
        _p: &Principal,
        req: pb::ListTerritoriesRequest,
    ) -> Result<pb::ListTerritoriesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = org::territories_page(&mut conn, after, size + 1).await?;
        let (territories, next_page_token) = finish_page(rows, size, |t| key_of(&[&t.name]));
        Ok(pb::ListTerritoriesResponse {
            territories,
            next_page_token,
        })
    }

    pub(super) async fn handle_reassign_accounts(
        &self,
        _p: &Principal,
        _req: pb::ReassignAccountsRequest,
    ) -> Result<pb::ReassignAccountsResponse> {
        let mut tx = self.store.begin().await?;
        let run = reassignment::request(&mut tx, self.store.now_micros()).await?;
        self.store.commit(tx).await?;
        Ok(pb::ReassignAccountsResponse {
            reassignment: Some(run.to_proto()),
            ..Default::default()
        })
    }

    pub(super) async fn handle_get_account_reassignment(
        &self,
        _p: &Principal,
        _req: pb::GetAccountReassignmentRequest,
    ) -> Result<pb::GetAccountReassignmentResponse> {
        let progress = reassignment::get(&mut *self.store.conn().await?).await?;
        Ok(pb::GetAccountReassignmentResponse {
            reassignment: Some(progress.to_proto()),
        })
    }

    pub(super) async fn handle_get_account_assignment(
        &self,
        _p: &Principal,
        req: pb::GetAccountAssignmentRequest,
    ) -> Result<pb::GetAccountAssignmentResponse> {
        let mut conn = self.store.conn().await?;
        let territory_id = org::assignment(&mut conn, &req.party_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("account {}", req.party_id)))?;
        Ok(pb::GetAccountAssignmentResponse {
            party_id: req.party_id,
            territory_id,
        })
    }

    pub(super) async fn handle_set_quota(
        &self,
        _p: &Principal,
        req: pb::SetQuotaRequest,
    ) -> Result<pb::SetQuotaResponse> {
        let mut quota = req.quota.ok_or_else(|| invalid("quota", "required"))?;
        let mut v = Violations::new();
        v.check(
            matches!(
                QuotaOwnerKind::try_from(quota.owner_kind),
                Err(_) | Ok(QuotaOwnerKind::Unspecified)
            ),
            "quota.owner_kind",
            "REP, TEAM or DEPARTMENT",
        );
        v.check(quota.owner_id.is_empty(), "quota.owner_id", "required");
        match Period::parse(&quota.period) {
            Some(p) => quota.period = p.code(),
            None => v.add("quota.period", "YYYY, YYYY-Qn or YYYY-MM"),
        }
        check_money(&mut v, "quota.amount", &quota.amount);
        v.check(
            quota.product_line.len() > 64,
            "quota.product_line",
            "at most 64 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let known = match QuotaOwnerKind::try_from(quota.owner_kind) {
            Ok(QuotaOwnerKind::Rep) => org::reps(&mut tx)
                .await?
                .iter()
                .any(|r| r.user_id == quota.owner_id),
            Ok(QuotaOwnerKind::Team) => org::teams(&mut tx).await?.iter().any(|t| t.id == quota.owner_id),
            _ => org::departments(&mut tx)
                .await?
                .iter()
                .any(|d| d.id == quota.owner_id),
        };
        if !known {
            return Err(invalid(
                "quota.owner_id",
                "not a rep, team or department of the organisation",
            ));
        }
        org::set_quota(&mut tx, &quota).await?;
        self.store.commit(tx).await?;
        Ok(pb::SetQuotaResponse { quota: Some(quota) })
    }

    pub(super) async fn handle_list_quotas(
        &self,
        _p: &Principal,
        req: pb::ListQuotasRequest,
    ) -> Result<pb::ListQuotasResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 4, &mut v)
            .and_then(|k| Some((k[0].parse().ok()?, k[1].clone(), k[2].clone(), k[3].clone())));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = org::quotas(
            &mut conn,
            req.owner_kind,
            &req.owner_id,
            &req.period,
            after,
            size + 1,
        )
        .await?;
        let (quotas, next_page_token) = finish_page(rows, size, |q| {
            key_of(&[
                q.owner_kind.to_string(),
                q.owner_id.clone(),
                q.period.clone(),
                q.product_line.clone(),
            ])
        });
        Ok(pb::ListQuotasResponse {
            quotas,
            next_page_token,
        })
    }
}
