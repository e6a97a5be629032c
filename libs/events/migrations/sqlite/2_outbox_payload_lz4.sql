-- PostgreSQL only (LZ4 compression of outbox payloads); SQLite does not compress values. Kept so
-- that both backends have the same migration versions.
SELECT 1;
