-- Customers marketing announced as at risk (cleared when they buy again is marketing's call).
ALTER TABLE customers ADD COLUMN at_risk BIGINT NOT NULL DEFAULT 0;

CREATE TABLE call_lists (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    source     BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE call_list_entries (
    call_list_id TEXT NOT NULL REFERENCES call_lists (id),
    party_id     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    phone        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    outcome      BIGINT NOT NULL DEFAULT 0,
    note         TEXT NOT NULL DEFAULT '',
    agent_id     TEXT NOT NULL DEFAULT '',
    called_at    BIGINT,
    PRIMARY KEY (call_list_id, party_id)
);
