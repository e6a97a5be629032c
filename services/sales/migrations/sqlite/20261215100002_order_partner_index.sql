-- ListOrders and ExportOrders of one channel partner, in id order: without an index a partner
-- with a few orders walked all of them. Only partner orders are in it (most orders are direct);
-- the list repeats the index's condition so that both backends use it.
CREATE INDEX orders_partner ON orders (partner_id, id) WHERE partner_id <> '';
