-- no-transaction
-- ListEscalations of every case, newest first: without an index each page sorted the whole
-- table. The list bounds raised_at from above as well, so that a later page starts where the
-- last ended.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY escalations_raised ON escalations (raised_at DESC, case_id, level);
