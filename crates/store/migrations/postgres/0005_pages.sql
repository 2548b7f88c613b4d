-- The workspace's pages on a big book (issue #16): a page of an employee's clients is read from
-- an index, not sorted out of the whole book.
--
-- `links.client_id`: the client's id beside its key. A client's id never changes (it is what an
-- import matches on), so the copy cannot go stale; it lets an employee's links be kept in
-- client-id order by an index. Written by the statement that opens a link.
ALTER TABLE links ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE links l SET client_id = c.id FROM clients c WHERE c.key = l.client;

-- An employee's links in client-id order with what a page filters by: page N of 140,000 clients,
-- and their count, are read from this index alone (an index-only scan: the link's id and client
-- key ride along), and so are the links a change since the last visit opened or closed (Home).
-- It serves every query the narrower `links_by_employee` did.
DROP INDEX links_by_employee;
CREATE INDEX links_held ON links (employee, client_id COLLATE "C", role COLLATE "C", valid_from, valid_to, opened_by, closed_by)
    INCLUDE (id, client);

-- The first change since a moment (Home: what changed since my last visit).
CREATE INDEX changes_by_time ON changes (made_at);

-- `find`: the client's id and name, case-folded, kept by the database itself; beside the key in an
-- index, so that searching an employee's clients reads no client row.
ALTER TABLE clients ADD COLUMN find TEXT GENERATED ALWAYS AS (lower(id || ' ' || coalesce(attrs ->> 'name', ''))) STORED;
CREATE INDEX clients_find ON clients (key) INCLUDE (find);
