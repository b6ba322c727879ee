-- Consumers, their tiers and API keys (stored only as SHA-256), and daily usage.
CREATE TABLE tiers (
    name        text PRIMARY KEY,
    per_minute  bigint CHECK (per_minute > 0),
    per_day     bigint CHECK (per_day > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consumers (
    id          text PRIMARY KEY,
    tier        text NOT NULL REFERENCES tiers (name) ON UPDATE CASCADE,
    description text NOT NULL DEFAULT '',
    disabled    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    consumer_id  text NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    prefix       text NOT NULL,
    scopes       text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_by_consumer ON api_keys (consumer_id);

-- JWT consumers are not rows of `consumers`, so usage keeps the id without a foreign key.
CREATE TABLE usage_daily (
    consumer_id text NOT NULL,
    day         date NOT NULL,
    service     text NOT NULL,
    requests    bigint NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (consumer_id, day, service)
);
