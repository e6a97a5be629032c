-- Transactional outbox: rows written in the same transaction as the state change they announce.
CREATE TABLE crm_outbox (
    seq           BIGSERIAL PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    source        TEXT NOT NULL,
    event_subject TEXT NOT NULL,
    event_time    TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    traceparent   TEXT,
    created_at    BIGINT NOT NULL,
    sent_at       BIGINT,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT
);
CREATE INDEX crm_outbox_unsent ON crm_outbox (seq) WHERE sent_at IS NULL;

-- Inbox: one row per (consumer, event) handled, written with the handler's side effects.
CREATE TABLE crm_inbox (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_type TEXT NOT NULL,
    handled_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
