-- no-transaction
CREATE INDEX CONCURRENTLY notes_party ON notes (party_id);
