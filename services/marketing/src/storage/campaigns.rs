//! Campaigns and their members.

use crm_proto::common::v1::Money;
use crm_proto::marketing::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::timestamp;

/// What a campaign is created with (a macro, so that [`COLUMNS`] can extend it).
macro_rules! plan_columns {
    () => {
        "id, name, channel, currency_code, budget_minor, cost_per_contact_minor, net_profit_per_response_minor, \
         segment_id, status, test_every_n, attribution_window_days, created_at, code, message"
    };
}
const PLAN: &str = plan_columns!();

/// Where a campaign's latest selection of members is (see [`super::selections`]).
macro_rules! selection_columns {
    () => {
        "sel_started_at, sel_finished_at, sel_after, sel_selected, sel_suppressed, sel_cuts, sel_today"
    };
}
/// The selection's columns, which [`super::selections`] reads on its own.
pub(super) const SELECTION: &str = selection_columns!();

/// A campaign as read: its plan, its latest contact run and its latest selection.
const COLUMNS: &str = concat!(
    plan_columns!(),
    ", run_phase, run_cells, run_to_contact, run_after, run_cell, run_rank, run_considered, run_contacted, \
     run_suppressed, run_capped, run_started_at, run_finished_at, run_stopped, ",
    selection_columns!()
);

fn from_row(r: &AnyRow) -> sqlx::Result<pb::Campaign> {
    let currency: String = r.try_get("currency_code")?;
    let money = |v: i64| {
        Some(Money {
            amount_minor: v,
            currency_code: currency.clone(),
        })
    };
    Ok(pb::Campaign {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        channel: r.try_get::<i64, _>("channel")? as i32,
        budget: money(r.try_get("budget_minor")?),
        cost_per_contact: money(r.try_get("cost_per_contact_minor")?),
        net_profit_per_response: money(r.try_get("net_profit_per_response_minor")?),
        segment_id: r.try_get("segment_id")?,
        status: r.try_get::<i64, _>("status")? as i32,
        test_every_n: r.try_get::<i64, _>("test_every_n")? as i32,
        attribution_window_days: r.try_get::<i64, _>("attribution_window_days")? as i32,
        break_even_bps: 0,
        create_time: Some(timestamp(r.try_get("created_at")?)),
        code: r.try_get("code")?,
        message: r.try_get("message")?,
        contact_run: run_from_row(r)?.map(|run| run.to_proto()),
        selection: super::selections::from_row(r)?.map(|s| s.to_proto()),
    })
}

/// Where a campaign's contact run has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Which members it goes through.
    pub phase: pb::ContactPhase,
    /// The cells of a roll-out.
    pub cells: Vec<String>,
    /// The members it goes through, at most.
    pub to_contact: i64,
    /// Where it has got to.
    pub at: Cursor,
    /// Counts so far: gone through, contacted, left out for consent, left out at the cap.
    pub counts: RunCounts,
    /// When it started (µs).
    pub started_at: i64,
    /// When it ended (µs); None while under way.
    pub finished_at: Option<i64>,
    /// Ended by the campaign's closing.
    pub stopped: bool,
    /// Its phase as stored (see [`stored_phase`]), which a page checks is still the run's.
    stored_phase: i64,
}

/// The last member a run went through. A roll-out goes through its cells' members in party id
/// order; a test through every member in (cell, party id) order, picking its group as it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// That member's party id ('' before the first).
    pub party: String,
    /// A test's: that member's cell.
    pub cell: String,
    /// A test's: how many members of that cell it went through.
    pub rank: i64,
}

/// How a run's phase is stored. A test run stores 3: the release before marked the whole test
/// group when the test started, stored 1 and went through the marked members, so its pods,
/// running beside this release's during a rollout, leave a run they would find nobody in alone
/// (an unknown phase is no run to them). This release goes on with a run of theirs the way it
/// goes through its own: the group is the same members, and those contacted are not again.
fn stored_phase(phase: pb::ContactPhase) -> i64 {
    match phase {
        pb::ContactPhase::Test => 3,
        other => other as i64,
    }
}

