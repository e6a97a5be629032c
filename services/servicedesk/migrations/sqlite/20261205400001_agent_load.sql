-- An agent's load (their open cases) is counted on every routing and assignment.
CREATE INDEX cases_agent ON cases (agent_id, status);
