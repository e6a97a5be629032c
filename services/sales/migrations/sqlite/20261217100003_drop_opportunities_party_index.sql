-- opportunities_party_page leads with the same column as opportunities_party, so it serves every
-- lookup this one did, and the table keeps one index fewer to write.
DROP INDEX IF EXISTS opportunities_party;
