//! Rule-based assignment of accounts to territories: when an account arrives or changes, and
//! for every account, in the background, when the rules change.

use crm_events::outbox::{self, NewEvent};
use crm_platform::Store;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::events as ev;
use crm_storage::Tx;

use crate::domain::territory::{self, Account, TerritoryRule};
use crate::storage::{org, reassignment};

fn rules(territories: &[pb::Territory]) -> Vec<TerritoryRule> {
    territories
        .iter()
        .map(|t| TerritoryRule {
            id: t.id.clone(),
            priority: t.priority,
            industries: t.industries.clone(),
            regions: t.region_codes.clone(),
            product_lines: t.product_lines.clone(),
        })
        .collect()
}

/// Accounts evaluated per transaction of a reassignment of all: a page's locks and memory, not
/// the base's.
const PAGE: i64 = 1000;

/// Re-evaluates the accounts of `parties` against the current rules; writes and announces every
/// change. Returns (accounts evaluated, accounts reassigned).
pub async fn reassign(tx: &mut Tx, parties: &[String]) -> anyhow::Result<(i64, i64)> {
    let rules = rules(&org::territories(tx).await?);
    let mut totals = (0, 0);
    let accounts = org::accounts_for_assignment(tx, Some(parties), "", i64::MAX).await?;
    apply(tx, &rules, accounts, &mut totals).await?;
    Ok(totals)
}

/// Evaluates the next page of accounts of the reassignment under way, in a transaction of its
/// own; false when there is none (or it has just finished). A page whose run started over or was
/// done by another replica meanwhile is rolled back.
pub async fn reassign_next_page(store: &Store) -> anyhow::Result<bool> {
    let mut tx = store.begin().await?;
    let run = reassignment::get(&mut tx).await?;
    if run.finished_at.is_some() {
        return Ok(false);
    }
    let rules = rules(&org::territories(&mut tx).await?);
    let page = org::accounts_for_assignment(&mut tx, None, &run.after, PAGE).await?;
    let last = page
        .last()
        .map_or_else(|| run.after.clone(), |(party, ..)| party.clone());
    let finished = (page.len() as i64) < PAGE;
    let mut totals = (0, 0);
    apply(&mut tx, &rules, page, &mut totals).await?;
    let now = store.now_micros();
    if !reassignment::advance(&mut tx, &run, &last, totals, finished.then_some(now)).await? {
        return Ok(true);
    }
    store.commit(tx).await?;
    Ok(!finished)
}

/// Runs the reassignment under way to its end (the reassignment job).
pub async fn run_pending(store: &Store) -> anyhow::Result<()> {
    while reassign_next_page(store).await? {}
    Ok(())
}

/// Assigns `accounts` (party, industry, region, current territory) by `rules`, counting into
/// `totals` (evaluated, reassigned): the moves written with a statement per 500 and announced
/// (`account.assigned`, one event each) with a multi-row insert.
async fn apply(
    tx: &mut Tx,
    rules: &[TerritoryRule],
    accounts: Vec<(String, String, String, String)>,
    totals: &mut (i64, i64),
) -> anyhow::Result<()> {
    let mut moves = Vec::new();
    let mut announced = Vec::new();
    for (party_id, industry, region_code, current) in accounts {
        totals.0 += 1;
        let next = territory::assign(
            &Account {
                industry,
                region_code,
            },
            rules,
        )
        .unwrap_or_default();
        if next != current {
            announced.push(NewEvent::of(
                ev::ACCOUNT_ASSIGNED,
                party_id.clone(),
                &pb::AccountAssigned {
                    party_id: party_id.clone(),
                    territory_id: next.clone(),
                    previous_territory_id: current,
                },
            ));
            moves.push((party_id, next));
        }
    }
    totals.1 += moves.len() as i64;
    org::assign_many(tx, &moves).await?;
    outbox::enqueue_many(tx, announced).await?;
    Ok(())
}

/// The territory of a new opportunity: among the territories matching its account, one that
/// sells the opportunity's product lines.
pub async fn territory_for_opportunity(
    conn: &mut crm_storage::Conn,
    party_id: &str,
    product_lines: &[String],
) -> anyhow::Result<String> {
    let Some(account) = crate::storage::accounts::get(conn, party_id).await? else {
        return Ok(String::new());
    };
    let rules = rules(&org::territories(conn).await?);
    let account = Account {
        industry: account.industry,
        region_code: account.region_code,
    };
    Ok(territory::assign_for_products(&account, product_lines, &rules).unwrap_or_default())
}
