-- The alert job looks for open deals past the plan of their stage, or in it too long. It read
-- every open deal with the last visit of its history. Each opportunity now keeps its current
-- visit's start and plan, so the late ones are read from an index of the open deals instead
-- (the next two migrations); stage_history keeps every visit.
ALTER TABLE opportunities ADD COLUMN stage_entered_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE opportunities ADD COLUMN stage_plan TEXT NOT NULL DEFAULT '';
UPDATE opportunities SET
    stage_entered_at = COALESCE((SELECT h.entered_at FROM stage_history h WHERE h.opportunity_id = opportunities.id
        ORDER BY h.seq DESC LIMIT 1), 0),
    stage_plan = COALESCE((SELECT h.planned_leave_date FROM stage_history h WHERE h.opportunity_id = opportunities.id
        ORDER BY h.seq DESC LIMIT 1), '');
