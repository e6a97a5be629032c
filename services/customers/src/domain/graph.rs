//! Breadth-first search over the relationship network, fed one layer of edges at a time so
//! that only the reached part of the graph is read.

use std::collections::{HashMap, HashSet, VecDeque};

/// A directed edge as the search sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Relationship id.
    pub id: String,
    /// From-party.
    pub from: String,
    /// To-party.
    pub to: String,
    /// Relationship type (proto enum value).
    pub kind: i32,
}

/// Which way edges are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// From -> to.
    Outgoing,
    /// To -> from.
    Incoming,
    /// Both.
    Both,
}

/// State of a breadth-first search from one party.
#[derive(Debug)]
pub struct Bfs {
    /// party -> (hops, edge id through which it was first reached, previous party)
    reached: HashMap<String, (i32, Option<String>, Option<String>)>,
    order: Vec<String>,
    frontier: Vec<String>,
    hops: i32,
    follow: Follow,
}

impl Bfs {
    /// Starts at `start`.
    pub fn new(start: &str, follow: Follow) -> Self {
        let mut reached = HashMap::new();
        reached.insert(start.to_string(), (0, None, None));
        Self {
            reached,
            order: Vec::new(),
            frontier: vec![start.to_string()],
            hops: 0,
            follow,
        }
    }

    /// The parties whose edges the next layer needs.
    pub fn frontier(&self) -> &[String] {
        &self.frontier
    }

    /// Expands one layer using `edges` (edges touching the frontier, in a stable order).
    /// Returns the newly reached parties.
    pub fn expand(&mut self, edges: &[Edge]) -> Vec<String> {
        self.hops += 1;
        let frontier: HashSet<&String> = self.frontier.iter().collect();
        let mut next = Vec::new();
        for edge in edges {
            let mut candidates = Vec::with_capacity(2);
            if matches!(self.follow, Follow::Outgoing | Follow::Both) && frontier.contains(&edge.from) {
                candidates.push((&edge.from, &edge.to));
            }
            if matches!(self.follow, Follow::Incoming | Follow::Both) && frontier.contains(&edge.to) {
                candidates.push((&edge.to, &edge.from));
            }
            for (prev, party) in candidates {
                if !self.reached.contains_key(party) {
                    self.reached.insert(
                        party.clone(),
                        (self.hops, Some(edge.id.clone()), Some(prev.clone())),
                    );
                    self.order.push(party.clone());
                    next.push(party.clone());
                }
            }
        }
        self.frontier = next.clone();
        next
    }

    /// Whether `party` was reached.
    pub fn reached(&self, party: &str) -> bool {
        self.reached.contains_key(party)
    }

    /// Reached parties (start excluded) in discovery order with hops and the edge id they were
    /// reached through.
    pub fn neighbours(&self) -> Vec<(String, i32, String)> {
        self.order
            .iter()
            .filter_map(|p| {
                let (hops, via, _) = self.reached.get(p)?;
                Some((p.clone(), *hops, via.clone()?))
            })
            .collect()
    }

    /// The path from the start to `target` as (edge id, party) steps.
    pub fn path_to(&self, target: &str) -> Option<Vec<(String, String)>> {
        let mut steps = VecDeque::new();
        let mut current = target.to_string();
        loop {
            let (_, via, prev) = self.reached.get(&current)?;
            match (via, prev) {
                (Some(via), Some(prev)) => {
                    steps.push_front((via.clone(), current.clone()));
                    current = prev.clone();
                }
                _ => return Some(steps.into()),
            }
        }
    }
}

/// A node of a group tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    /// The party.
    pub party: String,
    /// Its parent (None for the root).
    pub parent: Option<String>,
    /// Distance from the root.
    pub depth: i32,
    /// Type of the edge to the parent (0 for the root).
    pub kind: i32,
}

/// Orders a tree depth-first from `root`, children sorted by id; `children` maps a parent to
/// its (child, edge type) pairs. Cycles are cut: each party appears once.
pub fn tree(root: &str, children: &HashMap<String, Vec<(String, i32)>>) -> Vec<TreeNode> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![TreeNode {
        party: root.to_string(),
        parent: None,
        depth: 0,
        kind: 0,
    }];
    while let Some(node) = stack.pop() {
        if !seen.insert(node.party.clone()) {
            continue;
        }
        if let Some(kids) = children.get(&node.party) {
            let mut kids = kids.clone();
            kids.sort();
            for (child, kind) in kids.into_iter().rev() {
                stack.push(TreeNode {
                    party: child,
                    parent: Some(node.party.clone()),
                    depth: node.depth + 1,
                    kind,
                });
            }
        }
        out.push(node);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(id: &str, from: &str, to: &str) -> Edge {
        Edge {
            id: id.into(),
            from: from.into(),
            to: to.into(),
            kind: 1,
        }
    }

    #[test]
    fn finds_shortest_path_across_directions() {
        // alice -> dept -> acme <- bob
        let edges = [
            edge("e1", "alice", "dept"),
            edge("e2", "dept", "acme"),
            edge("e3", "bob", "acme"),
        ];
        let mut bfs = Bfs::new("alice", Follow::Both);
        for _ in 0..3 {
            let layer: Vec<Edge> = edges
                .iter()
                .filter(|e| bfs.frontier().contains(&e.from) || bfs.frontier().contains(&e.to))
                .cloned()
                .collect();
            bfs.expand(&layer);
        }
        let path = bfs.path_to("bob").unwrap();
        assert_eq!(
            path,
            vec![
                ("e1".into(), "dept".into()),
                ("e2".into(), "acme".into()),
                ("e3".into(), "bob".into())
            ]
        );
        assert_eq!(
            bfs.neighbours().iter().map(|n| n.1).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(bfs.path_to("alice").unwrap(), vec![]);
        assert!(bfs.path_to("nobody").is_none());
    }

    #[test]
    fn outgoing_only_does_not_walk_back() {
        let edges = [edge("e1", "a", "b"), edge("e2", "c", "a")];
        let mut bfs = Bfs::new("a", Follow::Outgoing);
        assert_eq!(bfs.expand(&edges), vec!["b".to_string()]);
    }

    #[test]
    fn trees_are_depth_first_and_cycle_safe() {
        let mut children = HashMap::new();
        children.insert(
            "group".to_string(),
            vec![("acme".to_string(), 3), ("beta".to_string(), 3)],
        );
        children.insert(
            "acme".to_string(),
            vec![("sales".to_string(), 2), ("group".to_string(), 3)],
        );
        let nodes = tree("group", &children);
        let names: Vec<&str> = nodes.iter().map(|n| n.party.as_str()).collect();
        assert_eq!(names, vec!["group", "acme", "sales", "beta"]);
        assert_eq!(nodes[2].depth, 2);
        assert_eq!(nodes[2].parent.as_deref(), Some("acme"));
    }
}
