-- `orders_party_summary` serves every read `orders_party` served.
DROP INDEX IF EXISTS orders_party;
