//! The service report: volume, SLA compliance, handling times, backlog, workload, satisfaction.

use std::collections::BTreeMap;

use crm_proto::servicedesk::v1::{self as pb, CaseChannel, CaseStatus, CaseType};

/// What the report needs of a case; times in µs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFacts {
    /// CaseChannel.
    pub channel: i32,
    /// CaseType.
    pub case_type: i32,
    /// CaseStatus.
    pub status: i32,
    /// Assigned agent.
    pub agent_id: String,
    /// Opened.
    pub opened_at: i64,
    /// First response due.
    pub response_due_at: i64,
    /// Resolution due.
    pub resolution_due_at: i64,
    /// First response.
    pub first_response_at: Option<i64>,
    /// Resolved.
    pub resolved_at: Option<i64>,
    /// Rating 1-5, 0 when not rated.
    pub satisfaction: i32,
}

impl CaseFacts {
    fn is_open(&self) -> bool {
        !matches!(
            CaseStatus::try_from(self.status),
            Ok(CaseStatus::Resolved | CaseStatus::Closed)
        )
    }
}

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

fn counts(keys: impl Iterator<Item = String>) -> Vec<pb::CountRow> {
    let mut map = BTreeMap::new();
    for k in keys {
        *map.entry(k).or_insert(0) += 1;
    }
    map.into_iter()
        .map(|(key, count)| pb::CountRow { key, count })
        .collect()
}

fn bps(met: i64, of: i64) -> i32 {
    if of == 0 { 0 } else { (met * 10_000 / of) as i32 }
}

fn mean_minutes(spans: &[i64]) -> i64 {
    if spans.is_empty() {
        0
    } else {
        spans.iter().sum::<i64>() / spans.len() as i64 / MINUTE
    }
}

fn workload_row<'a>(
    rows: &'a mut BTreeMap<String, pb::AgentWorkload>,
    agent: &str,
) -> &'a mut pb::AgentWorkload {
    rows.entry(agent.to_string())
        .or_insert_with(|| pb::AgentWorkload {
            agent_id: agent.to_string(),
            ..Default::default()
        })
}

/// The report over `period` (cases opened in the period) and `open` (every open case now, for
/// backlog and workload) at `now`. A target counts once it is met or missed: responded or past
/// due, resolved or past due.
pub fn report(period: &[CaseFacts], open: &[CaseFacts], now: i64) -> pb::GetServiceReportResponse {
    let (mut response_due, mut response_met, mut resolution_due, mut resolution_met) = (0, 0, 0, 0);
    let (mut response_spans, mut resolution_spans) = (Vec::new(), Vec::new());
    for c in period {
        if c.first_response_at.is_some() || now > c.response_due_at {
            response_due += 1;
            response_met += i64::from(c.first_response_at.is_some_and(|t| t <= c.response_due_at));
        }
        if c.resolved_at.is_some() || now > c.resolution_due_at {
            resolution_due += 1;
            resolution_met += i64::from(c.resolved_at.is_some_and(|t| t <= c.resolution_due_at));
        }
        response_spans.extend(c.first_response_at.map(|t| t - c.opened_at));
        resolution_spans.extend(c.resolved_at.map(|t| t - c.opened_at));
    }
    let rated: Vec<i64> = period
        .iter()
        .filter(|c| c.satisfaction > 0)
        .map(|c| i64::from(c.satisfaction))
        .collect();
    let ages = ["<1d", "1-3d", "3-7d", ">7d"];
    let mut backlog: Vec<pb::CountRow> = ages
        .iter()
        .map(|k| pb::CountRow {
            key: k.to_string(),
            count: 0,
        })
        .collect();
    for c in open.iter().filter(|c| c.is_open()) {
        let age = now - c.opened_at;
        let bucket = if age < DAY {
            0
        } else if age < 3 * DAY {
            1
        } else if age < 7 * DAY {
            2
        } else {
            3
        };
        backlog[bucket].count += 1;
    }
    let mut rows: BTreeMap<String, pb::AgentWorkload> = BTreeMap::new();
    for c in open.iter().filter(|c| c.is_open() && !c.agent_id.is_empty()) {
        workload_row(&mut rows, &c.agent_id).open_cases += 1;
    }
    for c in period
        .iter()
        .filter(|c| c.resolved_at.is_some() && !c.agent_id.is_empty())
    {
        workload_row(&mut rows, &c.agent_id).resolved_cases += 1;
    }
    pb::GetServiceReportResponse {
        opened: period.len() as i64,
        resolved: period.iter().filter(|c| c.resolved_at.is_some()).count() as i64,
        by_channel: counts(period.iter().map(|c| {
            short(
                CaseChannel::try_from(c.channel).unwrap_or_default().as_str_name(),
                "CASE_CHANNEL_",
            )
        })),
        by_type: counts(period.iter().map(|c| {
            short(
                CaseType::try_from(c.case_type).unwrap_or_default().as_str_name(),
                "CASE_TYPE_",
            )
        })),
        response_compliance_bps: bps(response_met, response_due),
        resolution_compliance_bps: bps(resolution_met, resolution_due),
        mean_response_minutes: mean_minutes(&response_spans),
        mean_resolution_minutes: mean_minutes(&resolution_spans),
        backlog_ageing: backlog,
        workload: rows.into_values().collect(),
        mean_satisfaction_x100: if rated.is_empty() {
            0
        } else {
            (rated.iter().sum::<i64>() * 100 / rated.len() as i64) as i32
        },
        rated: rated.len() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_count_once_met_or_missed() {
        let hour = 60 * MINUTE;
        let base = CaseFacts {
            channel: CaseChannel::Phone as i32,
            case_type: CaseType::Inquiry as i32,
            status: CaseStatus::InProgress as i32,
            agent_id: "amy".into(),
            response_due_at: hour,
            resolution_due_at: 8 * hour,
            ..Default::default()
        };
        let fast = CaseFacts {
            first_response_at: Some(hour / 2),
            resolved_at: Some(2 * hour),
            status: CaseStatus::Resolved as i32,
            satisfaction: 5,
            ..base.clone()
        };
        let late = CaseFacts {
            first_response_at: Some(2 * hour),
            channel: CaseChannel::Email as i32,
            satisfaction: 2,
            ..base.clone()
        };
        let pending = base.clone();
        let r = report(&[fast, late.clone(), pending.clone()], &[late, pending], 3 * hour);
        assert_eq!((r.opened, r.resolved), (3, 1));
        // Response: fast met, late missed, pending past due (missed).
        assert_eq!(r.response_compliance_bps, 3333);
        // Resolution: only the resolved case counts yet.
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
    }
}
