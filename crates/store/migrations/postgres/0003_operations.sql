-- Issue #13: tokens expire on a day (exclusive: a token made `--expires 2027-01-01` works through
-- 2026-12-31); plans made over HTTP are kept and applied by id (a plan changes nothing until it is
-- applied, so it is no change of the book).

ALTER TABLE tokens ADD COLUMN expires_on DATE;

CREATE TABLE plans (
    id       TEXT PRIMARY KEY,
    body     TEXT NOT NULL,
    made_by  TEXT NOT NULL,
    made_at  TEXT NOT NULL
);
