ALTER TABLE customers ADD COLUMN birth_date TEXT NOT NULL DEFAULT '';

-- The delivery queue of proactive notifications; dedupe_key makes each notice happen once.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    dedupe_key      TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    template        TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
