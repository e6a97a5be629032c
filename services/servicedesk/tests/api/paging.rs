//! The desk's lists page: each item once, in order, pages capped; the case export by queue.

use crm_proto::servicedesk::v1::{self as pb, CaseStatus, CaseType};
use crm_testkit::{Backend, all_pages, backend_tests};
use futures::StreamExt as _;

use crate::helpers::{Suite, case, violated};

async fn desk_lists_page_in_order(backend: Backend) {
    let suite = Suite::start(backend).await;
    let mut queues = Vec::new();
    for name in ["Returns", "Billing", "Delivery"] {
        queues.push(suite.queue(name).await);
    }
    // Agents of several queues: routing finds them by any of their queues.
    for (user, queue) in [("zoe", 0), ("amy", 1), ("max", 2)] {
        suite.agent(user, &queues[queue], &[], 3).await;
    }
    let mut opened = Vec::new();
    for (queue, agent) in [(1, "amy"), (0, "zoe"), (2, "max"), (1, "amy")] {
        let c = case("p-1", &queues[queue], CaseType::Inquiry, 3, "Where is my order?");
        let c = suite.open(&suite.admin, c).await.unwrap();
        assert_eq!(c.agent_id, agent, "routed within the queue");
        opened.push(c);
    }
    for (tier, priority) in [("gold", 1), ("", 2), ("gold", 2)] {
        suite
            .desk()
            .set_sla_policy(suite.req(pb::SetSlaPolicyRequest {
                policy: Some(pb::SlaPolicy {
                    tier: tier.into(),
                    priority,
                    response_minutes: 30,
                    resolution_minutes: 600,
                }),
            }))
            .await
            .unwrap();
    }

    let (listed, pages) = all_pages(|token| {
        let mut desk = suite.desk();
        let req = suite.req(pb::ListQueuesRequest {
            page_size: 2,
            page_token: token,
        });
        async move {
            let r = desk.list_queues(req).await.unwrap().into_inner();
            (r.queues, r.next_page_token)
        }
    })
    .await;
    let names: Vec<String> = listed.into_iter().map(|q| q.name).collect();
    assert_eq!(
        (names, pages),
        (vec!["Billing".into(), "Delivery".into(), "Returns".into()], 2)
    );

    let (agents, _) = all_pages(|token| {
        let mut desk = suite.desk();
        let req = suite.req(pb::ListAgentsRequest {
            page_size: 2,
            page_token: token,
        });
        async move {
            let r = desk.list_agents(req).await.unwrap().into_inner();
            (r.agents, r.next_page_token)
        }
    })
    .await;
    let users: Vec<String> = agents.into_iter().map(|a| a.user_id).collect();
    assert_eq!(users, ["amy", "max", "zoe"]);

    let (policies, _) = all_pages(|token| {
        let mut desk = suite.desk();
        let req = suite.req(pb::ListSlaPoliciesRequest {
            page_size: 1,
            page_token: token,
        });
        async move {
            let r = desk.list_sla_policies(req).await.unwrap().into_inner();
            (r.policies, r.next_page_token)
        }
    })
    .await;
    let keys: Vec<(String, i32)> = policies.into_iter().map(|p| (p.tier, p.priority)).collect();
    assert_eq!(keys, [(String::new(), 2), ("gold".into(), 1), ("gold".into(), 2)]);

    let bad = suite
        .desk()
        .list_agents(suite.req(pb::ListAgentsRequest {
            page_size: -2,
            page_token: "!".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), ["page_size", "page_token"]);

    // The export streams one queue's cases, of one status or any, read by id from the queue's
    // index.
    let export = |queue_id: &str, status: CaseStatus| {
        let (mut desk, req) = (
            suite.desk(),
            suite.req(pb::ExportCasesRequest {
                status: status as i32,
                queue_id: queue_id.into(),
            }),
        );
        async move {
            let mut stream = desk.export_cases(req).await.unwrap().into_inner();
            let mut ids = Vec::new();
            while let Some(page) = stream.next().await {
                ids.extend(page.unwrap().cases.into_iter().map(|c| c.id));
            }
            ids
        }
    };
    let mut billing = vec![opened[0].id.clone(), opened[3].id.clone()];
    billing.sort();
    assert_eq!(export(&queues[1], CaseStatus::Unspecified).await, billing);
    assert_eq!(export(&queues[1], opened[0].status()).await, billing);
    assert_eq!(export(&queues[1], CaseStatus::Closed).await, Vec::<String>::new());
    assert_eq!(
        export(&queues[0], CaseStatus::Unspecified).await,
        [opened[1].id.as_str()]
    );
}

backend_tests!(desk_lists_page_in_order);
