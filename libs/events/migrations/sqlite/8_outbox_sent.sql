-- The purge of sent rows past their retention reads them from this index: without it, every
-- purge (every ten minutes, in every service) read the whole outbox, a week of events.
CREATE INDEX crm_outbox_sent ON crm_outbox (sent_at) WHERE sent_at IS NOT NULL;
