-- The sales organisation.
CREATE TABLE departments (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    parent_id TEXT NOT NULL DEFAULT ''
);

CREATE TABLE teams (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    department_id   TEXT NOT NULL REFERENCES departments (id),
    manager_user_id TEXT NOT NULL DEFAULT ''
);

CREATE TABLE reps (
    user_id      TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    team_id      TEXT NOT NULL REFERENCES teams (id),
    active       BIGINT NOT NULL
);

-- Territories and their rules (lists as JSON arrays).
CREATE TABLE territories (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    industries    TEXT NOT NULL DEFAULT '[]',
    region_codes  TEXT NOT NULL DEFAULT '[]',
    product_lines TEXT NOT NULL DEFAULT '[]',
    priority      BIGINT NOT NULL DEFAULT 100,
    team_id       TEXT NOT NULL DEFAULT '',
    version       BIGINT NOT NULL
);

ALTER TABLE accounts ADD COLUMN territory_id TEXT NOT NULL DEFAULT '';

CREATE TABLE quotas (
    owner_kind    BIGINT NOT NULL,
    owner_id      TEXT NOT NULL,
    period        TEXT NOT NULL,
    product_line  TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency_code TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, period, product_line)
);

-- Raised alerts; a condition is raised once (dedupe_key).
CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    kind        BIGINT NOT NULL,
    subject_id  TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    message     TEXT NOT NULL,
    dedupe_key  TEXT NOT NULL UNIQUE,
    raised_at   BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX alerts_owner ON alerts (owner_id, raised_at);

CREATE TABLE sales_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
