-- The workspace's pages on a big book (issue #16): a page of an employee's clients is read from
-- an index, not sorted out of the whole book.
--
-- `links.client_id`: the client's id beside its key. A client's id never changes (it is what an
-- import matches on), so the copy cannot go stale; it lets an employee's links be kept in
-- client-id order by an index. Written by the statement that opens a link.
ALTER TABLE links ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE links SET client_id = (SELECT id FROM clients WHERE key = links.client);

-- An employee's links per role in client-id order with what a page filters by: page N of 140,000
-- clients, and their count, are read from this index alone (sorted from it, across roles), the
-- loads per employee and role are counted from it in its order, and so are the links a change since the last
-- visit opened or closed (Home). It serves every query the narrower `links_by_employee` did.
DROP INDEX links_by_employee;
CREATE INDEX links_held ON links (employee, role, client_id, valid_from, valid_to, opened_by, closed_by);

-- The first change since a moment (Home: what changed since my last visit).
CREATE INDEX changes_by_time ON changes (made_at);

-- `find`: the client's id and name, case-folded (`allot_fold`, Unicode), kept by every statement
-- that writes a client, so that a search reads one short column instead of parsing each client's
-- attributes. Written by allot's own connections only (the function is allot's).
ALTER TABLE clients ADD COLUMN find TEXT NOT NULL DEFAULT '';
UPDATE clients SET find = allot_fold(id || ' ' || coalesce(attrs ->> 'name', ''));

-- How many links each employee holds in each role on any day, without counting the book: each
-- link adds 1 on its first day and takes 1 away on the day it ends; the holdings on day D are the
-- sum of the changes up to D (the Team page's loads); rows are few (employee × role × day of a
-- change). A link opened is counted by the one statement that opens links (`Tx::open_links`, a
-- batch at a time: a trigger per row would double the time of a first load of millions), a link
-- closed or re-dated by the trigger below, whatever statement does it.
CREATE TABLE held_counts (
    employee INTEGER NOT NULL REFERENCES employees (key),
    role     TEXT NOT NULL,
    day      TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    delta    INTEGER NOT NULL,
    PRIMARY KEY (employee, role, day)
) WITHOUT ROWID;

INSERT INTO held_counts (employee, role, day, delta)
SELECT employee, role, day, sum(d) FROM (
    SELECT employee, role, valid_from AS day, 1 AS d FROM links
    UNION ALL
    SELECT employee, role, valid_to, -1 FROM links WHERE valid_to IS NOT NULL
) GROUP BY employee, role, day;

CREATE TRIGGER links_held_redated AFTER UPDATE OF valid_from, valid_to ON links
WHEN old.valid_from IS NOT new.valid_from OR old.valid_to IS NOT new.valid_to BEGIN
    INSERT INTO held_counts (employee, role, day, delta) VALUES (old.employee, old.role, old.valid_from, -1)
        ON CONFLICT (employee, role, day) DO UPDATE SET delta = delta - 1;
    INSERT INTO held_counts (employee, role, day, delta) SELECT old.employee, old.role, old.valid_to, 1 WHERE old.valid_to IS NOT NULL
        ON CONFLICT (employee, role, day) DO UPDATE SET delta = delta + 1;
    INSERT INTO held_counts (employee, role, day, delta) VALUES (new.employee, new.role, new.valid_from, 1)
        ON CONFLICT (employee, role, day) DO UPDATE SET delta = delta + 1;
    INSERT INTO held_counts (employee, role, day, delta) SELECT new.employee, new.role, new.valid_to, -1 WHERE new.valid_to IS NOT NULL
        ON CONFLICT (employee, role, day) DO UPDATE SET delta = delta - 1;
END;
