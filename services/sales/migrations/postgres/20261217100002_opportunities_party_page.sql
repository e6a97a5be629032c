-- no-transaction
-- ListOpportunities of one party reads its page in id order from this index, from the page's
-- position on, and no more: a key account with thousands of opportunities is paged like any other.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY opportunities_party_page ON opportunities (party_id, id);
