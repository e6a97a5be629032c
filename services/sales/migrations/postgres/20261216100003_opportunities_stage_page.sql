-- no-transaction
-- ListOpportunities at one stage reads its page in id order from this index, from the page's
-- position on, and no more. Without it, each page walked every opportunity in id order until it
-- had found a page's worth.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY opportunities_stage_page ON opportunities (stage_code, id);
