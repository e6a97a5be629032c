-- A quote's product chooser finds products by the start of their name (in any case) or SKU:
-- ranges on the lowered name and on the SKU (whose unique index serves it), compared byte by
-- byte.
CREATE INDEX products_name_lower ON products (lower(name));
