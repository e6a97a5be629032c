-- Value as contribution: the gross margin of orders less the cost to serve, over the value
-- window and over the customer's history. Until a party is refreshed, its contribution is its
-- revenue (what was known: no costs).
ALTER TABLE parties ADD COLUMN window_revenue_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE parties ADD COLUMN window_contribution_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE parties ADD COLUMN lifetime_contribution_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE parties ADD COLUMN window_cost_to_serve_minor BIGINT NOT NULL DEFAULT 0;
UPDATE parties SET window_revenue_minor = trailing_12m_revenue_minor,
    window_contribution_minor = trailing_12m_revenue_minor,
    lifetime_contribution_minor = lifetime_revenue_minor;

-- What each order's goods cost (0 when unknown).
ALTER TABLE party_orders ADD COLUMN cost_minor BIGINT NOT NULL DEFAULT 0;

-- The customers' service cases, from the service desk's events: the cost to serve is their
-- number by priority at the configured cost per case.
CREATE TABLE party_cases (
    case_id   TEXT PRIMARY KEY,
    party_id  TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    priority  BIGINT NOT NULL
);
CREATE INDEX party_cases_party ON party_cases (party_id, opened_at);
