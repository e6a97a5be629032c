-- A change of the territory rules reassigns every account in the background, a page of accounts
-- per transaction, instead of in the call that changed them (a million accounts outlast any
-- call's deadline, and a call that runs out rolls back). This one row is the run's progress: a
-- change of the rules starts it over (generation + 1, from the first account).
CREATE TABLE account_reassignment (
    id           BIGINT PRIMARY KEY,
    generation   BIGINT NOT NULL,
    after_party  TEXT NOT NULL,
    evaluated    BIGINT NOT NULL,
    reassigned   BIGINT NOT NULL,
    requested_at BIGINT NOT NULL,
    finished_at  BIGINT
);
INSERT INTO account_reassignment (id, generation, after_party, evaluated, reassigned, requested_at, finished_at)
VALUES (1, 0, '', 0, 0, 0, 0);
