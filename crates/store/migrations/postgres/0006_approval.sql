-- Issue #17: plans are proposed with a comment and approved or rejected by someone else (or by the
-- same person, as the server is configured). A plan has a kind (what made it: team, import,
-- scheme, territories, api), a state (made → proposed → applied | rejected), who proposed it and
-- why, who decided and why, and the change that applied it: the log of changes shows each change's
-- plan and comments. A plan is applied and marked in one transaction.

ALTER TABLE plans ADD COLUMN kind TEXT NOT NULL DEFAULT 'team'
    CHECK (kind IN ('team', 'import', 'scheme', 'territories', 'api'));
ALTER TABLE plans ADD COLUMN state TEXT NOT NULL DEFAULT 'made'
    CHECK (state IN ('made', 'proposed', 'applied', 'rejected'));
ALTER TABLE plans ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN proposed_by TEXT;
ALTER TABLE plans ADD COLUMN proposed_at TEXT;
ALTER TABLE plans ADD COLUMN comment TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN decided_by TEXT;
ALTER TABLE plans ADD COLUMN decided_at TEXT;
ALTER TABLE plans ADD COLUMN decision TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN change_id BIGINT REFERENCES changes (id);

CREATE INDEX plans_by_state ON plans (state, made_at);
CREATE INDEX plans_by_change ON plans (change_id);
