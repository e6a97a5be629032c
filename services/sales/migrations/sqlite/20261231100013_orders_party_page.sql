-- A customer's orders are listed a page at a time in id order. The customer's index on placing
-- time holds them in another order, so each page read and sorted all of the customer's orders
-- (the busiest of 1,000,000 customers has 80,000 of 10,000,000), or walked the primary key
-- past everyone else's: 293 ms a page, 0.4 ms from this index.
CREATE INDEX orders_party_page ON orders (party_id, id);
