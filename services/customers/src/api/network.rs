//! The relationship network: edges, neighbours, shortest paths and group trees.

use std::collections::HashMap;

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_token, finish_page, page_size};
use crm_proto::customers::v1::events as ev;
use crm_proto::customers::v1::{self as pb, Direction, PartyStatus, RelationshipType};
use serde_json::json;

use super::{CustomersApi, party_for_read, party_for_write, prefixed};
use crate::domain::graph::{Bfs, Follow, tree};
use crate::domain::party as rules;
use crate::domain::relationship::{self as rel_rules, HIERARCHY};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{audit, parties, relationships};

/// Most parties a neighbourhood or tree query returns.
const MAX_REACHED: usize = 2000;
/// Most edges a walk through the network reads: past them it stops.
const MAX_EDGES: usize = MAX_REACHED * 4;

fn follow(direction: i32) -> Follow {
    match Direction::try_from(direction) {
        Ok(Direction::Outgoing) => Follow::Outgoing,
        Ok(Direction::Incoming) => Follow::Incoming,
        _ => Follow::Both,
    }
}

fn check_types(types: &[i32], v: &mut Violations) {
    for (i, t) in types.iter().enumerate() {
        v.check(
            matches!(
                RelationshipType::try_from(*t),
                Err(_) | Ok(RelationshipType::Unspecified)
            ),
            format!("types[{i}]"),
            "unknown relationship type",
        );
    }
}

impl CustomersApi {
    /// Runs a breadth-first search, one query per layer, up to `max_hops`, stopping early when
    /// `target` is reached.
    async fn search_graph(
        &self,
        conn: &mut crm_storage::Conn,
        start: &str,
        follow: Follow,
        types: &[i32],
        max_hops: i32,
        target: Option<&str>,
    ) -> Result<(Bfs, HashMap<String, pb::Relationship>)> {
        let mut bfs = Bfs::new(start, follow);
        let mut edges_by_id = HashMap::new();
        for _ in 0..max_hops {
            if bfs.frontier().is_empty()
                || target.is_some_and(|t| bfs.reached(t))
                || edges_by_id.len() > MAX_EDGES
            {
                break;
            }
            let (out, inc) = (
                matches!(follow, Follow::Outgoing | Follow::Both),
                matches!(follow, Follow::Incoming | Follow::Both),
            );
            // A hub's edges beyond what the walk may still keep are not read.
            let budget = MAX_EDGES + 1 - edges_by_id.len();
            let layer =
                relationships::touching_at_most(conn, bfs.frontier(), out, inc, types, Some(budget)).await?;
            let edges: Vec<_> = layer.iter().map(relationships::edge).collect();
            for r in layer {
                edges_by_id.insert(r.id.clone(), r);
            }
            bfs.expand(&edges);
        }
        Ok((bfs, edges_by_id))
    }

    pub(super) async fn handle_create_relationship(
        &self,
        principal: &Principal,
        req: pb::CreateRelationshipRequest,
    ) -> Result<pb::CreateRelationshipResponse> {
        let mut r = req
            .relationship
            .ok_or_else(|| invalid("relationship", "required"))?;
        prefixed("relationship", rel_rules::validate(&r)).finish()?;
        r.role = r.role.trim().to_string();
        let mut tx = self.store.begin().await?;
        party_for_write(&mut tx, principal, &r.from_party_id, None).await?;
        let to = parties::get(&mut tx, &r.to_party_id)
            .await?
            .filter(|p| p.status == PartyStatus::Active as i32)
            .ok_or_else(|| Error::NotFound(format!("party {}", r.to_party_id)))?;
        if relationships::exists(&mut tx, &r).await? {
            return Err(Error::AlreadyExists(format!(
                "relationship {} -> {}",
                r.from_party_id, to.id
            )));
        }
        relationships::insert(&mut tx, &mut r, self.store.now_micros()).await?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "relationship",
            &r.id,
            "created",
            json!({"from_party_id": r.from_party_id, "to_party_id": r.to_party_id, "type": r.r#type,
                   "custom_type": r.custom_type, "role": r.role, "since": r.since, "until": r.until}),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::RELATIONSHIP_CREATED,
            &r.from_party_id,
            &pb::RelationshipCreated {
                relationship: Some(r.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateRelationshipResponse {
            relationship: Some(r),
        })
    }

    pub(super) async fn handle_delete_relationship(
        &self,
        principal: &Principal,
        req: pb::DeleteRelationshipRequest,
    ) -> Result<pb::DeleteRelationshipResponse> {
        if req.id.is_empty() {
            return Err(invalid("id", "required"));
        }
        let mut tx = self.store.begin().await?;
        let r = relationships::get(&mut tx, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("relationship {}", req.id)))?;
        party_for_write(&mut tx, principal, &r.from_party_id, None).await?;
        relationships::delete(&mut tx, &r.id).await?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "relationship",
            &r.id,
            "deleted",
            json!({}),
            self.store.now_micros(),
        )
        .await?;
        let key = r.from_party_id.clone();
        events::publish(
            &mut tx,
            ev::RELATIONSHIP_DELETED,
            &key,
            &pb::RelationshipDeleted {
                relationship: Some(r),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::DeleteRelationshipResponse {})
    }

