-- parties_owner_page leads with the same column as parties_owner, so it serves every lookup this
-- one did, and the table keeps one index fewer to write.
DROP INDEX IF EXISTS parties_owner;
