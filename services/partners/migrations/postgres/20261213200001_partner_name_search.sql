-- A chooser finds partners by the start of their name, in any case: LIKE prefix on the
-- lowered name, served by the pattern operator class whatever the database collation.
CREATE INDEX partners_name_lower ON partners (lower(name) text_pattern_ops);
