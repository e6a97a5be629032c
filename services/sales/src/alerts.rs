//! The alert job: raises each alert condition (stalled deals, early-stage pile-ups, falling
//! new opportunities, overdue closes) once, on a timer and on demand (`EvaluateAlerts`).

use std::collections::HashMap;

use chrono::NaiveDate;
use crm_events::outbox::{self, NewEvent};
use crm_platform::Store;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::events as ev;

use crate::api::reports::date;
use crate::domain::alerts::{self, OpenDeal};
use crate::storage::{alerts as alert_store, reporting, stages};

/// Evaluates the alert rules over every open opportunity now (by the store's clock); records
/// and announces the alerts not raised before, and returns them.
pub async fn run_once(store: &Store) -> anyhow::Result<Vec<pb::Alert>> {
    let now_micros = store.now_micros();
    let now = crm_platform::time::naive_utc(now_micros);
    let mut tx = store.begin().await?;
    let settings = alert_store::settings(&mut tx).await?;
    let stages = stages::list(&mut tx).await?;
    let positions: HashMap<&str, i32> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.code.as_str(), i as i32 + 1))
        .collect();
    // Each rep's new opportunities in the falling-rate windows, counted in SQL.
    let new_deals = reporting::new_deal_counts(&mut tx, &alerts::NewDealWindows::ending(now_micros)).await?;
    // Only the deals the rules can flag, and the early-stage counts per rep: not every open deal.
    let today = now.date().format("%Y-%m-%d").to_string();
    let stalled_before = now_micros - settings.default_stage_days.saturating_mul(86_400_000_000);
    let early_stages: Vec<String> = stages
        .iter()
        .take(usize::try_from(settings.early_stage_max_position.max(0)).unwrap_or(0))
        .map(|s| s.code.clone())
        .collect();
    let early_counts: std::collections::BTreeMap<String, i64> =
        reporting::early_stage_counts(&mut tx, &early_stages, settings.pile_up_threshold)
            .await?
            .into_iter()
            .collect();
    let deals: Vec<OpenDeal> = reporting::alert_candidates(&mut tx, &today, stalled_before)
        .await?
        .into_iter()
        .map(
            |(id, name, owner_id, stage_code, expected_close, entered_at, planned)| OpenDeal {
                stage_position: positions.get(stage_code.as_str()).copied().unwrap_or(1),
                id,
                name,
                owner_id,
                stage_code,
                entered_stage_at: entered_at.map(crm_platform::time::naive_utc).unwrap_or_default(),
                planned_leave_date: NaiveDate::parse_from_str(&planned, "%Y-%m-%d").ok(),
                expected_close: date(&expected_close),
            },
        )
        .collect();
    let detected = alerts::evaluate(&deals, &early_counts, &new_deals, &settings, now);
    let raised = alert_store::raise_many(&mut tx, &detected, now_micros).await?;
    let announced = raised.iter().map(|stored| {
        NewEvent::of(
            ev::ALERT_RAISED,
            stored.subject_id.clone(),
            &pb::AlertRaised {
                alert: Some(stored.clone()),
            },
        )
    });
    outbox::enqueue_many(&mut tx, announced.collect()).await?;
    store.commit(tx).await?;
    Ok(raised)
}
