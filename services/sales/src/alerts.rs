//! The alert job: raises each alert condition (stalled deals, early-stage pile-ups, falling
//! new opportunities, overdue closes) once, on a timer and on demand (`EvaluateAlerts`).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_platform::Store;
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, OpportunityStatus};

use crate::api::reports::{date, ts};
use crate::domain::alerts::{self, AlertKind, OpenDeal};
use crate::events;
use crate::storage::{alerts as alert_store, reporting, stages};

fn kind_of(k: AlertKind) -> i32 {
    match k {
        AlertKind::StalledDeal => pb::AlertKind::StalledDeal as i32,
        AlertKind::EarlyStagePileUp => pb::AlertKind::EarlyStagePileUp as i32,
        AlertKind::FallingNewOpportunities => pb::AlertKind::FallingNewOpportunities as i32,
        AlertKind::OverdueClose => pb::AlertKind::OverdueClose as i32,
    }
}

/// Evaluates the alert rules over every open opportunity now (by the store's clock); records
/// and announces the alerts not raised before, and returns them.
pub async fn run_once(store: &Store) -> anyhow::Result<Vec<pb::Alert>> {
    let now = crm_platform::time::naive_utc(store.now_micros());
    let mut tx = store.begin().await?;
    let settings = alert_store::settings(&mut tx).await?;
    let stages = stages::list(&mut tx).await?;
    let positions: HashMap<&str, i32> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.code.as_str(), i as i32 + 1))
        .collect();
    let opps = reporting::opportunities(&mut tx, &reporting::Scope::default()).await?;
    let mut created: HashMap<String, Vec<NaiveDateTime>> = HashMap::new();
    let mut deals = Vec::new();
    for o in &opps {
        created
            .entry(o.owner_id.clone())
            .or_default()
            .push(ts(&o.create_time).unwrap_or_default());
        if o.status != OpportunityStatus::Open as i32 {
            continue;
        }
        let current = o.stage_history.last();
        deals.push(OpenDeal {
            id: o.id.clone(),
            owner_id: o.owner_id.clone(),
            stage_code: o.stage_code.clone(),
            stage_position: positions.get(o.stage_code.as_str()).copied().unwrap_or(1),
            entered_stage_at: current.and_then(|h| ts(&h.enter_time)).unwrap_or_default(),
            planned_leave_date: current
                .and_then(|h| NaiveDate::parse_from_str(&h.planned_leave_date, "%Y-%m-%d").ok()),
            expected_close: date(&o.expected_close_date),
        });
    }
    let mut raised = Vec::new();
    for alert in alerts::evaluate(&deals, &created, &settings, now) {
        let kind = kind_of(alert.kind);
        if let Some(stored) = alert_store::raise(
            &mut tx,
            kind,
            &alert.subject_id,
            &alert.owner_id,
            &alert.message,
            &alert.dedupe_key,
            store.now_micros(),
        )
        .await?
        {
            events::publish(
                &mut tx,
                ev::ALERT_RAISED,
                &stored.subject_id,
                &pb::AlertRaised {
                    alert: Some(stored.clone()),
                },
            )
            .await?;
            raised.push(stored);
        }
    }
    store.commit(tx).await?;
    Ok(raised)
}