    pub(super) async fn handle_list_relationships(
        &self,
        principal: &Principal,
        req: pb::ListRelationshipsRequest,
    ) -> Result<pb::ListRelationshipsResponse> {
        let mut v = Violations::new();
        v.check(req.party_id.is_empty(), "party_id", "required");
        check_types(&req.types, &mut v);
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        party_for_read(&mut conn, principal, &req.party_id).await?;
        let f = follow(req.direction);
        let rows = relationships::page_of(
            &mut conn,
            &req.party_id,
            relationships::Sides {
                outgoing: matches!(f, Follow::Outgoing | Follow::Both),
                incoming: matches!(f, Follow::Incoming | Follow::Both),
            },
            &req.types,
            &after,
            size + 1,
        )
        .await?;
        let (relationships, next_page_token) = finish_page(rows, size, |r| r.id.clone());
        Ok(pb::ListRelationshipsResponse {
            relationships,
            next_page_token,
        })
    }

    pub(super) async fn handle_list_neighbours(
        &self,
        principal: &Principal,
        req: pb::ListNeighboursRequest,
    ) -> Result<pb::ListNeighboursResponse> {
        let mut v = Violations::new();
        v.check(req.party_id.is_empty(), "party_id", "required");
        v.check(!(0..=6).contains(&req.max_hops), "max_hops", "1 to 6 (0 means 1)");
        check_types(&req.types, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        party_for_read(&mut conn, principal, &req.party_id).await?;
        let (bfs, edges) = self
            .search_graph(
                &mut conn,
                &req.party_id,
                follow(req.direction),
                &req.types,
                req.max_hops.max(1),
                None,
            )
            .await?;
        let mut reached = bfs.neighbours();
        reached.truncate(MAX_REACHED);
        let ids: Vec<String> = reached.iter().map(|(id, _, _)| id.clone()).collect();
        let mut by_id: HashMap<String, pb::Party> = parties::load(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let neighbours = reached
            .into_iter()
            .filter_map(|(id, hops, via)| {
                let mut party = by_id.remove(&id)?;
                if !rules::may_read(principal, &party) {
                    return None;
                }
                rules::redact_for(principal, &mut party);
                Some(pb::Neighbour {
                    party: Some(party),
                    hops,
                    via: edges.get(&via).cloned(),
                })
            })
            .collect();
        Ok(pb::ListNeighboursResponse { neighbours })
    }

    pub(super) async fn handle_find_shortest_path(
        &self,
        principal: &Principal,
        req: pb::FindShortestPathRequest,
    ) -> Result<pb::FindShortestPathResponse> {
        let mut v = Violations::new();
        v.check(req.from_party_id.is_empty(), "from_party_id", "required");
        v.check(req.to_party_id.is_empty(), "to_party_id", "required");
        v.check(!(0..=8).contains(&req.max_hops), "max_hops", "1 to 8 (0 means 6)");
        check_types(&req.types, &mut v);
        v.finish()?;
        let max_hops = if req.max_hops == 0 { 6 } else { req.max_hops };
        let mut conn = self.store.conn().await?;
        let start = party_for_read(&mut conn, principal, &req.from_party_id).await?;
        party_for_read(&mut conn, principal, &req.to_party_id).await?;
        let (bfs, edges) = self
            .search_graph(
                &mut conn,
                &req.from_party_id,
                Follow::Both,
                &req.types,
                max_hops,
                Some(&req.to_party_id),
            )
            .await?;
        let Some(path) = bfs.path_to(&req.to_party_id) else {
            return Ok(pb::FindShortestPathResponse {
                found: false,
                start: Some(start),
                steps: vec![],
            });
        };
        let ids: Vec<String> = path.iter().map(|(_, party)| party.clone()).collect();
        let mut by_id: HashMap<String, pb::Party> = parties::load(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let steps = path
            .into_iter()
            .map(|(edge, party)| {
                let mut party = by_id.remove(&party);
                if let Some(p) = party.as_mut() {
                    rules::redact_for(principal, p);
                }
                pb::PathStep {
                    relationship: edges.get(&edge).cloned(),
                    party,
                }
            })
            .collect();
        Ok(pb::FindShortestPathResponse {
            found: true,
            start: Some(start),
            steps,
        })
    }

    pub(super) async fn handle_get_group_tree(
        &self,
        principal: &Principal,
        req: pb::GetGroupTreeRequest,
    ) -> Result<pb::GetGroupTreeResponse> {
        if req.party_id.is_empty() {
            return Err(invalid("party_id", "required"));
        }
        let hierarchy: Vec<i32> = HIERARCHY.iter().map(|t| *t as i32).collect();
        let mut conn = self.store.conn().await?;
        party_for_read(&mut conn, principal, &req.party_id).await?;
        // Climb to the top: follow the first parent edge (by id) until none, guarding cycles.
        let mut root = req.party_id.clone();
        let mut climbed = vec![root.clone()];
        loop {
            let ups =
                relationships::touching(&mut conn, std::slice::from_ref(&root), true, false, &hierarchy)
                    .await?;
            match ups
                .into_iter()
                .map(|r| r.to_party_id)
                .find(|p| !climbed.contains(p))
            {
                Some(parent) if climbed.len() < 64 => {
                    climbed.push(parent.clone());
                    root = parent;
                }
                _ => break,
            }
        }
        // Walk down, one layer of child edges at a time.
        let mut children: HashMap<String, Vec<(String, i32)>> = HashMap::new();
        let mut seen = std::collections::HashSet::from([root.clone()]);
        let mut frontier = vec![root.clone()];
        while !frontier.is_empty() && seen.len() < MAX_REACHED {
            // Each layer reads at most as many child edges as the tree may still take.
            let budget = MAX_REACHED - seen.len();
            let downs =
                relationships::touching_at_most(&mut conn, &frontier, false, true, &hierarchy, Some(budget))
                    .await?;
            frontier.clear();
            for r in downs {
                if seen.insert(r.from_party_id.clone()) {
                    children
                        .entry(r.to_party_id.clone())
                        .or_default()
                        .push((r.from_party_id.clone(), r.r#type));
                    frontier.push(r.from_party_id);
                }
            }
        }
        let nodes = tree(&root, &children);
        let ids: Vec<String> = nodes.iter().map(|n| n.party.clone()).collect();
        let mut by_id: HashMap<String, pb::Party> = parties::load(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let nodes = nodes
            .into_iter()
            .map(|n| {
                let mut party = by_id.remove(&n.party);
                if let Some(p) = party.as_mut() {
                    rules::redact_for(principal, p);
                }
                pb::GroupTreeNode {
                    party,
                    parent_id: n.parent.unwrap_or_default(),
                    depth: n.depth,
                    relationship_type: n.kind,
                }
            })
            .collect();
        Ok(pb::GetGroupTreeResponse { root_id: root, nodes })
    }
}
