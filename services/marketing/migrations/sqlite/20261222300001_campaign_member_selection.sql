-- A campaign's latest selection of members (SelectMembers), gone through a page of the segment's
-- customers per transaction: where it is (the last party gone through), its counts so far, and
-- what every page scores against (the RFM boundaries and the day of its start), so that all
-- members' cells are of one scoring.
ALTER TABLE campaigns ADD COLUMN sel_started_at BIGINT;
ALTER TABLE campaigns ADD COLUMN sel_finished_at BIGINT;
ALTER TABLE campaigns ADD COLUMN sel_after TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN sel_selected BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN sel_suppressed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN sel_cuts TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN sel_today BIGINT NOT NULL DEFAULT 0;
-- The selections under way, for the job that goes on with them.
CREATE INDEX campaigns_selecting ON campaigns (sel_started_at) WHERE sel_started_at IS NOT NULL AND sel_finished_at IS NULL;
