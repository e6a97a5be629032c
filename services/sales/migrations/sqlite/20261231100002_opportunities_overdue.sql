-- The open deals by expected close date: the alert job reads those past it (overdue) from here,
-- not every open deal.
CREATE INDEX opportunities_overdue ON opportunities (expected_close_date) WHERE status = 1;
