-- party_tags_page leads with the same column as party_tags_tag, so it serves every lookup this one
-- did, and the table keeps one index fewer to write.
DROP INDEX IF EXISTS party_tags_tag;
