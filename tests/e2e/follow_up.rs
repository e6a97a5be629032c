//! Follow-up across the suite, through the gateway: a deal past its close date alerts its rep
//! and the rep's manager, and a task's reminder reaches its owner, each delivered by the service
//! desk as a staff notification; the customer 360 then shows the open quote, the latest
//! activities (a service agent's among them), the open tasks, the consent, the last closed case
//! and the installed base.

use std::time::Duration;

use crm_auth::{Claims, Role};
use crm_platform::clock::Clock as _;
use crm_platform::time::timestamp;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::gateway::v1 as gpb;
use crm_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use crm_proto::marketing::v1 as mpb;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::sales::v1::sales_org_service_client::SalesOrgServiceClient;
use crm_proto::sales::v1::sales_report_service_client::SalesReportServiceClient;
use crm_proto::servicedesk::v1 as dpb;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_testkit::{Backend, authed, eventually, fixtures};
use tonic::transport::Channel;

const HOUR: i64 = 3_600_000_000;

fn usd(minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor: minor,
        currency_code: "USD".into(),
    })
}

/// A token for a rep of `team`.
fn rep_token(user: &str, team: &str) -> String {
    let mut claims = Claims::new(user, &[Role::SalesRep], Duration::from_secs(3600));
    claims.team = Some(team.into());
    crm_testkit::token_with(claims)
}

/// The templates of the staff notifications the desk queued for `user`.
async fn staff_notices(gw: &Channel, admin: &str, user: &str) -> Vec<(String, serde_json::Value)> {
    ServiceDeskServiceClient::new(gw.clone())
        .list_notifications(authed(
            dpb::ListNotificationsRequest {
                recipient: user.into(),
                ..Default::default()
            },
            admin,
        ))
        .await
        .expect("ListNotifications")
        .into_inner()
        .notifications
        .into_iter()
        .filter(|n| n.channel == "staff")
        .map(|n| (n.template, serde_json::from_str(&n.payload).unwrap()))
        .collect()
}

/// Waits until `user` has a staff notice with `template`, and returns its payload.
async fn notice(gw: &Channel, admin: &str, user: &str, template: &str) -> serde_json::Value {
    eventually(
        Duration::from_secs(60),
        &format!("a {template} for {user}"),
        || async {
            staff_notices(gw, admin, user)
                .await
                .into_iter()
                .find(|(t, _)| t == template)
                .map(|(_, payload)| payload)
        },
    )
    .await
}

