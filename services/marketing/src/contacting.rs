//! Contact runs: StartTest's test group and RollOut's chosen cells are contacted a page of
//! members per transaction, so that a campaign of any size neither outlasts the call that starts
//! it nor holds one long transaction. A test picks its group as it goes through the members
//! (1 in N of each cell), so that starting it writes nothing per member either. The call goes through pages while it may wait; the job
//! ([`run_pending`]) goes on with the runs left under way.
//!
//! A page commits its contacts, their `campaign.contacted` events and the run's new position
//! together, and only if the run is still where the page read it: a member is contacted once
//! whatever the run meets (a crash, a restart, two replicas on one run, a close meanwhile).

use std::time::Duration;

use crm_platform::Store;
use crm_proto::marketing::v1::events as ev;
use crm_proto::marketing::v1::{self as pb, CampaignStatus, ContactPhase};

use crate::config::MarketingSettings;
use crate::domain::test_cell::Sampler;
use crate::error::Result;
use crate::events;
use crate::storage::campaigns::{self, Cursor, Run, RunCounts};
use crate::storage::consent;

/// Members gone through per transaction: memory and statements follow the page, not the
/// campaign.
const CONTACT_PAGE: i64 = 1_000;

/// Members a test's page reads at most to find a page of its group (1 in N of them): a test of
/// 1 in 1,000 goes through 20,000 members a page.
const TEST_SCAN: i64 = 20_000;

/// Parties per `campaign.contacted` event.
const CONTACTED_BATCH: usize = 500;

/// Runs the job takes on per pass, oldest first.
const RUNS_PER_PASS: i64 = 100;

/// Goes through the next page of the campaign's run. True while the run is still under way
/// afterwards; false once it ended (now or before) or when the campaign has none.
pub async fn next_page(store: &Store, settings: &MarketingSettings, campaign_id: &str) -> Result<bool> {
    let mut tx = store.begin().await?;
    let Some((c, Some(run))) = campaigns::get_with_run(&mut tx, campaign_id).await? else {
        return Ok(false);
    };
    if run.finished_at.is_some() {
        return Ok(false);
    }
    // A run usually follows a selection that grew the table many times over; planned without
    // statistics, each page's statements would read every member of the campaign.
    crm_storage::statistics::analyze_if_grown(&mut tx, "campaign_members").await?;
    let now = store.now_micros();
    let test = run.phase != ContactPhase::RollOut;
    let status = if test {
        CampaignStatus::Testing
    } else {
        CampaignStatus::RolledOut
    };
    // CloseCampaign stops the run in its own transaction; this covers a campaign that left the
    // run's status any other way.
    if c.status != status as i32 {
        campaigns::stop_run(&mut tx, &c.id, now).await?;
        store.commit(tx).await?;
        return Ok(false);
    }
    let page = if test {
        test_page(&mut tx, &c, &run.at).await?
    } else {
        roll_out_page(&mut tx, &c.id, &run).await?
    };
    let reach = reachable(&mut tx, settings, &c, &page.members, now).await?;
    // Only contacts count as tested: a test member left out is not marked.
    contact(&mut tx, &c, &reach.contact, test, now).await?;
    let counts = RunCounts {
        considered: page.members.len() as i64,
        contacted: reach.contact.len() as i64,
        suppressed: reach.suppressed,
        capped: reach.capped,
    };
    let finished = page.last.then_some(now);
    // No budget check per page: the run started only if all it goes through fits the budget.
    if !campaigns::advance_run(&mut tx, &c.id, &run, &page.to, counts, finished).await? {
        // Another replica went through this page, or the campaign was closed: drop ours and
        // read the run again.
        return Ok(true);
    }
    store.commit(tx).await?;
    Ok(finished.is_none())
}

/// A page of a run: the members to contact if they may be, where the run then is, and whether
/// it was the last.
struct Page {
    members: Vec<String>,
    to: Cursor,
    last: bool,
}

/// The next page of a roll-out: members of its cells not contacted yet, in party id order.
async fn roll_out_page(conn: &mut crm_storage::Conn, campaign_id: &str, run: &Run) -> Result<Page> {
    let members = campaigns::to_contact(conn, campaign_id, &run.cells, &run.at.party, CONTACT_PAGE).await?;
    let to = Cursor {
        party: members.last().unwrap_or(&run.at.party).clone(),
        ..Cursor::default()
    };
    let last = (members.len() as i64) < CONTACT_PAGE;
    Ok(Page { members, to, last })
}