fn phase_stored(code: i64) -> pb::ContactPhase {
    match code {
        1 | 3 => pb::ContactPhase::Test,
        2 => pb::ContactPhase::RollOut,
        _ => pb::ContactPhase::Unspecified,
    }
}

/// What a run did with its members, so far or on one page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Members gone through.
    pub considered: i64,
    /// Of them, contacted.
    pub contacted: i64,
    /// Left out: opted out of the channel since selection.
    pub suppressed: i64,
    /// Left out: at the contact cap.
    pub capped: i64,
}

impl Run {
    /// As the API shows it.
    pub fn to_proto(&self) -> pb::ContactRun {
        pb::ContactRun {
            phase: self.phase as i32,
            to_contact: self.to_contact,
            considered: self.counts.considered,
            contacted: self.counts.contacted,
            suppressed: self.counts.suppressed,
            capped: self.counts.capped,
            start_time: Some(timestamp(self.started_at)),
            finish_time: self.finished_at.map(timestamp),
            stopped: self.stopped,
            cells: self.cells.clone(),
        }
    }
}

fn run_from_row(r: &AnyRow) -> sqlx::Result<Option<Run>> {
    let stored: i64 = r.try_get("run_phase")?;
    let phase = phase_stored(stored);
    let Some(started_at) = r.try_get::<Option<i64>, _>("run_started_at")? else {
        return Ok(None);
    };
    if phase == pb::ContactPhase::Unspecified {
        return Ok(None);
    }
    let cells: String = r.try_get("run_cells")?;
    Ok(Some(Run {
        phase,
        cells: serde_json::from_str(&cells).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        to_contact: r.try_get("run_to_contact")?,
        at: Cursor {
            party: r.try_get("run_after")?,
            cell: r.try_get("run_cell")?,
            rank: r.try_get("run_rank")?,
        },
        stored_phase: stored,
        counts: RunCounts {
            considered: r.try_get("run_considered")?,
            contacted: r.try_get("run_contacted")?,
            suppressed: r.try_get("run_suppressed")?,
            capped: r.try_get("run_capped")?,
        },
        started_at,
        finished_at: r.try_get("run_finished_at")?,
        stopped: r.try_get::<i64, _>("run_stopped")? != 0,
    }))
}

fn minor(m: &Option<Money>) -> i64 {
    m.as_ref().map(|m| m.amount_minor).unwrap_or_default()
}

/// Inserts a campaign (id and time set here).
pub async fn insert(conn: &mut Conn, c: &mut pb::Campaign, now: i64) -> sqlx::Result<()> {
    c.id = uuid::Uuid::now_v7().to_string();
    c.create_time = Some(timestamp(now));
    let currency = c
        .cost_per_contact
        .as_ref()
        .map(|m| m.currency_code.clone())
        .unwrap_or_default();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO campaigns ({PLAN}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    )))
    .bind(&c.id)
    .bind(&c.name)
    .bind(i64::from(c.channel))
    .bind(currency)
    .bind(minor(&c.budget))
    .bind(minor(&c.cost_per_contact))
    .bind(minor(&c.net_profit_per_response))
    .bind(&c.segment_id)
    .bind(i64::from(c.status))
    .bind(i64::from(c.test_every_n))
    .bind(i64::from(c.attribution_window_days))
    .bind(now)
    .bind(&c.code)
    .bind(&c.message)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One campaign.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Campaign>> {
    Ok(get_with_run(conn, id).await?.map(|(c, _)| c))
}

