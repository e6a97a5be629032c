// What the console offers each role. The services decide: every call carries the user's token
// and is checked there, record by record. This table only keeps a screen from offering what its
// service would refuse, and follows the suite's access table (tests/e2e/access.txt).
import type { Identity } from "./session";

/** Something a screen may offer. */
export type Action =
  | "customers.search"
  | "customers.edit"
  | "customers.merge"
  | "sales.pipeline"
  | "sales.sell"
  | "sales.manage"
  | "sales.lead"
  | "service.cases"
  | "service.work"
  | "service.manage"
  | "self.service"
  | "partners.performance"
  | "partners.staff"
  | "partners.manage"
  | "partners.trade"
  | "marketing.read"
  | "marketing.act"
  | "data.import";

const STAFF_READERS = ["admin", "auditor"];

const GRANTS: Record<Action, string[]> = {
  "customers.search": [...STAFF_READERS, "sales_manager", "sales_rep", "service_agent", "service_manager", "marketer", "data_steward"],
  // Editing a customer (sellers their own, managers their team's: the service decides).
  "customers.edit": ["admin", "sales_manager", "sales_rep", "service_manager"],
  // Finding duplicates and merging them.
  "customers.merge": ["admin", "sales_manager"],
  // Reading the pipeline and its opportunities.
  "sales.pipeline": [...STAFF_READERS, "sales_manager", "sales_rep", "data_steward"],
  // Moving opportunities, quoting, accepting quotes, logging activities.
  "sales.sell": ["admin", "sales_manager", "sales_rep"],
  // Running the alert rules now, setting quotas.
  "sales.manage": ["admin", "sales_manager"],
  // Qualifying and converting leads is selling; creating them is open to marketing too.
  "sales.lead": ["admin", "sales_manager", "sales_rep", "marketer"],
  // Reading the case queue and cases.
  "service.cases": [...STAFF_READERS, "service_agent", "service_manager"],
  // Opening cases, commenting, changing their status.
  "service.work": ["admin", "service_agent", "service_manager"],
  // SLA targets and running the escalations now.
  "service.manage": ["admin", "service_manager"],
  // A customer's own requests, help articles and rating.
  "self.service": ["customer"],
  // Partner performance, exceptions: the channel's staff, and a partner's own users (their own).
  // The RFM map, segments and campaigns; building segments and running campaigns.
  "marketing.read": [...STAFF_READERS, "marketer", "sales_manager", "service_manager"],
  "marketing.act": ["admin", "marketer"],
  "partners.performance": [...STAFF_READERS, "sales_manager", "channel_manager", "partner_user"],
  // The channel's own view: the hierarchy, partners' records and scorecards.
  "partners.staff": [...STAFF_READERS, "sales_manager", "channel_manager"],
  // Evaluating scorecards, reviewing deal registrations.
  "partners.manage": ["admin", "sales_manager", "channel_manager"],
  // The portal's trade: e-orders and deal registrations (a partner's users their own).
  "partners.trade": ["admin", "sales_manager", "channel_manager", "partner_user"],
  // Importing files of records into any service.
  "data.import": ["admin", "data_steward"],
};

/** Whether `identity` may do `action`. */
export function can(identity: Identity | null, action: Action): boolean {
  return !!identity && identity.roles.some((role) => GRANTS[action].includes(role));
}
