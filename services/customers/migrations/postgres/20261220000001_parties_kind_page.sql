-- no-transaction
-- ListParties of one kind (the organizations of a base of people, say) reads a page in id order
-- from this index: the kind's active parties from the page's position on, and no more. Without
-- it, a page walked every active party in id order until it found a page of the kind.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY parties_kind_page ON parties (kind, status, id);
