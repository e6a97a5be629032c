-- A chooser finds partners by the start of their name, in any case: a range on the lowered
-- name (SQLite compares it byte by byte).
CREATE INDEX partners_name_lower ON partners (lower(name));
