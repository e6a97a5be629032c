-- no-transaction
-- An agent's open cases, most urgent first, a page from its position on: with the agent's index
-- of every case, their closed cases (which come first in urgency order) were walked to reach them.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY cases_agent_open ON cases (agent_id, priority, resolution_due_at, id) WHERE status NOT IN (5, 6);
