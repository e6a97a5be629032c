-- no-transaction
-- parties_verification_page serves the one read of verified_at (ListVerificationDue, of active
-- parties: the new index leads with their status), in this release and the one before, and the
-- table keeps one index fewer to write.
-- PostgreSQL drops it concurrently, so that reads and writes of the table go on meanwhile instead
-- of queueing behind the drop's lock: hence a migration of its own, outside a transaction.
DROP INDEX CONCURRENTLY IF EXISTS parties_verified;
