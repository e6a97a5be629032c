-- no-transaction
-- ListOrders and ExportOrders of one channel partner, in id order: without an index a partner
-- with a few orders walked all of them. Only partner orders are in it (most orders are direct);
-- the list repeats the index's condition so that both backends use it.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY orders_partner ON orders (partner_id, id) WHERE partner_id <> '';
