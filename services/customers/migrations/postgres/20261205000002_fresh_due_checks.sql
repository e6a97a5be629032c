-- A party created by an import and not written since has no keys or links of its own yet: its
-- check only adds them, without first removing the old ones (fresh = 1).
ALTER TABLE duplicate_check_due ADD COLUMN fresh BIGINT NOT NULL DEFAULT 0;
