-- Idempotency keys of CreateParty: a request sent again with the same id (a client retrying
-- after a lost answer, or sales converting the same lead again) gets the party the first one
-- created instead of a duplicate.
CREATE TABLE party_requests (
    request_id TEXT PRIMARY KEY,
    party_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
