//! Data quality: duplicate candidates and merges.

use std::collections::{HashMap, HashSet};

use crm_auth::Principal;
use crm_platform::Violations;
use crm_proto::customers::v1::events as ev;
use crm_proto::customers::v1::{self as pb, DuplicateReason};
use serde_json::json;

use super::{CustomersApi, party_for_write};
use crate::domain::duplicates::{self, Link, MIN_STORED_SIMILARITY, Reason};
use crate::domain::party as rules;
use crate::error::{Error, Result};
use crate::events;
use crate::storage::duplicates as index;
use crate::storage::{audit, parties, relationships};

const MAX_MERGED: usize = 20;

fn reason(r: Reason) -> i32 {
    match r {
        Reason::SameEmail => DuplicateReason::SameEmail as i32,
        Reason::SamePhone => DuplicateReason::SamePhone as i32,
        Reason::SimilarName => DuplicateReason::SimilarName as i32,
    }
}

impl CustomersApi {
    pub(super) async fn handle_find_duplicates(
        &self,
        _principal: &Principal,
        req: pb::FindDuplicatesRequest,
    ) -> Result<pb::FindDuplicatesResponse> {
        let mut v = Violations::new();
        v.check(
            req.min_name_similarity.is_nan()
                || !(req.min_name_similarity == 0.0
                    || (MIN_STORED_SIMILARITY..=1.0).contains(&req.min_name_similarity)),
            "min_name_similarity",
            "0 (meaning 0.92) or between 0.92 and 1",
        );
        v.check(
            !(0..=1000).contains(&req.max_groups),
            "max_groups",
            "0 to 1000 (0 means 100)",
        );
        v.finish()?;
        let min = if req.min_name_similarity == 0.0 {
            0.92
        } else {
            req.min_name_similarity
        };
        let max_groups = if req.max_groups == 0 {
            100
        } else {
            req.max_groups as usize
        };
        let mut conn = self.store.conn().await?;
        let links = if req.party_id.is_empty() {
            // The strongest links seed the groups; one more round brings in their other members.
            let seeds = index::strongest_links(&mut conn, min, (max_groups * 4) as i64).await?;
            let ids: Vec<String> = seeds.iter().flat_map(|l| [l.a.clone(), l.b.clone()]).collect();
            index::links_touching(&mut conn, &ids, min).await?
        } else {
            if parties::get(&mut conn, &req.party_id).await?.is_none() {
                return Err(Error::NotFound(format!("party {}", req.party_id)));
            }
            linked_to(&mut conn, &req.party_id, min).await?
        };
        let mut groups = duplicates::group_links(&links, min);
        if !req.party_id.is_empty() {
            groups.retain(|g| g.ids.contains(&req.party_id));
        }
        groups.truncate(max_groups);
        let ids: Vec<String> = groups.iter().flat_map(|g| g.ids.iter().cloned()).collect();
        let by_id: HashMap<String, pb::Party> = parties::load(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let groups = groups
            .into_iter()
            .map(|g| pb::DuplicateGroup {
                parties: g.ids.iter().filter_map(|id| by_id.get(id).cloned()).collect(),
                reasons: g.reasons.into_iter().map(reason).collect(),
                score: g.score,
            })
            .collect();
        Ok(pb::FindDuplicatesResponse { groups })
    }

    pub(super) async fn handle_merge_parties(
        &self,
        principal: &Principal,
        req: pb::MergePartiesRequest,
    ) -> Result<pb::MergePartiesResponse> {
        let mut v = Violations::new();
        v.check(req.survivor_id.is_empty(), "survivor_id", "required");
        v.check(
            req.merged_ids.is_empty(),
            "merged_ids",
            "name at least one party to merge",
        );
        v.check(
            req.merged_ids.len() > MAX_MERGED,
            "merged_ids",
            format!("at most {MAX_MERGED}"),
        );
        let mut seen = HashSet::new();
        for (i, id) in req.merged_ids.iter().enumerate() {
            v.check(id.is_empty(), format!("merged_ids[{i}]"), "required");
            v.check(
                *id == req.survivor_id,
                format!("merged_ids[{i}]"),
                "the survivor cannot be merged into itself",
            );
            v.check(!seen.insert(id), format!("merged_ids[{i}]"), "listed twice");
        }
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let survivor = party_for_write(&mut tx, principal, &req.survivor_id, None).await?;
        let mut next = survivor.clone();
        let (mut lifetime, mut trailing) = value_of(&survivor);
        let mut merged_versions = std::collections::HashMap::new();
        for id in &req.merged_ids {
            let merged = party_for_write(&mut tx, principal, id, None).await?;
            absorb(&mut next, &merged);
            let (l, t) = value_of(&merged);
            lifetime += l;
            trailing += t;
            parties::move_children(&mut tx, id, &survivor.id).await?;
            relationships::repoint(&mut tx, id, &survivor.id).await?;
            crate::storage::orders::rekey(&mut tx, id, &survivor.id).await?;
            parties::mark_merged(&mut tx, id, &survivor.id, self.store.now_micros()).await?;
            let version = parties::get(&mut tx, id)
                .await?
                .map(|p| p.version())
                .unwrap_or_default();
            merged_versions.insert(id.clone(), version);
            audit::record(
                &mut tx,
                &principal.user_id,
                "party",
                id,
                "merged",
                json!({"survivor_id": survivor.id}),
                self.store.now_micros(),
            )
            .await?;
        }
        // The survivor keeps its own values and fills its gaps from the merged records; its
        // contact points and tags now include theirs.
        let moved = parties::get(&mut tx, &survivor.id)
            .await?
            .ok_or_else(|| Error::NotFound("party".into()))?;
        next.contact_points = moved.contact_points.clone();
        next.tags = moved.tags.clone();
        rules::normalise(&mut next);
        let version: i64 = moved.etag.parse().unwrap_or_default();
        if !parties::update(&mut tx, &mut next, &moved, version, self.store.now_micros()).await? {
            return Err(Error::Stale(format!("party {}", survivor.id)));
        }
        parties::set_value(&mut tx, &survivor.id, lifetime, trailing, self.store.now_micros()).await?;
        // The merged records leave the index; the survivor, with their contact points, is checked.
        let mut rechecked = req.merged_ids.clone();
        rechecked.push(survivor.id.clone());
        crate::duplicates::check(&mut tx, &rechecked).await?;
        let stored = parties::get(&mut tx, &survivor.id)
            .await?
            .ok_or_else(|| Error::NotFound("party".into()))?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "party",
            &survivor.id,
            "merged",
            json!({"merged_ids": req.merged_ids}),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::PARTY_MERGED,
            &survivor.id,
            &pb::PartyMerged {
                survivor_id: survivor.id.clone(),
                merged_ids: req.merged_ids.clone(),
                merged_versions,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::MergePartiesResponse {
            survivor: Some(stored),
        })
    }
}

fn value_of(p: &pb::Party) -> (i64, i64) {
    let v = p.value.clone().unwrap_or_default();
    (
        v.lifetime_revenue.map(|m| m.amount_minor).unwrap_or_default(),
        v.trailing_12m_revenue.map(|m| m.amount_minor).unwrap_or_default(),
    )
}

/// Fills the survivor's empty fields and missing attributes from a merged party.
fn absorb(survivor: &mut pb::Party, merged: &pb::Party) {
    let fill = |mine: &mut String, theirs: &String| {
        if mine.is_empty() {
            mine.clone_from(theirs);
        }
    };
    fill(&mut survivor.industry, &merged.industry);
    fill(&mut survivor.region_code, &merged.region_code);
    fill(&mut survivor.owner_id, &merged.owner_id);
    fill(&mut survivor.team_id, &merged.team_id);
    fill(&mut survivor.source, &merged.source);
    if survivor.kind == merged.kind {
        fill(&mut survivor.birth_date, &merged.birth_date);
        if survivor.company_size == 0 {
            survivor.company_size = merged.company_size;
        }
    }
    for (key, value) in &merged.attributes {
        survivor
            .attributes
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
}

/// The most parties one duplicate group is followed to.
const MAX_GROUP: usize = 200;

/// The links of the group holding `party_id`, followed link by link up to [`MAX_GROUP`] parties.
/// Within a round the strongest links are followed first, and a link that would bring in a party
/// past the cap is left out: a party of a common name can hold hundreds of links, and one round
/// would otherwise overshoot the cap many times over.
async fn linked_to(conn: &mut crm_storage::Conn, party_id: &str, min: f64) -> Result<Vec<Link>> {
    let mut seen: HashSet<String> = HashSet::from([party_id.to_string()]);
    let mut frontier = vec![party_id.to_string()];
    let mut links = Vec::new();
    while !frontier.is_empty() {
        let mut found = index::links_touching(conn, &frontier, min).await?;
        found.sort_by(|x, y| {
            y.score
                .total_cmp(&x.score)
                .then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
        });
        frontier.clear();
        for link in found {
            let new: Vec<&String> = [&link.a, &link.b]
                .into_iter()
                .filter(|id| !seen.contains(*id))
                .collect();
            if seen.len() + new.len() > MAX_GROUP {
                continue;
            }
            for id in new {
                seen.insert(id.clone());
                frontier.push(id.clone());
            }
            links.push(link);
        }
    }
    links.sort_by(|x, y| (&x.a, &x.b, x.reason).cmp(&(&y.a, &y.b, y.reason)));
    links.dedup();
    Ok(links)
}
