-- no-transaction
-- ListOpportunities of one owner reads its page in id order from this index, from the page's
-- position on, and no more. Without it, each page read every opportunity the owner has ever had
-- (opportunities_owner) and sorted them. opportunities_owner stays: the pipeline reports of one
-- owner read the owner's open opportunities from it.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY opportunities_owner_page ON opportunities (owner_id, id);
