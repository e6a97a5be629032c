-- no-transaction
-- ListParties of one tag walks the tag's parties in id order from the page's position on, and no
-- more. With the tag alone, each page read every party with the tag and sorted them, or walked
-- every party in id order for a rare tag.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY party_tags_page ON party_tags (tag, party_id);
