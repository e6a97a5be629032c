-- no-transaction
-- The purge of sent rows past their retention reads them from this index: without it, every
-- purge (every ten minutes, in every service) read the whole outbox, a week of events.
-- PostgreSQL builds it concurrently, so that events are written meanwhile: hence a migration of
-- its own, outside a transaction. A build that fails leaves an invalid index, to drop before
-- running the migration again.
CREATE INDEX CONCURRENTLY crm_outbox_sent ON crm_outbox (sent_at) WHERE sent_at IS NOT NULL;
