-- The open deals by their stage's plan, then by when they entered the stage: the alert job reads
-- those past their plan, and those without one in their stage too long, as two ranges of it.
CREATE INDEX opportunities_stalled ON opportunities (stage_plan, stage_entered_at) WHERE status = 1;
