CREATE INDEX notes_party ON notes (party_id);
