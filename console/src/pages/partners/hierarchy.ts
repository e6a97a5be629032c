// The channel hierarchy as branches: the service lists it depth-first, parents before children.
import type { PartnerTreeNode } from "../../gen/crm/partners/v1/partners_pb";

/** A partner with the partners directly below it. */
export interface Branch {
  node: PartnerTreeNode;
  children: Branch[];
}

/** The top-level partners with everything below each. A partner whose parent is not in the
 * list (the reader sees only part of the channel) is a top of its own. */
export function forest(nodes: PartnerTreeNode[]): Branch[] {
  const byId = new Map<string, Branch>();
  const roots: Branch[] = [];
  for (const node of nodes) {
    const p = node.partner;
    if (!p) continue;
    const branch: Branch = { node, children: [] };
    byId.set(p.id, branch);
    const parent = p.parentId ? byId.get(p.parentId) : undefined;
    if (parent) parent.children.push(branch);
    else roots.push(branch);
  }
  return roots;
}
