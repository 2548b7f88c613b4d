-- CRM connectors (issue #18 §1): a portal that is written the book's owners (Bitrix24's
-- ASSIGNED_BY_ID and role fields) is told of the changes as a webhook is — it keeps how far it
-- has been written (`delivered`), its tries, its last answer and its lease in the same row, and
-- `allot outbox` shows it beside the webhooks. Its address is the portal's (no key: the key is
-- the server's, from its environment); `secret` is unused by it.
ALTER TABLE webhooks ADD COLUMN kind TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'bitrix24'));
-- When the portal's records were last read whole or in part (RFC 3339, UTC): the next
-- `allot crm pull` reads only those modified since (DATE_MODIFY).
ALTER TABLE webhooks ADD COLUMN pulled_at TEXT;
-- One connector per CRM.
CREATE UNIQUE INDEX connectors_one_per_kind ON webhooks (kind) WHERE kind <> 'http' AND removed_at IS NULL;
