-- The calls a service recorded (crm.audit.v1): changes, exports and refusals.
CREATE TABLE crm_call_audit (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    method      TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    roles       TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    message     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    trace_id    TEXT NOT NULL,
    peer        TEXT NOT NULL
);
-- The filters ListCallRecords offers, newest first; `at` for the retention purge.
CREATE INDEX crm_call_audit_actor ON crm_call_audit (actor_id, seq);
CREATE INDEX crm_call_audit_record ON crm_call_audit (record_id, seq);
CREATE INDEX crm_call_audit_refused ON crm_call_audit (outcome, seq);
CREATE INDEX crm_call_audit_at ON crm_call_audit (at);
