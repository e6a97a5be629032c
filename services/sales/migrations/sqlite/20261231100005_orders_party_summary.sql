-- A customer's order summary (the customer 360 asks on every call) adds up their counted orders
-- per currency and lists the partners they bought through. With the columns it reads in the
-- index it reads the index alone, not a table page per order: the page of each of a long-standing
-- customer's orders, scattered over a table of millions, was read on every call. The id in the
-- key gives the newest orders in order without sorting ties. It replaces `orders_party`, dropped
-- in the next migration.
CREATE INDEX orders_party_summary ON orders (party_id, placed_at, id, status, currency_code, total_minor, partner_id, owner_id);
