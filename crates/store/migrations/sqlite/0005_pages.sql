-- The workspace's pages on a big book (issue #16): a page of an employee's clients is read from
-- an index, not sorted out of the whole book.
--
-- `links.client_id`: the client's id beside its key. A client's id never changes (it is what an
-- import matches on), so the copy cannot go stale; it lets an employee's links be kept in
-- client-id order by an index. Written by the statement that opens a link.
ALTER TABLE links ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE links SET client_id = (SELECT id FROM clients WHERE key = links.client);

-- An employee's links in client-id order with what a page filters by: page N of 140,000 clients,
-- and their count, are read from this index alone, and so are the links a change since the last
-- visit opened or closed (Home). It serves every query the narrower `links_by_employee` did.
DROP INDEX links_by_employee;
CREATE INDEX links_held ON links (employee, client_id, role, valid_from, valid_to, opened_by, closed_by);

-- The first change since a moment (Home: what changed since my last visit).
CREATE INDEX changes_by_time ON changes (made_at);

-- `find`: the client's id and name, case-folded (`allot_fold`, Unicode), kept by every statement
-- that writes a client, so that a search reads one short column instead of parsing each client's
-- attributes. Written by allot's own connections only (the function is allot's).
ALTER TABLE clients ADD COLUMN find TEXT NOT NULL DEFAULT '';
UPDATE clients SET find = allot_fold(id || ' ' || coalesce(attrs ->> 'name', ''));
