-- no-transaction
-- The open deals by expected close date: the alert job reads those past it (overdue) from here,
-- not every open deal.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY opportunities_overdue ON opportunities (expected_close_date) WHERE status = 1;
