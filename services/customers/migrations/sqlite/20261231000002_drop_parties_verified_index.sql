-- parties_verification_page serves the one read of verified_at (ListVerificationDue, of active
-- parties: the new index leads with their status), in this release and the one before, and the
-- table keeps one index fewer to write.
DROP INDEX IF EXISTS parties_verified;
