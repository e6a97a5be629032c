-- A campaign's latest contact run (StartTest's, then RollOut's), gone through a page of members
-- per transaction: which members (phase, cells), how many it may contact at most, the last
-- member it went through, and its counts so far.
ALTER TABLE campaigns ADD COLUMN run_phase BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_cells TEXT NOT NULL DEFAULT '[]';
ALTER TABLE campaigns ADD COLUMN run_to_contact BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_after TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN run_considered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_contacted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_suppressed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_capped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_started_at BIGINT;
ALTER TABLE campaigns ADD COLUMN run_finished_at BIGINT;
ALTER TABLE campaigns ADD COLUMN run_stopped BIGINT NOT NULL DEFAULT 0;
-- The runs under way, for the job that goes on with them.
CREATE INDEX campaigns_running ON campaigns (run_started_at) WHERE run_phase <> 0 AND run_finished_at IS NULL;
