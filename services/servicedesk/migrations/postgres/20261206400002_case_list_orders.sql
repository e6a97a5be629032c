-- A customer's, a queue's or an agent's cases in urgency order: read from the front of an index
-- on the filter and the order. Given only an index on the customer, PostgreSQL walked the whole
-- urgency index for one customer's cases (2.3 s at 500,000 cases).
DROP INDEX cases_party;
CREATE INDEX cases_party ON cases (party_id, priority, resolution_due_at, id);
CREATE INDEX cases_queue_urgency ON cases (queue_id, priority, resolution_due_at, id);
CREATE INDEX cases_agent_urgency ON cases (agent_id, priority, resolution_due_at, id);
