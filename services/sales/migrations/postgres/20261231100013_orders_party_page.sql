-- no-transaction
-- A customer's orders are listed a page at a time in id order. The customer's index on placing
-- time holds them in another order, so each page read and sorted all of the customer's orders
-- (the busiest of 1,000,000 customers has 80,000 of 10,000,000), or walked the primary key
-- past everyone else's: 293 ms a page, 0.4 ms from this index.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY orders_party_page ON orders (party_id, id);
