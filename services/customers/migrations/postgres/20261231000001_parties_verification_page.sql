-- no-transaction
-- ListVerificationDue reads a page of active parties in (verified_at, id) order from this index,
-- from the page's position on. With verified_at alone, a page's position gave the planner no place
-- to start: each page read the index from the oldest party (or every party after it) again.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY parties_verification_page ON parties (status, verified_at, id);
