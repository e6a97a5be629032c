-- Enough rows that building an index takes a moment while the other replicas wait.
CREATE TABLE notes (id BIGINT PRIMARY KEY, party_id TEXT NOT NULL);
INSERT INTO notes SELECT g, 'party-' || g FROM generate_series(1, 200000) g;
