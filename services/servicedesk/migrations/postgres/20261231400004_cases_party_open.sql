-- no-transaction
-- A customer's open cases, most urgent first (the customer 360's service section asks on every
-- call): with the customer's index of every case, each of their closed cases was read from the
-- table to be left out, and a long-standing customer has many more closed cases than open ones.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY cases_party_open ON cases (party_id, priority, resolution_due_at, id) WHERE status NOT IN (5, 6);
