-- Imported history: a case's id in its source system, and when its escalation clock started
-- (NULL: when it was opened; an imported open case: when it was imported). The customer copy
-- keeps the party's id in the system it was imported from, so imported cases can name it.
ALTER TABLE cases ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN clock_from BIGINT;
ALTER TABLE customers ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX customers_external_id ON customers (source, external_id) WHERE external_id <> '';
