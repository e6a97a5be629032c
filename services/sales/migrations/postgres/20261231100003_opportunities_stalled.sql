-- no-transaction
-- The open deals by their stage's plan, then by when they entered the stage: the alert job reads
-- those past their plan, and those without one in their stage too long, as two ranges of it.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY opportunities_stalled ON opportunities (stage_plan, stage_entered_at) WHERE status = 1;
