-- Merging a party repoints earlier redirects to it (UPDATE ... WHERE merged_into_id), and an
-- export lists the parties merged into one: without an index each read every party. Only merged
-- parties are in it.
CREATE INDEX parties_merged_into ON parties (merged_into_id) WHERE merged_into_id IS NOT NULL;
