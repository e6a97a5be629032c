//! The service report: volume, SLA compliance, handling times, backlog, workload, satisfaction.

use std::collections::BTreeMap;

use crm_proto::servicedesk::v1::{self as pb, CaseChannel, CaseType};

/// What the report adds up over the cases opened in the period and the cases open now (the
/// storage computes it in SQL; see `storage::cases::report_totals` for what counts). Times in µs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cases opened in the period.
    pub opened: i64,
    /// Of them, resolved.
    pub resolved: i64,
    /// Of them, whose response target was met or missed (responded, or past due).
    pub response_due: i64,
    /// Of those, responded in time.
    pub response_met: i64,
    /// Of them, whose resolution target was met or missed.
    pub resolution_due: i64,
    /// Of those, resolved in time.
    pub resolution_met: i64,
    /// Total time to first response, and over how many cases.
    pub response_time: (i64, i64),
    /// Total time to resolution, and over how many cases.
    pub resolution_time: (i64, i64),
    /// Sum of ratings, and how many were rated.
    pub ratings: (i64, i64),
    /// Cases per CaseChannel number.
    pub by_channel: Vec<(i32, i64)>,
    /// Cases per CaseType number.
    pub by_type: Vec<(i32, i64)>,
    /// Open cases by age: under a day, 1-3 days, 3-7 days, over 7 days.
    pub backlog: [i64; 4],
    /// Open cases per assigned agent.
    pub open_by_agent: Vec<(String, i64)>,
    /// Cases of the period resolved, per assigned agent.
    pub resolved_by_agent: Vec<(String, i64)>,
}

/// The backlog's age buckets, in the order of [`Totals::backlog`].
pub const BACKLOG_AGES: [&str; 4] = ["<1d", "1-3d", "3-7d", ">7d"];

/// Where each backlog bucket ends, in µs of age (the last is open-ended).
pub const BACKLOG_ENDS: [i64; 3] = [DAY, 3 * DAY, 7 * DAY];

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

fn counts(rows: impl Iterator<Item = (String, i64)>) -> Vec<pb::CountRow> {
    let mut map = BTreeMap::new();
    for (key, n) in rows {
        *map.entry(key).or_insert(0) += n;
    }
    map.into_iter()
        .map(|(key, count)| pb::CountRow { key, count })
        .collect()
}

fn bps(met: i64, of: i64) -> i32 {
    if of == 0 { 0 } else { (met * 10_000 / of) as i32 }
}

fn mean_minutes((total, n): (i64, i64)) -> i64 {
    if n == 0 { 0 } else { total / n / MINUTE }
}

/// The report from its totals: compliance in bps of the targets met or missed, mean handling
/// times in whole minutes, satisfaction as a mean x 100, channels and types by name.
pub fn report(t: &Totals) -> pb::GetServiceReportResponse {
    let mut workload: BTreeMap<String, pb::AgentWorkload> = BTreeMap::new();
    for (agent, n) in &t.open_by_agent {
        workload
            .entry(agent.clone())
            .or_insert_with(|| pb::AgentWorkload {
                agent_id: agent.clone(),
                ..Default::default()
            })
            .open_cases += n;
    }
    for (agent, n) in &t.resolved_by_agent {
        workload
            .entry(agent.clone())
            .or_insert_with(|| pb::AgentWorkload {
                agent_id: agent.clone(),
                ..Default::default()
            })
            .resolved_cases += n;
    }
    let (rating_total, rated) = t.ratings;
    pb::GetServiceReportResponse {
        opened: t.opened,
        resolved: t.resolved,
        by_channel: counts(t.by_channel.iter().map(|(channel, n)| {
            let name = CaseChannel::try_from(*channel).unwrap_or_default().as_str_name();
            (short(name, "CASE_CHANNEL_"), *n)
        })),
        by_type: counts(t.by_type.iter().map(|(kind, n)| {
            let name = CaseType::try_from(*kind).unwrap_or_default().as_str_name();
            (short(name, "CASE_TYPE_"), *n)
        })),
        response_compliance_bps: bps(t.response_met, t.response_due),
        resolution_compliance_bps: bps(t.resolution_met, t.resolution_due),
        mean_response_minutes: mean_minutes(t.response_time),
        mean_resolution_minutes: mean_minutes(t.resolution_time),
        backlog_ageing: BACKLOG_AGES
            .iter()
            .zip(t.backlog)
            .map(|(key, count)| pb::CountRow {
                key: key.to_string(),
                count,
            })
            .collect(),
        workload: workload.into_values().collect(),
        mean_satisfaction_x100: if rated == 0 {
            0
        } else {
            (rating_total * 100 / rated) as i32
        },
        rated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_become_rates_means_and_names() {
        let hour = 60 * MINUTE;
        let r = report(&Totals {
            opened: 3,
            resolved: 1,
            response_due: 3,
            response_met: 1,
            resolution_due: 1,
            resolution_met: 1,
            response_time: (hour / 2 + 2 * hour, 2),
            resolution_time: (2 * hour, 1),
            ratings: (7, 2),
            by_channel: vec![(CaseChannel::Phone as i32, 2), (CaseChannel::Email as i32, 1)],
            by_type: vec![(CaseType::Inquiry as i32, 3)],
            backlog: [2, 0, 0, 0],
            open_by_agent: vec![("amy".into(), 2)],
            resolved_by_agent: vec![("amy".into(), 1)],
        });
        assert_eq!((r.opened, r.resolved), (3, 1));
        assert_eq!(r.response_compliance_bps, 3333);
        assert_eq!(r.resolution_compliance_bps, 10_000);
        assert_eq!((r.mean_response_minutes, r.mean_resolution_minutes), (75, 120));
        assert_eq!(
            r.by_channel
                .iter()
                .map(|c| (c.key.as_str(), c.count))
                .collect::<Vec<_>>(),
            [("email", 1), ("phone", 2)]
        );
        assert_eq!(r.backlog_ageing[0].count, 2);
        assert_eq!((r.workload[0].open_cases, r.workload[0].resolved_cases), (2, 1));
        assert_eq!((r.mean_satisfaction_x100, r.rated), (350, 2));
        assert_eq!(report(&Totals::default()).backlog_ageing.len(), 4);
    }
}
