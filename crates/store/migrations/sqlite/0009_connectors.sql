-- Connectors (issue #18): subscribers to the change log beside the webhooks, kept in the same
-- table — how far each has been told (`delivered`), its tries, its last answer and its lease:
--   * `bitrix24`: a portal written the book's owners (ASSIGNED_BY_ID and the roles' fields). Its
--     address is the portal's, without the key (the key is the server's, from its environment).
--   * `amocrm`: an amoCRM account written the owners (responsible_user_id); `secret` holds its
--     OAuth 2 token pair, refreshed by the server and kept here at once (a refresh voids the
--     old refresh token).
--   * `notify`: the people told that clients became theirs (e-mail, or the portal's own
--     notifications). Its address names the mail server (`smtp://HOST:PORT`) or the portal.
-- `secret` signs a webhook's deliveries; a connector other than amoCRM's keeps nothing in it. SQLite cannot change a
-- column's CHECK in place: the table is made again with the rows it holds.
CREATE TABLE webhooks_0009 (
    id          INTEGER PRIMARY KEY,
    -- `http` (a webhook), `bitrix24` or `notify` (a connector).
    kind        TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'bitrix24', 'amocrm', 'notify')),
    url         TEXT NOT NULL CHECK (kind <> 'http' OR url LIKE 'http://%' OR url LIKE 'https://%'),
    events      TEXT NOT NULL CHECK (events <> ''),
    secret      TEXT NOT NULL CHECK (length(secret) >= 16),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT,
    delivered   BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT,
    last_status INTEGER,
    last_error  TEXT,
    last_at     TEXT,
    lease_until TEXT,
    lease_by    TEXT,
    -- When the CRM's records were last read whole or in part (RFC 3339, UTC): the next
    -- `allot crm pull` reads only those modified since (DATE_MODIFY).
    pulled_at   TEXT
);
INSERT INTO webhooks_0009 (id, url, events, secret, created_by, created_at, removed_by, removed_at, delivered, attempts, next_at,
                           last_status, last_error, last_at, lease_until, lease_by)
SELECT id, url, events, secret, created_by, created_at, removed_by, removed_at, delivered, attempts, next_at,
       last_status, last_error, last_at, lease_until, lease_by
FROM webhooks;
DROP TABLE webhooks;
ALTER TABLE webhooks_0009 RENAME TO webhooks;
-- One connector of each kind.
CREATE UNIQUE INDEX connectors_one_per_kind ON webhooks (kind) WHERE kind <> 'http' AND removed_at IS NULL;

-- The change that ended an absence early (`allot absent --end`, the workspace's Absences): the
-- webhooks' `absence.ended` is read from it.
ALTER TABLE absences ADD COLUMN ended_by BIGINT REFERENCES changes (id);

-- A routed lead left with nobody in a role longer than the scheme's `[notify] unassigned_after`:
-- the managers were told of it once (issue #18 §4). A server claims a lead here before it tells
-- (two servers on one store tell once); a letter that could not be sent gives its claim back.
CREATE TABLE lead_alerts (
    client     BIGINT NOT NULL REFERENCES clients (key),
    role       TEXT NOT NULL,
    alerted_at TEXT NOT NULL,
    PRIMARY KEY (client, role)
);
