-- Outbox rows the broker keeps refusing (a payload over its size limit, say) are set aside, so
-- that the events after them flow; an operator looks at them by this column.
ALTER TABLE crm_outbox ADD COLUMN parked_at BIGINT;
