-- The marketing view of customers, from customers events.
CREATE TABLE profiles (
    party_id     TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    industry     TEXT NOT NULL DEFAULT '',
    region_code  TEXT NOT NULL DEFAULT '',
    attributes   TEXT NOT NULL DEFAULT '{}',
    tags         TEXT NOT NULL DEFAULT '[]',
    birth_date   TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'active'
);

-- Purchases, from sales order events.
CREATE TABLE purchases (
    order_id      TEXT PRIMARY KEY,
    party_id      TEXT NOT NULL,
    placed_at     BIGINT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency_code TEXT NOT NULL,
    status        TEXT NOT NULL,
    product_ids   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX purchases_party ON purchases (party_id, placed_at);

CREATE TABLE consent (
    party_id       TEXT NOT NULL,
    channel        BIGINT NOT NULL,
    opted_out      BIGINT NOT NULL,
    do_not_contact BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (party_id, channel)
);

CREATE TABLE segments (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    conditions TEXT NOT NULL DEFAULT '[]',
    party_ids  TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE campaigns (
    id                             TEXT PRIMARY KEY,
    name                           TEXT NOT NULL,
    channel                        BIGINT NOT NULL,
    currency_code                  TEXT NOT NULL,
    budget_minor                   BIGINT NOT NULL,
    cost_per_contact_minor         BIGINT NOT NULL,
    net_profit_per_response_minor  BIGINT NOT NULL,
    segment_id                     TEXT NOT NULL,
    status                         BIGINT NOT NULL,
    test_every_n                   BIGINT NOT NULL,
    attribution_window_days        BIGINT NOT NULL,
    created_at                     BIGINT NOT NULL
);

CREATE TABLE campaign_members (
    campaign_id  TEXT NOT NULL REFERENCES campaigns (id),
    party_id     TEXT NOT NULL,
    cell         TEXT NOT NULL,
    test_group   BIGINT NOT NULL DEFAULT 0,
    status       TEXT NOT NULL,
    contacted_at BIGINT,
    responded_at BIGINT,
    response_id  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, party_id)
);
