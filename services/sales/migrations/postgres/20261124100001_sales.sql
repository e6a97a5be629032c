-- Catalog
CREATE TABLE products (
    id           TEXT PRIMARY KEY,
    sku          TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    product_line TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT '',
    unit         TEXT NOT NULL DEFAULT '',
    active       BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE price_books (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    currency_code TEXT NOT NULL,
    is_default    BIGINT NOT NULL
);

CREATE TABLE prices (
    price_book_id    TEXT NOT NULL REFERENCES price_books (id),
    product_id       TEXT NOT NULL REFERENCES products (id),
    unit_price_minor BIGINT NOT NULL,
    PRIMARY KEY (price_book_id, product_id)
);

-- Read copy of customer parties (from customers events and look-ups).
CREATE TABLE accounts (
    party_id     TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    industry     TEXT NOT NULL DEFAULT '',
    region_code  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'active'
);

-- Leads
CREATE TABLE leads (
    id                  TEXT PRIMARY KEY,
    source              BIGINT NOT NULL,
    source_ref          TEXT NOT NULL DEFAULT '',
    party_id            TEXT NOT NULL DEFAULT '',
    company_name        TEXT NOT NULL DEFAULT '',
    contact_name        TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    phone               TEXT NOT NULL DEFAULT '',
    owner_id            TEXT NOT NULL DEFAULT '',
    team_id             TEXT NOT NULL DEFAULT '',
    status              BIGINT NOT NULL,
    score               BIGINT NOT NULL DEFAULT 0,
    notes               TEXT NOT NULL DEFAULT '',
    opportunity_id      TEXT NOT NULL DEFAULT '',
    disqualified_reason TEXT NOT NULL DEFAULT '',
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL
);
-- A campaign response or partner registration becomes one lead, however often it is delivered.
CREATE UNIQUE INDEX leads_source_ref ON leads (source, source_ref) WHERE source_ref <> '';
CREATE INDEX leads_status ON leads (status, id);

-- The configurable pipeline
CREATE TABLE pipeline_stages (
    code                TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    position            BIGINT NOT NULL,
    win_probability_bps BIGINT NOT NULL,
    is_won              BIGINT NOT NULL,
    is_lost             BIGINT NOT NULL
);
INSERT INTO pipeline_stages (code, name, position, win_probability_bps, is_won, is_lost) VALUES
    ('prospecting', 'Prospecting', 1, 1000, 0, 0),
    ('qualification', 'Qualification', 2, 2000, 0, 0),
    ('proposal', 'Proposal', 3, 5000, 0, 0),
    ('negotiation', 'Negotiation', 4, 7500, 0, 0),
    ('closed_won', 'Closed won', 5, 10000, 1, 0),
    ('closed_lost', 'Closed lost', 6, 0, 0, 1);

CREATE TABLE opportunities (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    party_id            TEXT NOT NULL,
    stage_code          TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    currency_code       TEXT NOT NULL,
    expected_close_date TEXT NOT NULL,
    owner_id            TEXT NOT NULL DEFAULT '',
    team_id             TEXT NOT NULL DEFAULT '',
    territory_id        TEXT NOT NULL DEFAULT '',
    next_step           TEXT NOT NULL DEFAULT '',
    competitor_ids      TEXT NOT NULL DEFAULT '[]',
    products            TEXT NOT NULL DEFAULT '[]',
    status              BIGINT NOT NULL,
    lost_reason         TEXT NOT NULL DEFAULT '',
    lead_id             TEXT NOT NULL DEFAULT '',
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    closed_at           BIGINT
);
CREATE INDEX opportunities_party ON opportunities (party_id);
CREATE INDEX opportunities_owner ON opportunities (owner_id, status);

-- Plan and actual dates per stage visit.
CREATE TABLE stage_history (
    opportunity_id     TEXT NOT NULL REFERENCES opportunities (id),
    seq                BIGINT NOT NULL,
    stage_code         TEXT NOT NULL,
    entered_at         BIGINT NOT NULL,
    left_at            BIGINT,
    planned_leave_date TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (opportunity_id, seq)
);

-- Activities
CREATE TABLE activities (
    id               TEXT PRIMARY KEY,
    kind             BIGINT NOT NULL,
    subject          TEXT NOT NULL,
    notes            TEXT NOT NULL DEFAULT '',
    party_id         TEXT NOT NULL DEFAULT '',
    opportunity_id   TEXT NOT NULL DEFAULT '',
    owner_id         TEXT NOT NULL,
    occurred_at      BIGINT NOT NULL,
    duration_minutes BIGINT NOT NULL DEFAULT 0,
    outcome          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX activities_party ON activities (party_id, occurred_at);
CREATE INDEX activities_opportunity ON activities (opportunity_id, occurred_at);

-- Quotes: one row per revision; lines as JSON (they are always read and written whole).
CREATE TABLE quotes (
    id             TEXT PRIMARY KEY,
    number         TEXT NOT NULL,
    revision       BIGINT NOT NULL,
    opportunity_id TEXT NOT NULL REFERENCES opportunities (id),
    party_id       TEXT NOT NULL,
    price_book_id  TEXT NOT NULL REFERENCES price_books (id),
    currency_code  TEXT NOT NULL,
    lines          TEXT NOT NULL,
    discount_bps   BIGINT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    total_minor    BIGINT NOT NULL,
    valid_until    TEXT NOT NULL DEFAULT '',
    status         BIGINT NOT NULL,
    order_id       TEXT NOT NULL DEFAULT '',
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (number, revision)
);
CREATE INDEX quotes_opportunity ON quotes (opportunity_id);

CREATE TABLE orders (
    id             TEXT PRIMARY KEY,
    party_id       TEXT NOT NULL,
    quote_id       TEXT NOT NULL DEFAULT '',
    opportunity_id TEXT NOT NULL DEFAULT '',
    partner_id     TEXT NOT NULL DEFAULT '',
    external_ref   TEXT NOT NULL DEFAULT '',
    lines          TEXT NOT NULL,
    currency_code  TEXT NOT NULL,
    total_minor    BIGINT NOT NULL,
    status         BIGINT NOT NULL,
    status_reason  TEXT NOT NULL DEFAULT '',
    owner_id       TEXT NOT NULL DEFAULT '',
    team_id        TEXT NOT NULL DEFAULT '',
    placed_at      BIGINT NOT NULL,
    version        BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_external_ref ON orders (partner_id, external_ref) WHERE external_ref <> '';
CREATE INDEX orders_party ON orders (party_id, placed_at);

-- Planned leave dates for stages an opportunity has not reached yet.
CREATE TABLE stage_plans_pending (
    opportunity_id     TEXT NOT NULL REFERENCES opportunities (id),
    stage_code         TEXT NOT NULL,
    planned_leave_date TEXT NOT NULL,
    PRIMARY KEY (opportunity_id, stage_code)
);
