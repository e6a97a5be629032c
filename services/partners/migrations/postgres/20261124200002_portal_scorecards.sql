ALTER TABLE partners ADD COLUMN party_id TEXT NOT NULL DEFAULT '';

CREATE TABLE roadmap (
    id             TEXT PRIMARY KEY,
    product_id     TEXT NOT NULL DEFAULT '',
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    available_from TEXT NOT NULL DEFAULT ''
);

CREATE TABLE availability (
    product_id      TEXT PRIMARY KEY,
    in_stock        BIGINT NOT NULL,
    lead_time_days  BIGINT NOT NULL,
    weekly_capacity BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- E-orders; one per partner and reference.
CREATE TABLE partner_orders (
    id             TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    external_ref   TEXT NOT NULL,
    lines          TEXT NOT NULL,
    currency_code  TEXT NOT NULL,
    status         BIGINT NOT NULL,
    sales_order_id TEXT NOT NULL DEFAULT '',
    total_minor    BIGINT NOT NULL DEFAULT 0,
    reason         TEXT NOT NULL DEFAULT '',
    submitted_at   BIGINT NOT NULL,
    UNIQUE (partner_id, external_ref)
);

CREATE TABLE deal_registrations (
    id                  TEXT PRIMARY KEY,
    partner_id          TEXT NOT NULL REFERENCES partners (id),
    company_name        TEXT NOT NULL,
    contact_name        TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    phone               TEXT NOT NULL DEFAULT '',
    amount_minor        BIGINT NOT NULL DEFAULT 0,
    currency_code       TEXT NOT NULL DEFAULT '',
    expected_close_date TEXT NOT NULL DEFAULT '',
    notes               TEXT NOT NULL DEFAULT '',
    status              BIGINT NOT NULL,
    review_reason       TEXT NOT NULL DEFAULT '',
    reviewer_id         TEXT NOT NULL DEFAULT '',
    registered_at       BIGINT NOT NULL
);

-- Scorecard inputs besides sell-through.
CREATE TABLE complaints (
    partner_id  TEXT NOT NULL,
    reference   TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    PRIMARY KEY (partner_id, reference)
);

CREATE TABLE partner_returns (
    order_id      TEXT PRIMARY KEY,
    partner_id    TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency_code TEXT NOT NULL,
    returned_on   TEXT NOT NULL
);

CREATE TABLE scorecards (
    partner_id     TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    period         TEXT NOT NULL,
    kpis           TEXT NOT NULL,
    score          BIGINT NOT NULL,
    recommendation BIGINT NOT NULL,
    evaluated_at   BIGINT NOT NULL,
    evaluator_id   TEXT NOT NULL,
    PRIMARY KEY (partner_id, seq)
);

CREATE TABLE partner_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