/// The next page of a test: the members of its group among those after where it stopped, in
/// (cell, party id) order, read from the (campaign, cell, party) index.
async fn test_page(conn: &mut crm_storage::Conn, c: &pb::Campaign, at: &Cursor) -> Result<Page> {
    let every_n = i64::from(c.test_every_n).max(1);
    let scan = (CONTACT_PAGE * every_n).min(TEST_SCAN);
    let after = (!at.party.is_empty()).then_some((at.cell.as_str(), at.party.as_str()));
    let read = campaigns::members_after(conn, &c.id, after, scan).await?;
    let mut sampler = Sampler::resume(every_n, &at.cell, at.rank);
    // Every member read moves the sampler; of those it takes, only members not yet contacted.
    let members = read
        .iter()
        .filter(|m| sampler.takes(&m.cell) && m.status == "selected")
        .map(|m| m.party_id.clone())
        .collect();
    let to = match read.last() {
        Some(m) => Cursor {
            party: m.party_id.clone(),
            cell: sampler.cell,
            rank: sampler.rank,
        },
        None => at.clone(),
    };
    Ok(Page {
        members,
        to,
        last: (read.len() as i64) < scan,
    })
}

/// Goes through the campaign's run page by page until it ends or `wait` has passed. The run
/// as it then stands.
pub async fn go_through(
    store: &Store,
    settings: &MarketingSettings,
    campaign_id: &str,
    wait: Duration,
) -> Result<Option<Run>> {
    let until = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < until && next_page(store, settings, campaign_id).await? {}
    let mut conn = store.conn().await?;
    Ok(campaigns::get_with_run(&mut conn, campaign_id)
        .await?
        .and_then(|(_, run)| run))
}

/// The job: takes the runs under way whose calls stopped waiting (or never answered) and goes
/// through each to its end. Returns how many it took.
pub async fn run_pending(store: &Store, settings: &MarketingSettings) -> Result<usize> {
    let waited_since = store.now_micros() - settings.contact_wait.as_micros() as i64;
    let ids = {
        let mut conn = store.conn().await?;
        campaigns::running(&mut conn, waited_since, RUNS_PER_PASS).await?
    };
    for id in &ids {
        while next_page(store, settings, id).await? {}
    }
    if !ids.is_empty() {
        tracing::info!(runs = ids.len(), "contact runs gone through");
    }
    Ok(ids.len())
}

/// Who of a page of members are contacted now, left out for consent, left out at the contact
/// cap.
struct Reachable {
    contact: Vec<String>,
    suppressed: i64,
    capped: i64,
}

/// Narrows `party_ids` to those the campaign may contact now: not opted out of its channel
/// (consent can change after selection) and under the contact cap across campaigns.
async fn reachable(
    conn: &mut crm_storage::Conn,
    settings: &MarketingSettings,
    c: &pb::Campaign,
    party_ids: &[String],
    now: i64,
) -> Result<Reachable> {
    let blocked = consent::blocked(conn, party_ids, c.channel).await?;
    let allowed: Vec<String> = party_ids
        .iter()
        .filter(|p| !blocked.contains(*p))
        .cloned()
        .collect();
    let suppressed = (party_ids.len() - allowed.len()) as i64;
    let cap = settings.contact_cap;
    if cap <= 0 {
        return Ok(Reachable {
            contact: allowed,
            suppressed,
            capped: 0,
        });
    }
    let since = now - settings.contact_cap_window.as_micros() as i64;
    let recent = campaigns::recent_contacts(conn, &allowed, c.channel, since).await?;
    let contact: Vec<String> = allowed
        .iter()
        .filter(|p| recent.get(*p).copied().unwrap_or(0) < cap)
        .cloned()
        .collect();
    Ok(Reachable {
        capped: (allowed.len() - contact.len()) as i64,
        contact,
        suppressed,
    })
}

/// Marks `party_ids` contacted and has the service desk send them the campaign's message
/// (`campaign.contacted`, in batches).
async fn contact(
    tx: &mut crm_storage::Tx,
    c: &pb::Campaign,
    party_ids: &[String],
    test_group: bool,
    now: i64,
) -> Result<()> {
    campaigns::contact(tx, &c.id, party_ids, test_group, now).await?;
    for batch in party_ids.chunks(CONTACTED_BATCH) {
        events::publish(
            tx,
            ev::CAMPAIGN_CONTACTED,
            &c.id,
            &pb::CampaignContacted {
                campaign_id: c.id.clone(),
                campaign_name: c.name.clone(),
                channel: c.channel,
                code: c.code.clone(),
                message: c.message.clone(),
                party_ids: batch.to_vec(),
            },
        )
        .await?;
    }
    Ok(())
}