/// The campaign with `code`.
pub async fn by_code(conn: &mut Conn, code: &str) -> sqlx::Result<Option<pb::Campaign>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM campaigns WHERE 1 = 1"));
    // Spelled out for the partial index on codes: SQLite uses one only when the query states its
    // condition, as does a generic plan on PostgreSQL.
    q.and("code = {}", code).push(" AND code <> ''");
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Up to `limit` campaigns, optionally in one status, newest first, before the (created at,
/// id) key `before`.
pub async fn list(
    conn: &mut Conn,
    status: i32,
    before: Option<(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Campaign>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM campaigns WHERE 1 = 1"));
    if status != 0 {
        q.and("status = {}", i64::from(status));
    }
    q.before(
        "created_at, id",
        before.map(|(at, id)| vec![Arg::from(at), Arg::from(id)]),
    );
    q.order_limit("created_at DESC, id DESC", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// A campaign with its contact run (None for a campaign never tested).
pub async fn get_with_run(conn: &mut Conn, id: &str) -> sqlx::Result<Option<(pb::Campaign, Option<Run>)>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM campaigns WHERE 1 = 1"));
    q.and("id = {}", id);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(|r| Ok((from_row(r)?, run_from_row(r)?)))
        .transpose()
}

/// Starts the campaign's contact run (replacing the one before), in the caller's transaction:
/// it begins once the call that asks for it commits.
pub async fn start_run(
    conn: &mut Conn,
    id: &str,
    phase: pb::ContactPhase,
    cells: &[String],
    to_contact: i64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE campaigns SET run_phase = $1, run_cells = $2, run_to_contact = $3, run_after = '', \
         run_cell = '', run_rank = 0, run_considered = 0, run_contacted = 0, run_suppressed = 0, run_capped = 0, run_started_at = $4, \
         run_finished_at = NULL, run_stopped = 0 WHERE id = $5",
    )
    .bind(stored_phase(phase))
    .bind(serde_json::to_string(cells).expect("a list of strings"))
    .bind(to_contact)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a page of `from` gone through up to `to`, ended at `finished_at` when it was the
/// last; false when the run is no longer where `from` was (the page done by another replica, or
/// the run stopped), and the page's work is to be rolled back.
pub async fn advance_run(
    conn: &mut Conn,
    id: &str,
    from: &Run,
    to: &Cursor,
    page: RunCounts,
    finished_at: Option<i64>,
) -> sqlx::Result<bool> {
    // A party is a member of a campaign once, so its id alone says where a run is.
    let done = sqlx::query(
        "UPDATE campaigns SET run_after = $1, run_cell = $11, run_rank = $12, run_considered = run_considered + $2, \
         run_contacted = run_contacted + $3, run_suppressed = run_suppressed + $4, run_capped = run_capped + $5, \
         run_finished_at = $6 WHERE id = $7 AND run_phase = $8 AND run_started_at = $9 AND run_after = $10 \
         AND run_finished_at IS NULL",
    )
    .bind(&to.party)
    .bind(page.considered)
    .bind(page.contacted)
    .bind(page.suppressed)
    .bind(page.capped)
    .bind(finished_at)
    .bind(id)
    .bind(from.stored_phase)
    .bind(from.started_at)
    .bind(&from.at.party)
    .bind(&to.cell)
    .bind(to.rank)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a campaign's run under way as stopped; false when none was under way.
pub async fn stop_run(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE campaigns SET run_finished_at = $1, run_stopped = 1 \
         WHERE id = $2 AND run_phase <> 0 AND run_finished_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Up to `limit` campaigns whose runs are under way, started at or before `started_by` (µs),
/// oldest first.
pub async fn running(conn: &mut Conn, started_by: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM campaigns WHERE run_phase <> 0 AND run_finished_at IS NULL AND run_started_at <= $1 \
         ORDER BY run_started_at, id LIMIT $2",
    )
    .bind(started_by)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Moves a campaign from `from` to `to`; false when it was not in `from`, or is a draft whose
/// selection of members is under way (checked in the statement, so that a selection started
/// meanwhile is seen).
pub async fn transition(conn: &mut Conn, id: &str, from: i32, to: i32) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE campaigns SET status = $1 WHERE id = $2 AND status = $3 \
             AND (status <> $4 OR sel_started_at IS NULL OR sel_finished_at IS NOT NULL)",
    )
    .bind(i64::from(to))
    .bind(id)
    .bind(i64::from(from))
    .bind(pb::CampaignStatus::Draft as i64)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// A member row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Customer.
    pub party_id: String,
    /// RFM cell at selection.
    pub cell: String,
    /// In the test group.
    pub test_group: bool,
    /// selected, contacted, responded, converted.
    pub status: String,
    /// When contacted (µs).
    pub contacted_at: Option<i64>,
}

/// Replaces a campaign's members after `after` (up to `upto`, or all of them) with `members`
/// (party, cell): a page of a selection, which leaves no earlier selection's member in the
/// range it went through.
pub async fn replace_members(
    conn: &mut Conn,
    campaign_id: &str,
    after: &str,
    upto: Option<&str>,
    members: &[(String, String)],
) -> sqlx::Result<()> {
    let mut q = SqlBuilder::new("DELETE FROM campaign_members WHERE 1 = 1");
    q.and("campaign_id = {}", campaign_id);
    q.and("party_id > {}", after);
    if let Some(upto) = upto {
        q.and("party_id <= {}", upto);
    }
    q.build().execute(&mut *conn).await?;
    for chunk in crm_storage::insert_chunks(members, 500) {
        let mut q = SqlBuilder::insert_rows(
            "campaign_members (campaign_id, party_id, cell, status)",
            chunk.iter().map(|(party, cell)| {
                [
                    Arg::from(campaign_id),
                    Arg::from(party.as_str()),
                    Arg::from(cell.as_str()),
                    Arg::from("selected"),
                ]
            }),
        );
        // Another replica going through the same page wrote them first (on PostgreSQL, this
        // waits for it): one of the two pages is rolled back afterwards.
        q.push(" ON CONFLICT (campaign_id, party_id) DO UPDATE SET cell = excluded.cell, status = excluded.status");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A test of 1 in `every_n`: how many members the campaign has, and how many of them its test
/// group takes (in each cell, members in party id order, positions 1, 1 + n, 1 + 2n, ...: the
/// rule of `domain::test_cell::Sampler`), counted per cell in SQL from the (campaign, cell,
/// party) index. The group itself is picked as the test's run goes through the members.
pub async fn test_plan(conn: &mut Conn, campaign_id: &str, every_n: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS members, \
         CAST(COALESCE(SUM((n + $2 - 1) / $2), 0) AS BIGINT) AS tested \
         FROM (SELECT COUNT(*) AS n FROM campaign_members WHERE campaign_id = $1 GROUP BY cell) AS cells",
    )
    .bind(campaign_id)
    .bind(every_n.max(1))
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("members")?, row.try_get("tested")?))
}

/// Up to `limit` members still selected in `cells`, by party id after `after`.
pub async fn to_contact(
    conn: &mut Conn,
    campaign_id: &str,
    cells: &[String],
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    if cells.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new("SELECT party_id FROM campaign_members WHERE status = 'selected'");
    q.and("campaign_id = {}", campaign_id);
    in_cells(&mut q, cells);
    q.and("party_id > {}", after);
    q.order_limit("party_id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("party_id"))
        .collect()
}

/// How many members still selected are in `cells`: the most a roll-out to them can contact.
pub async fn count_to_contact(conn: &mut Conn, campaign_id: &str, cells: &[String]) -> sqlx::Result<i64> {
    if cells.is_empty() {
        return Ok(0);
    }
    let mut q = SqlBuilder::new("SELECT COUNT(*) FROM campaign_members WHERE status = 'selected'");
    q.and("campaign_id = {}", campaign_id);
    in_cells(&mut q, cells);
    q.build().fetch_one(&mut *conn).await?.try_get(0)
}

fn in_cells(q: &mut SqlBuilder, cells: &[String]) {
    let list = q.in_list(cells.iter().map(String::as_str));
    q.push(&format!(" AND cell IN ({list})"));
}

/// How many members of a campaign were contacted.
pub async fn contacted_count(conn: &mut Conn, campaign_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM campaign_members WHERE campaign_id = $1 AND contacted_at IS NOT NULL",
    )
    .bind(campaign_id)
    .fetch_one(&mut *conn)
    .await
}

/// Per cell of a campaign: (cell, members, tested, responses among the tested), in SQL. Tested
/// counts the test group's members contacted so far (all of it once the test's run has ended).
pub async fn cell_counts(conn: &mut Conn, campaign_id: &str) -> sqlx::Result<Vec<(String, i64, i64, i64)>> {
    sqlx::query(
        "SELECT cell, COUNT(*) AS members, \
         CAST(SUM(CASE WHEN test_group = 1 AND contacted_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS tested, \
         CAST(SUM(CASE WHEN test_group = 1 AND status IN ('responded', 'converted') THEN 1 ELSE 0 END) AS BIGINT) AS responses \
         FROM campaign_members WHERE campaign_id = $1 GROUP BY cell ORDER BY cell",
    )
    .bind(campaign_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("cell")?,
            r.try_get("members")?,
            r.try_get("tested")?,
            r.try_get("responses")?,
        ))
    })
    .collect()
}

