// The relationship network as a graph to draw: the parties reached from one, the edges they were
// reached by, and a path between two of them picked out; a group's members as a tree.
import type { GroupTreeNode, Neighbour, Party, PathStep, Relationship } from "../../gen/crm/customers/v1/customers_pb";

/** A party of the drawing. `id` names it to the chart; a click on it gives the id back. */
export interface GraphNode {
  id: string;
  label: string;
  /** Edges from the start party: 0 for the start. */
  hops: number;
  /** On the path picked out. */
  onPath: boolean;
  /** The id of the edge it was reached by (none for the start). */
  via?: string;
}

/** An edge of the drawing, from one party to another. */
export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  relationship: Relationship;
  onPath: boolean;
}

/** The graph of `start` and the parties `neighbours` reached, with the edges of `path` (and
 * its parties, when it leaves the neighbourhood) picked out. An edge reached twice is drawn once. */
export function graphOf(start: Party, neighbours: Neighbour[], path: PathStep[] = []): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const onPath = new Set(path.map((s) => s.relationship?.id ?? ""));
  const pathParties = new Set(path.map((s) => s.party?.id ?? ""));
  const nodes = new Map<string, GraphNode>();
  nodes.set(start.id, { id: start.id, label: start.displayName, hops: 0, onPath: path.length > 0 });
  for (const n of neighbours) {
    if (!n.party || nodes.has(n.party.id)) continue;
    nodes.set(n.party.id, { id: n.party.id, label: n.party.displayName, hops: n.hops, onPath: pathParties.has(n.party.id), via: n.via?.id });
  }
  // A path may go beyond the hops shown: its parties join the drawing, one further out each.
  path.forEach((step, i) => {
    const p = step.party;
    if (p && !nodes.has(p.id)) nodes.set(p.id, { id: p.id, label: p.displayName, hops: i + 1, onPath: true, via: step.relationship?.id });
  });
  const edges = new Map<string, GraphEdge>();
  const add = (r: Relationship | undefined) => {
    if (!r || edges.has(r.id) || !nodes.has(r.fromPartyId) || !nodes.has(r.toPartyId)) return;
    edges.set(r.id, { id: r.id, source: r.fromPartyId, target: r.toPartyId, relationship: r, onPath: onPath.has(r.id) });
  };
  neighbours.forEach((n) => add(n.via));
  path.forEach((s) => add(s.relationship));
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

/** A group tree as nested branches, from its root, for a tree chart. */
export interface Branch {
  /** The party's id (what a click gives back). */
  name: string;
  label: string;
  children: Branch[];
}

/** Nests `nodes` (depth-first, parents first, as the service sends them) under their parents. */
export function treeOf(nodes: GroupTreeNode[]): Branch | null {
  const byId = new Map<string, Branch>();
  let root: Branch | null = null;
  for (const n of nodes) {
    if (!n.party) continue;
    const branch: Branch = { name: n.party.id, label: n.party.displayName, children: [] };
    byId.set(n.party.id, branch);
    const parent = n.parentId ? byId.get(n.parentId) : undefined;
    if (parent) parent.children.push(branch);
    else root ??= branch;
  }
  return root;
}
