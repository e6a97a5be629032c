-- no-transaction
-- A queue's open cases, most urgent first, a page from its position on: with the queue's index
-- of every case, its closed cases (which come first in urgency order) were walked to reach them.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY cases_queue_open ON cases (queue_id, priority, resolution_due_at, id) WHERE status NOT IN (5, 6);
