-- Where a test's contact run is among the campaign's members, which it goes through in (cell,
-- party) order picking 1 in N of each cell: the cell of the last member (run_after) and how many
-- members of that cell it went through.
ALTER TABLE campaigns ADD COLUMN run_cell TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN run_rank BIGINT NOT NULL DEFAULT 0;
