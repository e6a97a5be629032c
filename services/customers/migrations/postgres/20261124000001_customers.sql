-- Parties: people and organizations in one table with a kind.
CREATE TABLE parties (
    id                         TEXT PRIMARY KEY,
    kind                       BIGINT NOT NULL,
    display_name               TEXT NOT NULL,
    name_key                   TEXT NOT NULL,
    given_name                 TEXT NOT NULL DEFAULT '',
    family_name                TEXT NOT NULL DEFAULT '',
    organization_name          TEXT NOT NULL DEFAULT '',
    industry                   TEXT NOT NULL DEFAULT '',
    company_size               BIGINT NOT NULL DEFAULT 0,
    region_code                TEXT NOT NULL DEFAULT '',
    attributes                 TEXT NOT NULL DEFAULT '{}',
    owner_id                   TEXT NOT NULL DEFAULT '',
    team_id                    TEXT NOT NULL DEFAULT '',
    source                     TEXT NOT NULL DEFAULT '',
    birth_date                 TEXT NOT NULL DEFAULT '',
    lifecycle_stage            BIGINT NOT NULL,
    status                     BIGINT NOT NULL,
    merged_into_id             TEXT,
    lifetime_revenue_minor     BIGINT NOT NULL DEFAULT 0,
    trailing_12m_revenue_minor BIGINT NOT NULL DEFAULT 0,
    currency_code              TEXT NOT NULL,
    contribution_rank          BIGINT NOT NULL DEFAULT 0,
    tier                       TEXT NOT NULL DEFAULT '',
    version                    BIGINT NOT NULL,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    verified_at                BIGINT NOT NULL,
    erased_at                  BIGINT
);
CREATE INDEX parties_status_id ON parties (status, id);
CREATE INDEX parties_name_key ON parties (name_key);
CREATE INDEX parties_owner ON parties (owner_id);
CREATE INDEX parties_team ON parties (team_id);
CREATE INDEX parties_region ON parties (region_code);
CREATE INDEX parties_tier ON parties (tier);
CREATE INDEX parties_verified ON parties (verified_at);

CREATE TABLE contact_points (
    id         TEXT PRIMARY KEY,
    party_id   TEXT NOT NULL REFERENCES parties (id),
    kind       BIGINT NOT NULL,
    value      TEXT NOT NULL,
    normalized TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    is_primary BIGINT NOT NULL DEFAULT 0,
    position   BIGINT NOT NULL
);
CREATE INDEX contact_points_party ON contact_points (party_id);
CREATE INDEX contact_points_normalized ON contact_points (kind, normalized);

CREATE TABLE party_tags (
    party_id TEXT NOT NULL REFERENCES parties (id),
    tag      TEXT NOT NULL,
    PRIMARY KEY (party_id, tag)
);
CREATE INDEX party_tags_tag ON party_tags (tag);

CREATE TABLE relationships (
    id            TEXT PRIMARY KEY,
    from_party_id TEXT NOT NULL REFERENCES parties (id),
    to_party_id   TEXT NOT NULL REFERENCES parties (id),
    type          BIGINT NOT NULL,
    custom_type   TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    since         TEXT NOT NULL DEFAULT '',
    until         TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL
);
CREATE INDEX relationships_from ON relationships (from_party_id);
CREATE INDEX relationships_to ON relationships (to_party_id);

CREATE TABLE competitors (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    website    TEXT NOT NULL DEFAULT '',
    strengths  TEXT NOT NULL DEFAULT '[]',
    weaknesses TEXT NOT NULL DEFAULT '[]',
    notes      TEXT NOT NULL DEFAULT '',
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_code TEXT NOT NULL DEFAULT ''
);

-- Who changed what, when. Written in the same transaction as the change.
CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    at          BIGINT NOT NULL,
    changes     TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_id, seq);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
