-- Real-time routing (allot serve): routed items with their idempotency keys, the fair-share
-- counters of each pool, the keys that recognise a returning client, and API tokens (hashed).

CREATE INDEX changes_by_kind ON changes (kind, id);

CREATE TABLE routes (
    id           INTEGER PRIMARY KEY,
    idem_key     TEXT UNIQUE,
    request_hash TEXT NOT NULL,
    client       INTEGER NOT NULL REFERENCES clients (key),
    response     TEXT NOT NULL,
    routed_by    INTEGER NOT NULL REFERENCES changes (id)
);

CREATE TABLE pools (
    rule    TEXT PRIMARY KEY,
    state   TEXT NOT NULL CHECK (json_valid(state)),
    changed INTEGER NOT NULL REFERENCES changes (id)
);

-- `id`, `inn`, `email_domain`, `phone` (digits): one client per key, the newest.
CREATE TABLE client_keys (
    kind   TEXT NOT NULL,
    value  TEXT NOT NULL,
    client INTEGER NOT NULL REFERENCES clients (key),
    PRIMARY KEY (kind, value)
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    scope      TEXT NOT NULL CHECK (scope IN ('admin', 'manager', 'employee', 'router')),
    employee   INTEGER REFERENCES employees (key),
    label      TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES changes (id),
    revoked_by INTEGER REFERENCES changes (id),
    CHECK (scope NOT IN ('manager', 'employee') OR employee IS NOT NULL)
);
