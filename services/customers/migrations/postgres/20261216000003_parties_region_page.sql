-- no-transaction
-- ListParties of one region reads a page in id order from this index: the filter's rows of active
-- parties from the page's position on, and no more. With the filter's column alone, each page read
-- all of the group's rows and sorted them (or walked every party in id order for a rare value).
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY parties_region_page ON parties (region_code, status, id);
