//! Follow-up work: tasks with due times and reminders for reps, agents and marketers, listed per
//! person with the overdue ones first; activities logged by service agents and marketers too.

use std::time::Duration;

use crm_auth::Role;
use crm_platform::time::{now_micros, timestamp};
use crm_proto::sales::v1::{self as pb, TaskStatus};
use crm_testkit::{Backend, authed, backend_tests, token};
use futures::StreamExt as _;

use crate::helpers::{Suite, seller, violated};

const HOUR: i64 = 3_600_000_000;

fn task(party: &str, title: &str, due_in_hours: i64) -> pb::Task {
    pb::Task {
        title: title.into(),
        party_id: party.into(),
        due_time: Some(timestamp(now_micros() + due_in_hours * HOUR)),
        ..Default::default()
    }
}

async fn tasks_keep_follow_up_work_in_order(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let rep = seller("rep-1", Role::SalesRep, "north", &[]);
    let other_rep = seller("rep-2", Role::SalesRep, "north", &[]);
    let manager = seller("mgr-1", Role::SalesManager, "north", &[]);
    let agent = token("amy", &[Role::ServiceAgent]);
    let create = |t: pb::Task, token: &str| {
        let req = authed(pb::CreateTaskRequest { task: Some(t) }, token);
        let mut pipeline = suite.pipeline.clone();
        async move {
            pipeline
                .create_task(req)
                .await
                .map(|r| r.into_inner().task.unwrap())
        }
    };

    // Bad tasks change nothing.
    let err = create(
        pb::Task {
            title: " ".into(),
            party_id: String::new(),
            due_time: None,
            remind_time: Some(timestamp(now_micros())),
            ..Default::default()
        },
        &rep,
    )
    .await
    .unwrap_err();
    assert_eq!(violated(&err), ["task.title", "task.due_time", "task.party_id"]);
    let err = create(
        pb::Task {
            remind_time: Some(timestamp(now_micros() + 48 * HOUR)),
            ..task(&acme.id, "Call back", 24)
        },
        &rep,
    )
    .await
    .unwrap_err();
    assert_eq!(violated(&err), ["task.remind_time"]);
    let err = create(
        pb::Task {
            owner_id: "rep-2".into(),
            ..task(&acme.id, "Call back", 24)
        },
        &rep,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::PermissionDenied,
        "a rep keeps their own tasks"
    );
    let err = create(task("no-such-party", "Call back", 24), &rep)
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["task.party_id"]);

    // Rep 1's list: one overdue, one tomorrow, one from the manager next week; Amy has her own.
    let overdue = create(task(&acme.id, "Send the quote", -2), &rep).await.unwrap();
    assert!(overdue.overdue);
    assert_eq!(
        (overdue.owner_id.as_str(), overdue.created_by.as_str()),
        ("rep-1", "rep-1")
    );
    let tomorrow = create(task(&acme.id, "Call back", 24), &rep).await.unwrap();
    let assigned = create(
        pb::Task {
            owner_id: "rep-1".into(),
            ..task(&acme.id, "Visit the plant", 24 * 7)
        },
        &manager,
    )
    .await
    .unwrap();
    assert_eq!(
        (assigned.owner_id.as_str(), assigned.created_by.as_str()),
        ("rep-1", "mgr-1")
    );
    create(task(&acme.id, "Check the repair", 4), &agent)
        .await
        .unwrap();

    let list = |owner: &str, party: &str, token: &str| {
        let req = authed(
            pb::ListTasksRequest {
                owner_id: owner.into(),
                party_id: party.into(),
                ..Default::default()
            },
            token,
        );
        let mut pipeline = suite.pipeline.clone();
        async move {
            pipeline.list_tasks(req).await.map(|r| {
                r.into_inner()
                    .tasks
                    .into_iter()
                    .map(|t| t.title)
                    .collect::<Vec<_>>()
            })
        }
    };
    assert_eq!(
        list("", "", &rep).await.unwrap(),
        ["Send the quote", "Call back", "Visit the plant"]
    );
    assert_eq!(list("", "", &agent).await.unwrap(), ["Check the repair"]);
    assert_eq!(list("rep-1", "", &manager).await.unwrap().len(), 3);
    let err = list("rep-1", "", &other_rep).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        list("", &acme.id, &agent).await.unwrap().len(),
        4,
        "the customer's tasks"
    );

    // Done: it goes after the open ones. Only its owner, creator or a manager changes it.
    let done = |etag: &str, token: &str| {
        let req = authed(
            pb::UpdateTaskRequest {
                id: overdue.id.clone(),
                etag: etag.into(),
                status: TaskStatus::Done as i32,
                ..Default::default()
            },
            token,
        );
        let mut pipeline = suite.pipeline.clone();
        async move {
            pipeline
                .update_task(req)
                .await
                .map(|r| r.into_inner().task.unwrap())
        }
    };
    assert_eq!(
        done(&overdue.etag, &other_rep).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        done("7", &rep).await.unwrap_err().code(),
        tonic::Code::FailedPrecondition
    );
    let closed = done(&overdue.etag, &rep).await.unwrap();
    assert!(!closed.overdue && closed.complete_time.is_some());
    assert_eq!(
        list("", "", &rep).await.unwrap(),
        ["Call back", "Visit the plant", "Send the quote"]
    );
    // Paged one at a time, in the same order.
    let mut titles = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = suite
            .pipeline
            .clone()
            .list_tasks(authed(
                pb::ListTasksRequest {
                    page_size: 1,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                &rep,
            ))
            .await
            .unwrap()
            .into_inner();
        titles.extend(page.tasks.into_iter().map(|t| t.title));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(titles, ["Call back", "Visit the plant", "Send the quote"]);

    // Handed over: rep 2 owns it now.
    let handed = suite
        .pipeline
        .clone()
        .update_task(authed(
            pb::UpdateTaskRequest {
                id: tomorrow.id.clone(),
                etag: tomorrow.etag.clone(),
                owner_id: "rep-2".into(),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(handed.owner_id, "rep-2");
    assert_eq!(list("", "", &other_rep).await.unwrap(), ["Call back"]);

    // Service agents and marketers log what happened with the customer, too.
    for (user, role) in [("amy", Role::ServiceAgent), ("mia", Role::Marketer)] {
        suite
            .pipeline
            .clone()
            .log_activity(authed(
                pb::LogActivityRequest {
                    activity: Some(pb::Activity {
                        kind: pb::ActivityKind::Call as i32,
                        subject: format!("Spoke with {user}"),
                        party_id: acme.id.clone(),
                        ..Default::default()
                    }),
                },
                &token(user, &[role]),
            ))
            .await
            .unwrap();
    }
    let logged = suite
        .pipeline
        .clone()
        .list_activities(suite.req(pb::ListActivitiesRequest {
            party_id: acme.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .activities;
    let mut owners: Vec<String> = logged.into_iter().map(|a| a.owner_id).collect();
    owners.sort();
    assert_eq!(owners, ["amy", "mia"]);
}

/// A reminder is announced once when its time comes, about the customer; a rescheduled task
/// reminds again at its new time, a closed one never.
async fn reminders_are_announced_once(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let rep = seller("rep-1", Role::SalesRep, "north", &[]);
    let mut reminders = suite.nats.subscribe("crm.sales.task.reminder_due.>").await;
    let due_now = pb::Task {
        remind_time: Some(timestamp(now_micros() - HOUR)),
        ..task(&acme.id, "Call back", 24)
    };
    let later = pb::Task {
        remind_time: Some(timestamp(now_micros() + 12 * HOUR)),
        ..task(&acme.id, "Renewal call", 24)
    };
    let mut created = Vec::new();
    for t in [due_now, later] {
        created.push(
            suite
                .pipeline
                .clone()
                .create_task(authed(pb::CreateTaskRequest { task: Some(t) }, &rep))
                .await
                .unwrap()
                .into_inner()
                .task
                .unwrap(),
        );
    }
    let send = || {
        let mut pipeline = suite.pipeline.clone();
        let req = suite.req(pb::SendTaskRemindersRequest {});
        async move { pipeline.send_task_reminders(req).await.unwrap().into_inner().sent }
    };
    assert_eq!(send().await, 1);
    assert_eq!(send().await, 0, "once");
    let msg = tokio::time::timeout(Duration::from_secs(30), reminders.next())
        .await
        .expect("a reminder")
        .unwrap();
    assert!(
        msg.subject.ends_with(&acme.id),
        "about the customer: {}",
        msg.subject
    );
    let e: pb::TaskReminderDue = prost::Message::decode(msg.payload).unwrap();
    assert_eq!(e.task.unwrap().title, "Call back");

    // The later one moved to an hour ago reminds now; the first, closed, never again.
    let later = &created[1];
    suite
        .pipeline
        .clone()
        .update_task(authed(
            pb::UpdateTaskRequest {
                id: later.id.clone(),
                etag: later.etag.clone(),
                remind_time: Some(timestamp(now_micros() - HOUR)),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap();
    let first = &created[0];
    suite
        .pipeline
        .clone()
        .update_task(authed(
            pb::UpdateTaskRequest {
                id: first.id.clone(),
                etag: first.etag.clone(),
                status: TaskStatus::Cancelled as i32,
                due_time: Some(timestamp(now_micros() + 48 * HOUR)),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap();
    assert_eq!(send().await, 1);
    let msg = tokio::time::timeout(Duration::from_secs(30), reminders.next())
        .await
        .expect("the moved reminder")
        .unwrap();
    let e: pb::TaskReminderDue = prost::Message::decode(msg.payload).unwrap();
    assert_eq!(e.task.unwrap().title, "Renewal call");
}

backend_tests!(tasks_keep_follow_up_work_in_order, reminders_are_announced_once);
