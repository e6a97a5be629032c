-- The portal's catalog is read a page at a time by name (within a category or not), and a page's
-- roadmap by its products.
CREATE INDEX products_active_by_name ON products (name, id) WHERE active = 1;
CREATE INDEX products_active_by_category ON products (category, name, id) WHERE active = 1;
CREATE INDEX roadmap_by_product ON roadmap (product_id, available_from, id);