async fn follow_up_reaches_people_and_the_360_shows_it(backend: Backend) {
    let suite = crate::support::start(backend, crate::support::gateway_settings()).await;
    let gw = suite.gateway();
    let admin = crm_testkit::token("admin-follow-up", &[Role::Admin]);
    let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_string();
    let (rep, manager, team_name) = (format!("rep-{tag}"), format!("mgr-{tag}"), format!("North {tag}"));

    // The sales organisation: the rep's team and its manager.
    let mut org = SalesOrgServiceClient::new(gw.clone());
    let department = org
        .create_department(authed(
            spb::CreateDepartmentRequest {
                department: Some(spb::Department {
                    name: format!("Sales {tag}"),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreateDepartment")
        .into_inner()
        .department
        .unwrap();
    let team = org
        .create_team(authed(
            spb::CreateTeamRequest {
                team: Some(spb::Team {
                    name: team_name,
                    department_id: department.id,
                    manager_user_id: manager.clone(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreateTeam")
        .into_inner()
        .team
        .unwrap();
    org.upsert_rep(authed(
        spb::UpsertRepRequest {
            rep: Some(spb::Rep {
                user_id: rep.clone(),
                display_name: "Rita".into(),
                team_id: team.id.clone(),
                active: true,
            }),
        },
        &admin,
    ))
    .await
    .expect("UpsertRep");
    let rep_token = rep_token(&rep, &team.id);

    let person = CustomersServiceClient::new(gw.clone())
        .create_party(authed(
            cpb::CreatePartyRequest {
                party: Some(cpb::Party {
                    kind: cpb::PartyKind::Person as i32,
                    given_name: "Fay".into(),
                    family_name: format!("Follow{tag}"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("CreateParty")
        .into_inner()
        .party
        .unwrap();

    // The rep's deal, expected to close tomorrow, with a quote presented.
    let now = suite.clock.now_micros();
    let tomorrow = chrono::DateTime::from_timestamp_micros(now + 24 * HOUR)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let mut pipeline = PipelineServiceClient::new(gw.clone());
    let deal = eventually(Duration::from_secs(60), "sales knows the customer", || async {
        pipeline
            .clone()
            .create_opportunity(authed(
                spb::CreateOpportunityRequest {
                    opportunity: Some(spb::Opportunity {
                        name: "Fay's routers".into(),
                        party_id: person.id.clone(),
                        amount: usd(240_000),
                        expected_close_date: tomorrow.clone(),
                        ..Default::default()
                    }),
                },
                &rep_token,
            ))
            .await
            .ok()
            .map(|r| r.into_inner().opportunity.unwrap())
    })
    .await;
    let mut catalog = CatalogServiceClient::new(gw.clone());
    let product = catalog
        .create_product(authed(
            spb::CreateProductRequest {
                product: Some(spb::Product {
                    sku: format!("FU-{}", tag.to_uppercase()),
                    name: "Router".into(),
                    product_line: "hardware".into(),
                    active: true,
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreateProduct")
        .into_inner()
        .product
        .unwrap();
    let book = catalog
        .create_price_book(authed(
            spb::CreatePriceBookRequest {
                price_book: Some(spb::PriceBook {
                    name: format!("Follow-up USD {tag}"),
                    currency_code: "USD".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreatePriceBook")
        .into_inner()
        .price_book
        .unwrap();
    catalog
        .set_price(authed(
            spb::SetPriceRequest {
                price: Some(spb::Price {
                    price_book_id: book.id.clone(),
                    product_id: product.id.clone(),
                    unit_price: usd(120_000),
                }),
            },
            &admin,
        ))
        .await
        .expect("SetPrice");
    let quote = fixtures::create_quote(
        OrderServiceClient::new(gw.clone()),
        &rep_token,
        &deal,
        &book,
        &product,
        2,
    )
    .await;

    // A service agent logs a call; the rep plans a call back, reminded an hour ahead.
    pipeline
        .log_activity(authed(
            spb::LogActivityRequest {
                activity: Some(spb::Activity {
                    kind: spb::ActivityKind::Call as i32,
                    subject: "Asked about the warranty".into(),
                    party_id: person.id.clone(),
                    ..Default::default()
                }),
            },
            &crm_testkit::token("amy", &[Role::ServiceAgent]),
        ))
        .await
        .expect("an agent logs an activity");
    let task = pipeline
        .create_task(authed(
            spb::CreateTaskRequest {
                task: Some(spb::Task {
                    title: "Call Fay back".into(),
                    party_id: person.id.clone(),
                    due_time: Some(timestamp(now + 26 * HOUR)),
                    remind_time: Some(timestamp(now + 25 * HOUR)),
                    ..Default::default()
                }),
            },
            &rep_token,
        ))
        .await
        .expect("CreateTask")
        .into_inner()
        .task
        .unwrap();

    // Two days on: the deal is past its close date, the reminder is due.
    suite.clock.set(now + 48 * HOUR);
    let raised = SalesReportServiceClient::new(gw.clone())
        .evaluate_alerts(authed(spb::EvaluateAlertsRequest {}, &admin))
        .await
        .expect("EvaluateAlerts")
        .into_inner()
        .raised;
    let alert = raised
        .iter()
        .find(|a| a.subject_id == deal.id)
        .unwrap_or_else(|| panic!("an overdue-close alert for {}: {raised:?}", deal.id));
    assert_eq!(
        (alert.owner_id.as_str(), alert.manager_id.as_str()),
        (rep.as_str(), manager.as_str())
    );
    let sent = pipeline
        .send_task_reminders(authed(spb::SendTaskRemindersRequest {}, &admin))
        .await
        .expect("SendTaskReminders")
        .into_inner()
        .sent;
    assert!(sent >= 1);
    for user in [&rep, &manager] {
        let told = notice(&gw, &admin, user, "sales_alert").await;
        assert_eq!(told["alert_id"], alert.id.as_str());
        assert_eq!(told["kind"], "overdue_close");
    }
    let reminder = notice(&gw, &admin, &rep, "task_reminder").await;
    assert_eq!(reminder["task_id"], task.id.as_str());
    assert_eq!(reminder["title"], "Call Fay back");
    assert!(
        staff_notices(&gw, &admin, &manager)
            .await
            .iter()
            .all(|(t, _)| t != "task_reminder"),
        "the reminder is the owner's"
    );

    // The desk: a laptop Fay owns, and a case about it resolved.
    let mut desk = ServiceDeskServiceClient::new(gw.clone());
    let asset = eventually(Duration::from_secs(60), "the desk knows the customer", || async {
        desk.clone()
            .register_asset(authed(
                dpb::RegisterAssetRequest {
                    asset: Some(dpb::Asset {
                        party_id: person.id.clone(),
                        product_name: "Laptop 14".into(),
                        serial_number: format!("SN-{tag}"),
                        purchase_date: "2026-06-01".into(),
                        warranty_end_date: "2027-05-31".into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .ok()
            .map(|r| r.into_inner().asset.unwrap())
    })
    .await;
    let queue = desk
        .create_queue(authed(
            dpb::CreateQueueRequest {
                queue: Some(dpb::Queue {
                    name: format!("Repairs {tag}"),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreateQueue")
        .into_inner()
        .queue
        .unwrap();
    let case = desk
        .open_case(authed(
            dpb::OpenCaseRequest {
                case: Some(dpb::Case {
                    r#type: dpb::CaseType::Request as i32,
                    channel: dpb::CaseChannel::Phone as i32,
                    severity: 3,
                    subject: "Hinge broke".into(),
                    party_id: person.id.clone(),
                    queue_id: queue.id.clone(),
                    asset_id: asset.id.clone(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("OpenCase")
        .into_inner()
        .case
        .unwrap();
    assert!(case.under_warranty);
    desk.change_case_status(authed(
        dpb::ChangeCaseStatusRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            status: dpb::CaseStatus::Resolved as i32,
            resolution: "Hinge replaced under warranty".into(),
        },
        &admin,
    ))
    .await
    .expect("resolve");

    // Marketing: Fay opted out of e-mail.
    eventually(
        Duration::from_secs(60),
        "marketing knows the customer",
        || async {
            MarketingServiceClient::new(gw.clone())
                .set_consent(authed(
                    mpb::SetConsentRequest {
                        consent: Some(mpb::Consent {
                            party_id: person.id.clone(),
                            channel: mpb::Channel::Email as i32,
                            opted_out: true,
                            ..Default::default()
                        }),
                    },
                    &admin,
                ))
                .await
                .ok()
        },
    )
    .await;

    let view = GatewayServiceClient::new(gw.clone())
        .get_customer360(authed(
            gpb::GetCustomer360Request {
                party_id: person.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("GetCustomer360")
        .into_inner();
    for status in &view.statuses {
        assert_eq!(status.code, 0, "{status:?}");
    }
    let sales = view.sales.expect("the sales section");
    assert_eq!(
        sales
            .open_quotes
            .iter()
            .map(|q| q.id.as_str())
            .collect::<Vec<_>>(),
        [quote.id.as_str()]
    );
    assert!(
        sales
            .recent_activities
            .iter()
            .any(|a| a.owner_id == "amy" && a.subject == "Asked about the warranty")
    );
    assert_eq!(
        sales.open_tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [task.id.as_str()]
    );
    let service = view.service.expect("the service section");
    assert!(service.open_cases.is_empty());
    assert_eq!(
        service
            .recently_closed
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        [case.id.as_str()]
    );
    assert_eq!(
        service
            .installed_base
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        [asset.id.as_str()]
    );
    let marketing = view.marketing.expect("the marketing section");
    assert!(
        marketing
            .consents
            .iter()
            .any(|c| c.channel == mpb::Channel::Email as i32 && c.opted_out)
    );

    // A rep's own view: the consent part is not theirs to read, and the rest still comes.
    let rep_view = GatewayServiceClient::new(gw.clone())
        .get_customer360(authed(
            gpb::GetCustomer360Request {
                party_id: person.id.clone(),
                ..Default::default()
            },
            &rep_token,
        ))
        .await
        .expect("a rep's 360")
        .into_inner();
    assert_eq!(rep_view.sales.expect("sales").open_tasks.len(), 1);
    suite.shutdown().await;
}

crm_testkit::backend_tests!(follow_up_reaches_people_and_the_360_shows_it);
