-- Connectors (issue #18): subscribers to the change log beside the webhooks, kept in the same
-- table — how far each has been told (`delivered`), its tries, its last answer and its lease:
--   * `bitrix24`: a portal written the book's owners (ASSIGNED_BY_ID and the roles' fields). Its
--     address is the portal's, without the key (the key is the server's, from its environment).
--   * `amocrm`: an amoCRM account written the owners (responsible_user_id); `secret` holds its
--     OAuth 2 token pair, refreshed by the server and kept here at once (a refresh voids the
--     old refresh token).
--   * `notify`: the people told that clients became theirs (e-mail, or the portal's own
--     notifications). Its address names the mail server (`smtp://HOST:PORT`) or the portal.
-- `secret` signs a webhook's deliveries; a connector other than amoCRM's keeps nothing in it.
ALTER TABLE webhooks ADD COLUMN kind TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'bitrix24', 'amocrm', 'notify'));
ALTER TABLE webhooks DROP CONSTRAINT webhooks_url_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_url_check CHECK (kind <> 'http' OR url LIKE 'http://%' OR url LIKE 'https://%');
-- When the CRM's records were last read whole or in part (RFC 3339, UTC): the next
-- `allot crm pull` reads only those modified since (DATE_MODIFY).
ALTER TABLE webhooks ADD COLUMN pulled_at TEXT;
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
