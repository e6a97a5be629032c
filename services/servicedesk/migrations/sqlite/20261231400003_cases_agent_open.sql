-- An agent's open cases, most urgent first, a page from its position on: with the agent's index
-- of every case, their closed cases (which come first in urgency order) were walked to reach them.
CREATE INDEX cases_agent_open ON cases (agent_id, priority, resolution_due_at, id) WHERE status NOT IN (5, 6);
