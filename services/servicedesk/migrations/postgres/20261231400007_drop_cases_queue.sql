-- no-transaction
-- `cases_queue_id`, `cases_queue_urgency` and `cases_queue_open` serve every read of a queue's
-- cases that `cases_queue` (queue, status) served, so a case write keeps the same number of
-- indexes.
DROP INDEX CONCURRENTLY IF EXISTS cases_queue;
