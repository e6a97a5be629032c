-- no-transaction
-- The notifications of one status, newest first, a page from its position on (ListNotifications
-- by status without a recipient: the failed ones, say): by the index of every notification in
-- time order, a rare status was found by walking all the others. PostgreSQL builds it
-- concurrently, so that the table stays writable meanwhile: hence a migration of its own, outside
-- a transaction. A build that fails leaves an invalid index, to drop before running the
-- migration again.
CREATE INDEX CONCURRENTLY notifications_status_page ON notifications (status, created_at, id);
