-- Failures of an event in a consumer that say something about the event (it cannot be applied
-- as it is), counted toward parking it on the dead-letter subject. Failures that may pass by
-- themselves (the database unreachable, a lock conflict) are not counted: the consumer pauses
-- and tries again for as long as it takes.
CREATE TABLE crm_event_failures (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    failed_at  BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
