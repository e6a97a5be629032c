-- no-transaction
-- ListAlerts without an owner reads a page newest first from this index, from the page's
-- position on; with the owner index alone, each page read and sorted every alert ever raised.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY alerts_recent ON alerts (raised_at, id);
