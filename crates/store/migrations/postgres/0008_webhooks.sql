-- Webhooks (issue #18 §3): other systems (1C, messengers, a company's own) told of what changes
-- in the book. The change log is the outbox: every change is written in the same transaction as
-- the links it opens and closes, so a subscriber's deliveries are read from it — each webhook
-- keeps how far it has been delivered (`delivered`, a change id), and a worker sends the changes
-- after it, in order, then moves it on. A crash between a send and the mark sends the same
-- deliveries again (the same delivery ids), never different ones; nothing is lost while the
-- receiver is down: the changes wait in the log.
CREATE TABLE webhooks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         TEXT NOT NULL CHECK (url LIKE 'http://%' OR url LIKE 'https://%'),
    -- The events subscribed to, comma-separated (link.opened, link.closed, plan.applied, …).
    events      TEXT NOT NULL CHECK (events <> ''),
    -- The HMAC-SHA256 key of the signature header; read by allot alone, never shown again.
    secret      TEXT NOT NULL CHECK (length(secret) >= 16),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT,
    -- The last change delivered whole (the revision when the webhook was added: only later
    -- changes are sent).
    delivered   BIGINT NOT NULL,
    -- Failed tries of the next change in a row, when the next try is due (RFC 3339), and the
    -- receiver's last answer (HTTP status, or 0 when it could not be reached, and the text).
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT,
    last_status INTEGER,
    last_error  TEXT,
    last_at     TEXT,
    -- The worker sending to it until then (two servers on one store send each webhook once).
    lease_until TEXT,
    lease_by    TEXT
);

-- The links a change opened or closed are read change by change for the deliveries, by the
-- indexes `links_by_opening` (opened_by) and `links_by_closing` (closed_by), and a routing
-- batch's answers by `routes_by_change` (routed_by), for the leads left unassigned: made when the first
-- webhook is added (`Store::add_webhook`), so that a store without webhooks does not keep them
-- up to date at every apply (a first apply of 2,000,000 links takes a quarter longer with them).
