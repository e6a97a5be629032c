-- A queue's open cases, most urgent first, a page from its position on: with the queue's index
-- of every case, its closed cases (which come first in urgency order) were walked to reach them.
CREATE INDEX cases_queue_open ON cases (queue_id, priority, resolution_due_at, id) WHERE status NOT IN (5, 6);
