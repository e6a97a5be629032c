CREATE TABLE queues (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE agents (
    user_id   TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    queue_ids TEXT NOT NULL DEFAULT '[]',
    skills    TEXT NOT NULL DEFAULT '[]',
    capacity  BIGINT NOT NULL
);

-- Read copy of customers: name, tier and normalised phone numbers (from customers events).
CREATE TABLE customers (
    party_id     TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    tier         TEXT NOT NULL DEFAULT '',
    phones       TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'active'
);

CREATE TABLE cases (
    id                  TEXT PRIMARY KEY,
    type                BIGINT NOT NULL,
    channel             BIGINT NOT NULL,
    category            TEXT NOT NULL DEFAULT '',
    severity            BIGINT NOT NULL,
    subject             TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    party_id            TEXT NOT NULL,
    contact             TEXT NOT NULL DEFAULT '',
    queue_id            TEXT NOT NULL,
    agent_id            TEXT NOT NULL DEFAULT '',
    priority            BIGINT NOT NULL,
    customer_tier       TEXT NOT NULL DEFAULT '',
    status              BIGINT NOT NULL,
    resolution          TEXT NOT NULL DEFAULT '',
    satisfaction        BIGINT NOT NULL DEFAULT 0,
    opened_at           BIGINT NOT NULL,
    response_due_at     BIGINT NOT NULL,
    resolution_due_at   BIGINT NOT NULL,
    first_response_at   BIGINT,
    resolved_at         BIGINT,
    paused_at           BIGINT,
    version             BIGINT NOT NULL
);
CREATE INDEX cases_party ON cases (party_id);
CREATE INDEX cases_queue ON cases (queue_id, status);

CREATE TABLE case_timeline (
    case_id  TEXT NOT NULL REFERENCES cases (id),
    seq      BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    kind     TEXT NOT NULL,
    text     TEXT NOT NULL,
    internal BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, seq)
);

-- Each escalation level of a case is raised once.
CREATE TABLE escalations (
    case_id   TEXT NOT NULL REFERENCES cases (id),
    level     TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (case_id, level)
);

CREATE TABLE articles (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    language    TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    usage_count BIGINT NOT NULL DEFAULT 0
);
