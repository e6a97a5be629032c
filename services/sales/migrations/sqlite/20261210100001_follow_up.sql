-- Alerts name the owner's manager, who coaches on them and is notified with the owner.
ALTER TABLE alerts ADD COLUMN manager_id TEXT NOT NULL DEFAULT '';

-- Follow-up work: tasks with a due time and an optional reminder, about a customer, an
-- opportunity or a case.
CREATE TABLE tasks (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    notes          TEXT NOT NULL DEFAULT '',
    owner_id       TEXT NOT NULL,
    party_id       TEXT NOT NULL DEFAULT '',
    opportunity_id TEXT NOT NULL DEFAULT '',
    case_id        TEXT NOT NULL DEFAULT '',
    due_at         BIGINT NOT NULL,
    remind_at      BIGINT,
    -- The reminder still to send (cleared once sent or when the task is closed).
    reminder_due_at BIGINT,
    status         BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    completed_at   BIGINT,
    version        BIGINT NOT NULL
);
-- A person's list and a customer's, open first and by due time.
CREATE INDEX tasks_owner ON tasks (owner_id, status, due_at, id);
CREATE INDEX tasks_party ON tasks (party_id, status, due_at, id);
CREATE INDEX tasks_reminders ON tasks (reminder_due_at) WHERE reminder_due_at IS NOT NULL;

-- A customer's quotes (the customer 360 shows the open ones).
CREATE INDEX quotes_party ON quotes (party_id, number, revision);

-- The campaign code an order redeemed (marketing counts it as the campaign's response).
ALTER TABLE orders ADD COLUMN campaign_code TEXT NOT NULL DEFAULT '';

-- Unit costs of products and what orders cost, for the gross margin customers rank by.
ALTER TABLE products ADD COLUMN cost_minor BIGINT;
ALTER TABLE products ADD COLUMN cost_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN cost_minor BIGINT NOT NULL DEFAULT 0;
