-- no-transaction
-- ListLeads of one owner reads its page in id order from this index, from the page's position on,
-- and no more. Without it, each page walked every lead in id order until it had found a page's
-- worth.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY leads_owner_page ON leads (owner_id, id);
