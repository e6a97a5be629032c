-- Document numbers people quote on the phone: one counter per kind of document.
CREATE TABLE number_sequences (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
