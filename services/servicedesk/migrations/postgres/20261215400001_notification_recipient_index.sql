-- no-transaction
-- ListNotifications of one recipient, newest first, and the rewrite of a merged or erased
-- customer's notifications: without an index each walked the whole table, which grows by a row
-- for every message a campaign sends.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY notifications_recipient ON notifications (recipient, created_at, id);
