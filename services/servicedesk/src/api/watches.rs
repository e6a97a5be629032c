//! Watch lists: staff who want to hear of every case of a customer (a key account in a
//! renewal, a complaint that reached the press) are notified when one opens, changes or goes
//! overdue.

use crm_auth::{Principal, Role};
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::servicedesk::v1 as pb;

use super::ServiceDeskApi;
use crate::error::{Error, Result, Violations};
use crate::storage::{customers, watches};

/// The longest note on a watch.
const MAX_NOTE: usize = 500;

/// The watcher a request names: the caller when empty. Agents keep their own list; managers and
/// administrators also keep other people's.
fn watcher_of(p: &Principal, requested: &str) -> Result<String> {
    let requested = requested.trim();
    if requested.is_empty() || requested == p.user_id {
        return Ok(p.user_id.clone());
    }
    if p.is_admin() || p.has_any_role(&[Role::ServiceManager, Role::Service]) {
        return Ok(requested.to_string());
    }
    Err(Error::PermissionDenied(
        "an agent keeps their own watch list; a service manager may keep another's".into(),
    ))
}

impl ServiceDeskApi {
    pub(super) async fn handle_watch_customer(
        &self,
        p: &Principal,
        req: pb::WatchCustomerRequest,
    ) -> Result<pb::WatchCustomerResponse> {
        let note = req.note.trim().to_string();
        let mut v = Violations::new();
        v.check(req.party_id.trim().is_empty(), "party_id", "required");
        v.check(
            req.watcher_id.chars().count() > 200,
            "watcher_id",
            "at most 200 characters",
        );
        v.check(note.chars().count() > MAX_NOTE, "note", "at most 500 characters");
        v.finish()?;
        let watcher_id = watcher_of(p, &req.watcher_id)?;
        let mut tx = self.store.begin().await?;
        let party_id = req.party_id.trim();
        if customers::get(&mut tx, party_id).await?.is_none() {
            return Err(crate::error::invalid("party_id", "no such customer"));
        }
        let watch = pb::Watch {
            party_id: party_id.to_string(),
            watcher_id,
            note,
            create_time: None,
        };
        watches::upsert(&mut tx, &watch, self.now()).await?;
        let stored = watches::get(&mut tx, &watch.party_id, &watch.watcher_id).await?;
        self.store.commit(tx).await?;
        Ok(pb::WatchCustomerResponse { watch: stored })
    }

    pub(super) async fn handle_unwatch_customer(
        &self,
        p: &Principal,
        req: pb::UnwatchCustomerRequest,
    ) -> Result<pb::UnwatchCustomerResponse> {
        let mut v = Violations::new();
        v.check(req.party_id.trim().is_empty(), "party_id", "required");
        v.finish()?;
        let watcher_id = watcher_of(p, &req.watcher_id)?;
        let mut tx = self.store.begin().await?;
        if !watches::delete(&mut tx, req.party_id.trim(), &watcher_id).await? {
            return Err(Error::NotFound(format!(
                "watch of {} by {watcher_id}",
                req.party_id.trim()
            )));
        }
        self.store.commit(tx).await?;
        Ok(pb::UnwatchCustomerResponse {})
    }

    pub(super) async fn handle_list_watches(
        &self,
        _p: &Principal,
        req: pb::ListWatchesRequest,
    ) -> Result<pb::ListWatchesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 2, &mut v);
        v.finish()?;
        let (party, watcher) = (req.party_id.trim(), req.watcher_id.trim());
        let by_watcher = !watcher.is_empty() && party.is_empty();
        let mut conn = self.store.conn().await?;
        let rows = watches::list(&mut conn, party, watcher, after, size + 1).await?;
        let (watches, next_page_token) = finish_page(rows, size, |w| {
            if by_watcher {
                key_of(&[&w.watcher_id, &w.party_id])
            } else {
                key_of(&[&w.party_id, &w.watcher_id])
            }
        });
        Ok(pb::ListWatchesResponse {
            watches,
            next_page_token,
        })
    }
}
