-- The inbox is purged of events older than the streams keep (plus a margin): they cannot be
-- delivered again. Failed attempts are forgotten with them.
CREATE INDEX crm_inbox_handled_at ON crm_inbox (handled_at);
CREATE INDEX crm_event_failures_failed_at ON crm_event_failures (failed_at);
