-- Model fits run as jobs. One runs at a time (the partial unique index); its progress and result
-- are kept so that GetFitJob follows it from any replica; a running job whose heartbeat stopped
-- was interrupted by a stop of its service.
CREATE TABLE model_fit_jobs (
    id             TEXT PRIMARY KEY,
    state          TEXT NOT NULL,
    as_of          TEXT NOT NULL,
    customers      BIGINT NOT NULL DEFAULT 0,
    scored         BIGINT NOT NULL DEFAULT 0,
    newly_at_risk  BIGINT NOT NULL DEFAULT 0,
    log_likelihood DOUBLE PRECISION NOT NULL DEFAULT 0,
    params         TEXT NOT NULL DEFAULT '',
    error          TEXT NOT NULL DEFAULT '',
    started_at     BIGINT NOT NULL,
    heartbeat_at   BIGINT NOT NULL,
    finished_at    BIGINT
);
CREATE UNIQUE INDEX model_fit_jobs_one_running ON model_fit_jobs (state) WHERE state = 'running';
CREATE INDEX model_fit_jobs_started ON model_fit_jobs (started_at, id);