/// Up to `limit` members of a campaign after the (cell, party) key `after`, by cell then party.
pub async fn members_after(
    conn: &mut Conn,
    campaign_id: &str,
    after: Option<(&str, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<Member>> {
    let mut q = crm_storage::SqlBuilder::new(
        "SELECT party_id, cell, test_group, status, contacted_at FROM campaign_members WHERE 1 = 1",
    );
    q.and("campaign_id = {}", campaign_id);
    // Read from the (campaign, cell, party) index, from the page's position on.
    q.after("cell, party_id", after.map(|(cell, party)| vec![cell, party]));
    q.order_limit("cell, party_id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(member_from_row)
        .collect()
}

/// One member of a campaign.
pub async fn member(conn: &mut Conn, campaign_id: &str, party_id: &str) -> sqlx::Result<Option<Member>> {
    sqlx::query(
        "SELECT party_id, cell, test_group, status, contacted_at FROM campaign_members \
         WHERE campaign_id = $1 AND party_id = $2",
    )
    .bind(campaign_id)
    .bind(party_id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(member_from_row)
    .transpose()
}

fn member_from_row(r: &AnyRow) -> sqlx::Result<Member> {
    Ok(Member {
        party_id: r.try_get("party_id")?,
        cell: r.try_get("cell")?,
        test_group: r.try_get::<i64, _>("test_group")? != 0,
        status: r.try_get("status")?,
        contacted_at: r.try_get("contacted_at")?,
    })
}

/// How often each of `party_ids` was contacted on `channel` since `since` (µs), by any
/// campaign; parties without contacts are absent. One query per 500 parties, through the
/// contacts index.
pub async fn recent_contacts(
    conn: &mut Conn,
    party_ids: &[String],
    channel: i32,
    since: i64,
) -> sqlx::Result<std::collections::HashMap<String, i64>> {
    let mut counts = std::collections::HashMap::new();
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new(
            "SELECT m.party_id, COUNT(*) AS contacts FROM campaign_members m JOIN campaigns c ON c.id = m.campaign_id \
             WHERE m.contacted_at IS NOT NULL",
        );
        q.and("m.contacted_at >= {}", since);
        q.and("c.channel = {}", i64::from(channel));
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND m.party_id IN ({list}) GROUP BY m.party_id"));
        for row in q.build().fetch_all(&mut *conn).await? {
            counts.insert(row.try_get("party_id")?, row.try_get::<i64, _>("contacts")?);
        }
    }
    Ok(counts)
}

/// Marks members contacted (and, for the test, in the test group).
pub async fn contact(
    conn: &mut Conn,
    campaign_id: &str,
    party_ids: &[String],
    test_group: bool,
    now: i64,
) -> sqlx::Result<()> {
    // A statement per 500 members: a roll-out to a segment of a million is 2,000 statements,
    // not a million.
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new("UPDATE campaign_members SET status = 'contacted'");
        let (now, test_group) = (q.arg(now), q.arg(i64::from(test_group)));
        q.push(&format!(
            ", contacted_at = {now}, test_group = {test_group} WHERE status = 'selected'"
        ));
        q.and("campaign_id = {}", campaign_id);
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records a contacted member's response; false when not contacted or already responded.
pub async fn respond(
    conn: &mut Conn,
    campaign_id: &str,
    party_id: &str,
    response_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE campaign_members SET status = 'responded', responded_at = $1, response_id = $2 \
         WHERE campaign_id = $3 AND party_id = $4 AND status = 'contacted'",
    )
    .bind(now)
    .bind(response_id)
    .bind(campaign_id)
    .bind(party_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// (campaign id, name, status) of up to `limit` campaigns a customer is a member of, most recent
/// first (campaign ids follow creation), before campaign id `before`: read from the (party,
/// campaign) index, a page's worth whatever the customer's history.
pub async fn history(
    conn: &mut Conn,
    party_id: &str,
    before: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, String)>> {
    let mut q = SqlBuilder::new(
        "SELECT c.id, c.name, m.status FROM campaign_members m JOIN campaigns c ON c.id = m.campaign_id WHERE 1 = 1",
    );
    q.and("m.party_id = {}", party_id);
    if let Some(before) = before {
        q.and("m.campaign_id < {}", before);
    }
    q.order_limit("m.campaign_id DESC", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("status")?)))
        .collect()
}

/// How many campaigns a customer is a member of (from the same index).
pub async fn history_count(conn: &mut Conn, party_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM campaign_members WHERE party_id = $1")
        .bind(party_id)
        .fetch_one(&mut *conn)
        .await
}

/// A cell's contacts and what they brought, as `performance_by_cell` adds them up.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CellOutcome {
    /// The RFM cell.
    pub cell: String,
    /// Members contacted.
    pub contacted: i64,
    /// Of them, those who responded (or converted).
    pub responses: i64,
    /// Of them, those who ordered within the window after their contact.
    pub conversions: i64,
    /// What those orders came to.
    pub revenue: i64,
}

/// Per cell of a campaign: members contacted, responses, and the orders (counted, in
/// `currency`) each contacted member placed within `window` µs after their contact; one
/// statement reading the campaign's members and their purchases in the window.
pub async fn performance_by_cell(
    conn: &mut Conn,
    campaign_id: &str,
    currency: &str,
    window: i64,
) -> sqlx::Result<Vec<CellOutcome>> {
    sqlx::query_as(
        "SELECT cell, COUNT(*) AS contacted, CAST(SUM(responded) AS BIGINT) AS responses, \
         CAST(SUM(CASE WHEN revenue > 0 THEN 1 ELSE 0 END) AS BIGINT) AS conversions, \
         CAST(SUM(revenue) AS BIGINT) AS revenue FROM (SELECT m.cell, \
         CASE WHEN m.status IN ('responded', 'converted') THEN 1 ELSE 0 END AS responded, \
         COALESCE((SELECT SUM(p.amount_minor) FROM purchases p WHERE p.party_id = m.party_id \
         AND p.status IN ('placed', 'fulfilled') AND p.currency_code = $1 \
         AND p.placed_at >= m.contacted_at AND p.placed_at < m.contacted_at + $2), 0) AS revenue \
         FROM campaign_members m WHERE m.campaign_id = $3 AND m.contacted_at IS NOT NULL) x \
         GROUP BY cell ORDER BY cell",
    )
    .bind(currency)
    .bind(window)
    .bind(campaign_id)
    .fetch_all(&mut *conn)
    .await
}
