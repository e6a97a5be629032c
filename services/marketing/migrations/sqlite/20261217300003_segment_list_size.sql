-- ListSegments shows how many parties a static list holds instead of the list itself (up to
-- 100,000 ids a segment, so that a page of segments no longer outgrows a message): kept with the
-- segment, counted from its members when it is created.
ALTER TABLE segments ADD COLUMN list_size BIGINT NOT NULL DEFAULT 0;
UPDATE segments SET list_size = (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = segments.id);
