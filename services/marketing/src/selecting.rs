//! Selections of campaign members: SelectMembers goes through the segment's customers in party
//! id order a page per transaction, so that a segment of any size neither outlasts the call nor
//! holds one long transaction (a million members written in one took 16 s on PostgreSQL). The
//! call goes through pages while it may wait; the job ([`run_pending`]) goes on with the
//! selections left under way.
//!
//! A page replaces the campaign's members in the range of customers it went through and
//! commits them with the selection's new position, only if the selection is still where the
//! page read it and the campaign still a draft: a restart, two replicas or a new selection
//! meanwhile leave each customer selected once, by the newest selection.

use std::time::Duration;

use crm_platform::Store;
use crm_proto::marketing::v1::CampaignStatus;

use crate::config::MarketingSettings;
use crate::error::Result;
use crate::storage::audience::{self, Audience, Context};
use crate::storage::selections::{self, Selection};
use crate::storage::{campaigns, segments};

/// Customers gone through per transaction.
const SELECT_PAGE: i64 = 2_000;

/// Selections the job takes on per pass, oldest first.
const SELECTIONS_PER_PASS: i64 = 100;

/// Goes through the next page of the campaign's selection. True while the selection is still
/// under way afterwards; false once it ended (now or before) or when the campaign has none.
pub async fn next_page(store: &Store, settings: &MarketingSettings, campaign_id: &str) -> Result<bool> {
    let mut tx = store.begin().await?;
    let (Some(c), Some(selection)) = (
        campaigns::get(&mut tx, campaign_id).await?,
        selections::get(&mut tx, campaign_id).await?,
    ) else {
        return Ok(false);
    };
    if !selection.under_way() {
        return Ok(false);
    }
    let now = store.now_micros();
    let segment = segments::get(&mut tx, &c.segment_id).await?;
    // Members are chosen for a draft only (a draft leaves draft only once its selection ended,
    // so this is the case of a selection that lost a race with StartTest).
    let (true, Some(segment)) = (c.status == CampaignStatus::Draft as i32, segment) else {
        selections::end(&mut tx, &c.id, now).await?;
        store.commit(tx).await?;
        return Ok(false);
    };
    let cx = Context {
        backend: store.db().backend(),
        currency: &settings.reporting_currency,
        cuts: &selection.cuts,
        today: selection.today,
    };
    let page = audience::candidates(
        &mut tx,
        Audience::of(&segment),
        &cx,
        i64::from(c.channel),
        &selection.after,
        SELECT_PAGE,
    )
    .await?;
    let last = (page.len() as i64) < SELECT_PAGE;
    let to = page
        .last()
        .map_or(selection.after.as_str(), |m| m.party_id.as_str());
    let members: Vec<(String, String)> = page
        .iter()
        .filter(|m| !m.suppressed)
        .map(|m| (m.party_id.clone(), m.cell.clone()))
        .collect();
    // The last page also clears what an earlier selection left after the segment's last member.
    let upto = (!last).then_some(to);
    campaigns::replace_members(&mut tx, &c.id, &selection.after, upto, &members).await?;
    let selected = members.len() as i64;
    let suppressed = page.len() as i64 - selected;
    let finished = last.then_some(now);
    if !selections::advance(&mut tx, &c.id, &selection, to, selected, suppressed, finished).await? {
        // Another replica went through this page, the selection started again or the campaign
        // moved on: drop ours and read the selection again.
        return Ok(true);
    }
    store.commit(tx).await?;
    Ok(!last)
}

/// Goes through the campaign's selection page by page until it ends or `wait` has passed. The
/// selection as it then stands.
pub async fn go_through(
    store: &Store,
    settings: &MarketingSettings,
    campaign_id: &str,
    wait: Duration,
) -> Result<Option<Selection>> {
    let until = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < until && next_page(store, settings, campaign_id).await? {}
    let mut conn = store.conn().await?;
    Ok(selections::get(&mut conn, campaign_id).await?)
}

/// The job: takes the selections under way whose calls stopped waiting (or never answered) and
/// goes through each to its end. Returns how many it took.
pub async fn run_pending(store: &Store, settings: &MarketingSettings) -> Result<usize> {
    let waited_since = store.now_micros() - settings.contact_wait.as_micros() as i64;
    let ids = {
        let mut conn = store.conn().await?;
        selections::under_way(&mut conn, waited_since, SELECTIONS_PER_PASS).await?
    };
    for id in &ids {
        while next_page(store, settings, id).await? {}
    }
    if !ids.is_empty() {
        tracing::info!(selections = ids.len(), "member selections gone through");
    }
    Ok(ids.len())
}
