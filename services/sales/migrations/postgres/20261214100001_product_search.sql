-- A quote's product chooser finds products by the start of their name (in any case) or SKU:
-- LIKE prefixes, served by the pattern operator class whatever the database collation.
CREATE INDEX products_name_lower ON products (lower(name) text_pattern_ops);
CREATE INDEX products_sku_pattern ON products (sku text_pattern_ops);
