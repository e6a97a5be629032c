-- SLA targets per customer tier ('' = any tier without its own) and priority.
CREATE TABLE sla_policies (
    tier               TEXT NOT NULL,
    priority           BIGINT NOT NULL,
    response_minutes   BIGINT NOT NULL,
    resolution_minutes BIGINT NOT NULL,
    PRIMARY KEY (tier, priority)
);
