//! Activities: calls, meetings, visits, emails.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_token, next_token, page_size};
use crm_proto::sales::v1 as pb;

use super::SalesApi;
use crate::domain::rules::{self, validate_activity};
use crate::error::{Error, Result, invalid};
use crate::storage::{activities, micros, timestamp};

impl SalesApi {
    pub(super) async fn handle_log_activity(
        &self,
        principal: &Principal,
        req: pb::LogActivityRequest,
    ) -> Result<pb::LogActivityResponse> {
        let mut a = req.activity.ok_or_else(|| invalid("activity", "required"))?;
        a.subject = a.subject.trim().to_string();
        validate_activity(&a).finish()?;
        a.owner_id = principal.user_id.clone();
        if a.occur_time.is_none() {
            a.occur_time = Some(timestamp(self.store.now_micros()));
        }
        // An activity of an opportunity is about the opportunity's party, which sales holds.
        self.fetch_party(principal, &a.party_id, "activity.party_id")
            .await?;
        let mut tx = self.store.begin().await?;
        if !a.opportunity_id.is_empty() {
            let o = self.opportunity(&mut tx, &a.opportunity_id).await?;
            if !rules::may_read(principal, &o.owner_id, &o.team_id, &o.territory_id) {
                return Err(Error::PermissionDenied(format!(
                    "{} may not work opportunity {}",
                    principal.user_id, o.id
                )));
            }
            if a.party_id.is_empty() {
                a.party_id = o.party_id;
            } else if a.party_id != o.party_id {
                return Err(invalid("activity.party_id", "not the opportunity's party"));
            }
        }
        self.ensure_party(&mut tx, &a.party_id, "activity.party_id")
            .await?;
        activities::insert(&mut tx, &mut a).await?;
        self.store.commit(tx).await?;
        Ok(pb::LogActivityResponse { activity: Some(a) })
    }

    pub(super) async fn handle_list_activities(
        &self,
        _p: &Principal,
        req: pb::ListActivitiesRequest,
    ) -> Result<pb::ListActivitiesResponse> {
        let mut v = Violations::new();
        v.check(
            req.party_id.is_empty() && req.opportunity_id.is_empty(),
            "party_id",
            "name a party or an opportunity",
        );
        let size = page_size(req.page_size, 50, 500, &mut v);
        let token = decode_token(&req.page_token, &mut v);
        let after = if token.is_empty() {
            None
        } else {
            let key = token
                .split_once(':')
                .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id.to_string())));
            v.check(key.is_none(), "page_token", "not a token returned by this list");
            key
        };
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let found = activities::list(&mut conn, &req.party_id, &req.opportunity_id, after, size).await?;
        let last = found.last().map(|a| {
            format!(
                "{}:{}",
                a.occur_time.as_ref().map(micros).unwrap_or_default(),
                a.id
            )
        });
        let next_page_token = next_token(found.len(), size, last);
        Ok(pb::ListActivitiesResponse {
            activities: found,
            next_page_token,
        })
    }
}
