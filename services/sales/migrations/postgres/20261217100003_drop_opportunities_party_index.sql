-- no-transaction
-- opportunities_party_page leads with the same column as opportunities_party, so it serves every
-- lookup this one did, and the table keeps one index fewer to write.
-- PostgreSQL drops it concurrently, so that reads and writes of the table go on meanwhile instead
-- of queueing behind the drop's lock: hence a migration of its own, outside a transaction.
DROP INDEX CONCURRENTLY IF EXISTS opportunities_party;
