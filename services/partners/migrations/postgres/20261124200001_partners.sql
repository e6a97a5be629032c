CREATE TABLE partners (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    type            BIGINT NOT NULL,
    parent_id       TEXT NOT NULL DEFAULT '',
    region_codes    TEXT NOT NULL DEFAULT '[]',
    tier            TEXT NOT NULL DEFAULT '',
    status          BIGINT NOT NULL,
    operating_model BIGINT NOT NULL,
    contacts        TEXT NOT NULL DEFAULT '[]',
    agreement_start TEXT NOT NULL DEFAULT '',
    agreement_end   TEXT NOT NULL DEFAULT '',
    manager_id      TEXT NOT NULL DEFAULT '',
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX partners_parent ON partners (parent_id);

CREATE TABLE partner_status_history (
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    seq            BIGINT NOT NULL,
    from_status    BIGINT NOT NULL,
    to_status      BIGINT NOT NULL,
    reason         TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    changed_at     BIGINT NOT NULL,
    PRIMARY KEY (partner_id, seq)
);

CREATE TABLE targets (
    partner_id       TEXT NOT NULL REFERENCES partners (id),
    period           TEXT NOT NULL,
    product_category TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    amount_minor     BIGINT NOT NULL,
    currency_code    TEXT NOT NULL,
    quantity         BIGINT NOT NULL,
    PRIMARY KEY (partner_id, period, product_category, product_id)
);

-- Read copy of the sales catalog (from product events).
CREATE TABLE products (
    id           TEXT PRIMARY KEY,
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL,
    product_line TEXT NOT NULL,
    active       BIGINT NOT NULL
);

-- Units sold through partners; source_key makes every order line and report line count once.
CREATE TABLE sell_through (
    source_key       TEXT PRIMARY KEY,
    partner_id       TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    product_category TEXT NOT NULL,
    region_code      TEXT NOT NULL,
    quantity         BIGINT NOT NULL,
    amount_minor     BIGINT NOT NULL,
    currency_code    TEXT NOT NULL,
    sold_on          TEXT NOT NULL,
    source           BIGINT NOT NULL,
    source_ref       TEXT NOT NULL
);
CREATE INDEX sell_through_partner ON sell_through (partner_id, sold_on);
CREATE INDEX sell_through_ref ON sell_through (source_ref);

CREATE TABLE sales_reports (
    report_id   TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL,
    lines       BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);

-- Exception cells already announced (a cell is announced when it newly falls under).
CREATE TABLE exceptions_raised (
    cell_key  TEXT PRIMARY KEY,
    raised_at BIGINT NOT NULL
);
