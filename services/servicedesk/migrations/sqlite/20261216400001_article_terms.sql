-- Knowledge-base search read every article in the language and ranked them all. Each article's
-- weight for each of its terms is now stored when it is written, and a search sums the postings
-- of the query's terms. Articles stored before this have terms_indexed = 0 and are indexed by
-- the service when it starts (crm_servicedesk::kb_backfill).
CREATE TABLE article_terms (
    term       TEXT NOT NULL,
    article_id TEXT NOT NULL REFERENCES articles (id),
    language   TEXT NOT NULL,
    weight     DOUBLE PRECISION NOT NULL,
    -- A term's postings are stored together, in key order.
    PRIMARY KEY (term, article_id)
) WITHOUT ROWID;
CREATE INDEX article_terms_article ON article_terms (article_id);
ALTER TABLE articles ADD COLUMN terms_indexed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX articles_unindexed ON articles (id) WHERE terms_indexed = 0;
