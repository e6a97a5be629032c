-- Case lists page in urgency order, the service report adds up a period's cases and the open
-- ones in SQL, and notifications page newest first: each reads by an index instead of the table.
CREATE INDEX cases_urgency ON cases (priority, resolution_due_at, id);
CREATE INDEX cases_opened ON cases (opened_at);
CREATE INDEX cases_open ON cases (opened_at) WHERE status NOT IN (5, 6);
CREATE INDEX notifications_recent ON notifications (created_at, id);
