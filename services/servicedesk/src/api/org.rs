//! Queues and agents.

use crm_auth::Principal;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::servicedesk::v1 as pb;
use crm_storage::is_unique_violation;

use super::ServiceDeskApi;
use crate::error::{Error, Result, Violations};
use crate::storage::org::{self, AgentFilter};
use crate::storage::sla;

/// A year of minutes: the longest SLA target.
const MAX_MINUTES: i64 = 525_600;

/// Trims a queue's name and supervisor and checks them (paths prefixed `queue.`).
fn check_queue(queue: &mut pb::Queue) -> Result<()> {
    queue.name = queue.name.trim().to_string();
    queue.supervisor_id = queue.supervisor_id.trim().to_string();
    let mut v = Violations::new();
    v.check(queue.name.is_empty(), "queue.name", "required");
    v.check(
        queue.name.chars().count() > 200,
        "queue.name",
        "at most 200 characters",
    );
    v.check(
        queue.supervisor_id.chars().count() > 200,
        "queue.supervisor_id",
        "at most 200 characters",
    );
    v.finish()?;
    Ok(())
}

impl ServiceDeskApi {
    pub(super) async fn handle_create_queue(
        &self,
        _p: &Principal,
        req: pb::CreateQueueRequest,
    ) -> Result<pb::CreateQueueResponse> {
        let mut queue = req.queue.unwrap_or_default();
        check_queue(&mut queue)?;
        let mut tx = self.store.begin().await?;
        match org::insert_queue(&mut tx, &mut queue).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!("queue {}", queue.name)));
            }
            other => other?,
        }
        self.store.commit(tx).await?;
        Ok(pb::CreateQueueResponse { queue: Some(queue) })
    }

    pub(super) async fn handle_update_queue(
        &self,
        _p: &Principal,
        req: pb::UpdateQueueRequest,
    ) -> Result<pb::UpdateQueueResponse> {
        let mut queue = req.queue.unwrap_or_default();
        queue.id = queue.id.trim().to_string();
        let mut v = Violations::new();
        v.check(queue.id.is_empty(), "queue.id", "required");
        v.finish()?;
        check_queue(&mut queue)?;
        let mut tx = self.store.begin().await?;
        match org::update_queue(&mut tx, &queue).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!("queue {}", queue.name)));
            }
            Ok(false) => return Err(Error::NotFound(format!("queue {}", queue.id))),
            other => other?,
        };
        self.store.commit(tx).await?;
        Ok(pb::UpdateQueueResponse { queue: Some(queue) })
    }

    pub(super) async fn handle_list_queues(
        &self,
        _p: &Principal,
        req: pb::ListQueuesRequest,
    ) -> Result<pb::ListQueuesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let rows = org::queues(&mut *self.store.conn().await?, after, size + 1).await?;
        let (queues, next_page_token) = finish_page(rows, size, |q| key_of(&[&q.name]));
        Ok(pb::ListQueuesResponse {
            queues,
            next_page_token,
        })
    }

    pub(super) async fn handle_upsert_agent(
        &self,
        _p: &Principal,
        req: pb::UpsertAgentRequest,
    ) -> Result<pb::UpsertAgentResponse> {
        let mut agent = req.agent.unwrap_or_default();
        let mut tx = self.store.begin().await?;
        let known = org::existing_queues(&mut tx, &agent.queue_ids).await?;
        let mut v = Violations::new();
        v.check(agent.user_id.trim().is_empty(), "agent.user_id", "required");
        v.check(agent.name.trim().is_empty(), "agent.name", "required");
        v.check(agent.capacity < 1, "agent.capacity", "at least 1 open case");
        v.check(
            agent.queue_ids.is_empty(),
            "agent.queue_ids",
            "at least one queue",
        );
        for (i, q) in agent.queue_ids.iter().enumerate() {
            v.check(
                !known.contains(q),
                format!("agent.queue_ids[{i}]"),
                "no such queue",
            );
        }
        v.finish()?;
        agent.skills = agent
            .skills
            .iter()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        org::upsert_agent(&mut tx, &agent).await?;
        self.pull_work(&mut tx, &agent.user_id).await?;
        let stored = org::agent(&mut tx, &agent.user_id).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpsertAgentResponse { agent: stored })
    }

    pub(super) async fn handle_list_agents(
        &self,
        _p: &Principal,
        req: pb::ListAgentsRequest,
    ) -> Result<pb::ListAgentsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = org::agents(&mut conn, AgentFilter::After(after.as_deref()), size + 1).await?;
        let (agents, next_page_token) = finish_page(rows, size, |a| key_of(&[&a.user_id]));
        Ok(pb::ListAgentsResponse {
            agents,
            next_page_token,
        })
    }

    pub(super) async fn handle_set_sla_policy(
        &self,
        _p: &Principal,
        req: pb::SetSlaPolicyRequest,
    ) -> Result<pb::SetSlaPolicyResponse> {
        let mut policy = req.policy.unwrap_or_default();
        policy.tier = policy.tier.trim().to_string();
        let mut v = Violations::new();
        v.check(!(1..=4).contains(&policy.priority), "policy.priority", "1 to 4");
        v.check(
            !(1..=MAX_MINUTES).contains(&policy.response_minutes),
            "policy.response_minutes",
            "1 minute to a year",
        );
        v.check(
            policy.resolution_minutes < policy.response_minutes || policy.resolution_minutes > MAX_MINUTES,
            "policy.resolution_minutes",
            "at least the response target, at most a year",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        sla::upsert(&mut tx, &policy).await?;
        self.store.commit(tx).await?;
        Ok(pb::SetSlaPolicyResponse { policy: Some(policy) })
    }

    pub(super) async fn handle_list_sla_policies(
        &self,
        _p: &Principal,
        req: pb::ListSlaPoliciesRequest,
    ) -> Result<pb::ListSlaPoliciesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after =
            decode_parts(&req.page_token, 2, &mut v).and_then(|k| Some((k[0].clone(), k[1].parse().ok()?)));
        v.finish()?;
        let rows = sla::page(&mut *self.store.conn().await?, after, size + 1).await?;
        let (policies, next_page_token) =
            finish_page(rows, size, |p| key_of(&[p.tier.clone(), p.priority.to_string()]));
        Ok(pb::ListSlaPoliciesResponse {
            policies,
            next_page_token,
        })
    }
}
