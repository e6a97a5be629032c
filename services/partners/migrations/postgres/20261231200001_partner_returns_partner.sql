-- no-transaction
-- A scorecard adds up the returns of a partner's channels over its period from this index; with
-- the order key alone, each evaluation read every return on every channel.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY partner_returns_partner ON partner_returns (partner_id, returned_on);
