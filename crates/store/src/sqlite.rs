//! The embedded store: one SQLite file (WAL, `synchronous=FULL`, foreign keys on).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::*;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "book", include_str!("../migrations/sqlite/0001_book.sql")),
    (2, "routing", include_str!("../migrations/sqlite/0002_routing.sql")),
    (3, "operations", include_str!("../migrations/sqlite/0003_operations.sql")),
];

/// Frames (pages of 4 KiB) the write-ahead log may grow to before the writer itself checkpoints
/// it, so that it starts over: 64 MiB (see [`Store::checkpoint`]).
pub const WAL_FRAMES_LIMIT: i64 = 16_384;

pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens the file, creating and migrating it on first use.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let url = format!("sqlite:{}", path.display());
        let fail = |e: rusqlite::Error| StoreError::Open { url: url.clone(), message: e.to_string() };
        let mut conn = Connection::open(path).map_err(fail)?;
        // WAL: readers never block the writer; FULL: a commit is on disk when it returns.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(fail)?;
        // Reads map the file instead of copying it page by page (a plan reads all of it).
        conn.pragma_update(None, "mmap_size", 1i64 << 32).map_err(fail)?;
        // Checkpoint the WAL every ~16 MB rather than every 4 MB: fewer syncs of the main file
        // under a stream of small commits (routing), same durability.
        conn.pragma_update(None, "wal_autocheckpoint", 4_000).map_err(fail)?;
        // After a checkpoint starts the log over, the file is cut back to this size.
        conn.pragma_update(None, "journal_size_limit", WAL_FRAMES_LIMIT * 4096).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(fail)?;
        migrate(&mut conn).map_err(|e| StoreError::Open { url: url.clone(), message: e.to_string() })?;
        Ok(SqliteStore { conn })
    }

    fn write(&mut self) -> Result<Transaction<'_>> {
        // IMMEDIATE takes the write lock first, so the revision read inside cannot go stale.
        Ok(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    fn read(&mut self, date: Day, what: Reading) -> Result<Snapshot> {
        let _span = tracing::info_span!("snapshot").entered();
        let full = what != Reading::People;
        let d = day_text(date);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut s = Snapshot {
            revision: revision_of(&tx)?,
            date,
            client_columns: columns_of(&tx, Subject::Client)?,
            deal_columns: columns_of(&tx, Subject::Deal)?,
            employee_columns: columns_of(&tx, Subject::Employee)?,
            ..Default::default()
        };
        for (table, out) in [("clients", &mut s.clients), ("employees", &mut s.employees)] {
            if table == "clients" && !full {
                continue;
            }
            let mut st = tx.prepare(&format!("SELECT key, id, attrs FROM {table} ORDER BY key"))?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                out.push(Stored { key: r.get(0)?, id: r.get(1)?, attrs: r.get(2)?, client: None });
            }
        }
        {
            let mut st = tx.prepare("SELECT key, id, attrs, client FROM deals WHERE ?1 ORDER BY key")?;
            let mut rows = st.query([what == Reading::Everything])?;
            while let Some(r) = rows.next()? {
                s.deals.push(Stored { key: r.get(0)?, id: r.get(1)?, attrs: r.get(2)?, client: Some(r.get(3)?) });
            }
        }
        s.scheme = tx
            .query_row("SELECT version, text FROM schemes ORDER BY version DESC LIMIT 1", [], |r| {
                Ok(SchemeVersion { version: r.get(0)?, text: r.get(1)? })
            })
            .optional()?;
        {
            let mut st = tx.prepare(
                "SELECT id, client, role, employee, valid_from, valid_to, cause, rule, scheme, note, absence FROM links \
                 WHERE ?2 AND (valid_to IS NULL OR ((?1 IS NULL OR valid_to > ?1) AND valid_to > valid_from))",
            )?;
            let mut rows = st.query(params![d, full])?;
            while let Some(r) = rows.next()? {
                s.links.push(Link {
                    id: r.get(0)?,
                    client: r.get(1)?,
                    role: r.get(2)?,
                    employee: r.get(3)?,
                    from: text_day(&r.get::<_, String>(4)?)?,
                    to: opt_day(r.get(5)?)?,
                    cause: Cause::parse(&r.get::<_, String>(6)?)?,
                    rule: r.get(7)?,
                    scheme: r.get(8)?,
                    note: r.get(9)?,
                    absence: r.get(10)?,
                });
            }
            let mut st = tx.prepare(
                "SELECT DISTINCT client, role FROM links WHERE ?2 AND valid_to IS NOT NULL AND valid_to <= ?1 AND valid_to > valid_from \
                 ORDER BY client, role",
            )?;
            let rows = st.query_map(params![d, full], |r| Ok((r.get(0)?, r.get(1)?)))?;
            s.past = rows.collect::<rusqlite::Result<_>>()?;
            let mut st = tx.prepare("SELECT id, client, role, employee, reason FROM pins WHERE unpinned_by IS NULL ORDER BY id")?;
            let rows = st
                .query_map([], |r| Ok(Pin { id: r.get(0)?, client: r.get(1)?, role: r.get(2)?, employee: r.get(3)?, reason: r.get(4)? }))?;
            s.pins = rows.collect::<rusqlite::Result<_>>()?;
            let mut st = tx.prepare("SELECT id, employee, first_day, last_day, cover, applied_by IS NOT NULL FROM absences ORDER BY id")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.absences.push(Absence {
                    id: r.get(0)?,
                    employee: r.get(1)?,
                    first: text_day(&r.get::<_, String>(2)?)?,
                    last: text_day(&r.get::<_, String>(3)?)?,
                    cover: r.get(4)?,
                    applied: r.get(5)?,
                });
            }
            let mut st = tx.prepare("SELECT id, employee, left_on, applied_by IS NOT NULL FROM leavers ORDER BY id")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.leavers.push(Leaver { id: r.get(0)?, employee: r.get(1)?, on: text_day(&r.get::<_, String>(2)?)?, applied: r.get(3)? });
            }
        }
        tx.commit()?;
        Ok(s)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // Up to date (the common case): no write lock, so opening never waits for a writer.
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    let current: Option<i64> = conn.query_row("SELECT coalesce(max(version), 0) FROM allot_migrations", [], |r| r.get(0)).ok();
    if let Some(v) = current.filter(|&v| v > newest) {
        return Err(crate::newer_schema(v, newest));
    }
    if current.is_some_and(|v| v >= newest) {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS allot_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    for &(version, name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: Option<i64> =
            tx.query_row("SELECT version FROM allot_migrations WHERE version = ?1", [version], |r| r.get(0)).optional()?;
        if done.is_none() {
            tracing::info!(version, name, "migrating the SQLite store");
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO allot_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                params![version, name],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

fn add_change(tx: &Transaction<'_>, kind: &str, actor: &Actor, file: Option<&str>, summary: &str) -> Result<i64> {
    tx.execute(
        "INSERT INTO changes (kind, made_by, made_at, file, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![kind, actor.by, actor.at, file, summary],
    )?;
    Ok(tx.last_insert_rowid())
}

fn revision_of(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT coalesce(max(id), 0) FROM changes", [], |r| r.get(0))?)
}

fn last_change(conn: &Connection) -> Result<Option<Change>> {
    Ok(conn
        .query_row("SELECT id, kind, made_by, made_at, file, summary FROM changes ORDER BY id DESC LIMIT 1", [], change_row)
        .optional()?)
}

fn change_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    Ok(Change { id: r.get(0)?, kind: r.get(1)?, by: r.get(2)?, at: r.get(3)?, file: r.get(4)?, summary: r.get(5)? })
}

fn key_of(tx: &Connection, table: &'static str, what: &'static str, id: &str) -> Result<i64> {
    let sql = format!("SELECT key FROM {table} WHERE id = ?1");
    tx.query_row(&sql, [id], |r| r.get(0)).optional()?.ok_or_else(|| StoreError::NotFound { what, id: id.to_string() })
}

fn columns_of(conn: &Connection, subject: Subject) -> Result<Vec<Column>> {
    let mut st = conn.prepare_cached("SELECT name, type FROM attributes WHERE subject = ?1 ORDER BY position")?;
    let rows = st.query_map([subject.as_str()], |r| Ok(Column { name: r.get(0)?, ty: r.get(1)? }))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A text cell, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    Ok(r.get_ref(i)?.as_str()?)
}

fn opt_day(s: Option<String>) -> Result<Option<Day>> {
    s.as_deref().map(text_day).transpose()
}

const SPELL_SELECT: &str = "SELECT c.id, l.role, e.id, l.valid_from, l.valid_to, l.cause, l.rule, l.scheme, l.note, \
     o.made_by, o.made_at, x.made_by, x.made_at \
     FROM links l JOIN clients c ON c.key = l.client JOIN employees e ON e.key = l.employee \
     JOIN changes o ON o.id = l.opened_by LEFT JOIN changes x ON x.id = l.closed_by";

fn spells(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<Spell>> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Spell {
            client: r.get(0)?,
            role: r.get(1)?,
            employee: r.get(2)?,
            from: text_day(&r.get::<_, String>(3)?)?,
            to: opt_day(r.get(4)?)?,
            cause: Cause::parse(&r.get::<_, String>(5)?)?,
            rule: r.get(6)?,
            scheme: r.get(7)?,
            note: r.get(8)?,
            opened_by: r.get(9)?,
            opened_at: r.get(10)?,
            closed_by: r.get(11)?,
            closed_at: r.get(12)?,
        });
    }
    Ok(out)
}

/// (link id, employee key) of a link valid on a day.
type Held = Option<(i64, i64)>;

/// The link of (client, role) valid on `date`, and the start of the next scheduled one.
fn link_at(tx: &Connection, client: i64, role: &str, date: &str) -> Result<(Held, Option<String>)> {
    let cur = tx
        .query_row(
            "SELECT id, employee FROM links WHERE client = ?1 AND role = ?2 AND valid_from <= ?3 \
             AND (valid_to IS NULL OR valid_to > ?3) ORDER BY valid_from DESC, id DESC LIMIT 1",
            params![client, role, date],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let next = tx.query_row(
        "SELECT min(valid_from) FROM links WHERE client = ?1 AND role = ?2 AND valid_from > ?3 \
         AND (valid_to IS NULL OR valid_to > valid_from)",
        params![client, role, date],
        |r| r.get(0),
    )?;
    Ok((cur, next))
}

struct SqliteRouteTx<'a> {
    tx: &'a Transaction<'a>,
    change: i64,
    recorded: u64,
}

impl RouteTx for SqliteRouteTx<'_> {
    fn change(&self) -> i64 {
        self.change
    }
    fn replays(&mut self, keys: &[String]) -> Result<Vec<Replay>> {
        let mut st = self.tx.prepare_cached("SELECT request_hash, response FROM routes WHERE idem_key = ?1")?;
        let mut out = Vec::new();
        for k in keys {
            if let Some((h, r)) = st.query_row([k], |r| Ok((r.get(0)?, r.get(1)?))).optional()? {
                out.push(Replay { key: k.clone(), hash: h, response: r });
            }
        }
        Ok(out)
    }
    fn find_clients(&mut self, kind: &str, values: &[String]) -> Result<Vec<FoundClient>> {
        let sql = if kind == "id" {
            "SELECT key, id FROM clients WHERE id = ?2 AND ?1 = 'id'"
        } else {
            "SELECT c.key, c.id FROM client_keys k JOIN clients c ON c.key = k.client WHERE k.kind = ?1 AND k.value = ?2"
        };
        let mut st = self.tx.prepare_cached(sql)?;
        let mut out = Vec::new();
        for v in values {
            if let Some((key, id)) = st.query_row([kind, v.as_str()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).optional()? {
                out.push(FoundClient { value: v.clone(), key, id });
            }
        }
        Ok(out)
    }
    fn owners(&mut self, client: i64, date: Day) -> Result<Vec<Holder>> {
        let mut st = self.tx.prepare_cached(
            "SELECT role, employee, rule FROM links WHERE client = ?1 AND valid_from <= ?2 AND (valid_to IS NULL OR valid_to > ?2) ORDER BY role",
        )?;
        let rows =
            st.query_map(params![client, day_text(date)], |r| Ok(Holder { role: r.get(0)?, employee: r.get(1)?, rule: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
    fn client_attrs(&mut self, clients: &[i64]) -> Result<Vec<ClientAttrs>> {
        let mut st = self.tx.prepare_cached("SELECT key, attrs FROM clients WHERE key = ?1")?;
        let mut out = Vec::new();
        for c in clients {
            if let Some(row) = st.query_row([c], |r| Ok(ClientAttrs { key: r.get(0)?, attrs: r.get(1)? })).optional()? {
                out.push(row);
            }
        }
        Ok(out)
    }
    fn find_deals(&mut self, ids: &[String]) -> Result<Vec<String>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM deals WHERE id = ?1")?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(found) = st.query_row([id], |r| r.get(0)).optional()? {
                out.push(found);
            }
        }
        Ok(out)
    }
    fn pools(&mut self) -> Result<Vec<PoolRow>> {
        let mut st = self.tx.prepare_cached("SELECT rule, state FROM pools ORDER BY rule")?;
        let rows = st.query_map([], |r| Ok(PoolRow { rule: r.get(0)?, state: r.get(1)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
    fn save_pool(&mut self, rule: &str, state: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO pools (rule, state, changed) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (rule) DO UPDATE SET state = excluded.state, changed = excluded.changed",
            )?
            .execute(params![rule, state, self.change])?;
        Ok(())
    }
    fn write(&mut self, w: &RouteWrites) -> Result<()> {
        let mut keys = Vec::with_capacity(w.clients.len());
        {
            let mut add = self.tx.prepare_cached(
                "INSERT INTO clients (id, attrs, imported_by) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET attrs = json_patch(clients.attrs, ?2), imported_by = ?3 RETURNING key",
            )?;
            let mut k = self.tx.prepare_cached(
                "INSERT INTO client_keys (kind, value, client) VALUES (?1, ?2, ?3) ON CONFLICT (kind, value) DO UPDATE SET client = excluded.client",
            )?;
            for c in &w.clients {
                let key: i64 = add.query_row(params![c.id, c.attrs, self.change], |r| r.get(0))?;
                for (kind, value) in &c.keys {
                    k.execute(params![kind, value, key])?;
                }
                keys.push(key);
            }
        }
        let resolve = |c: ClientRef| match c {
            ClientRef::Stored(k) => Ok(k),
            ClientRef::New(i) => keys.get(i).copied().ok_or_else(|| StoreError::Db(format!("routing wrote no client {i}"))),
        };
        let mut deal = self.tx.prepare_cached("INSERT INTO deals (id, client, attrs, imported_by) VALUES (?1, ?2, ?3, ?4)")?;
        for d in &w.deals {
            deal.execute(params![d.id, d.client, d.attrs, self.change])?;
        }
        let mut open = self.tx.prepare_cached(
            "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, rule, scheme, note, absence, opened_by, closed_by) \
             VALUES (?1, ?2, (SELECT several FROM roles WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
             CASE WHEN ?5 IS NULL THEN NULL ELSE ?11 END)",
        )?;
        for (c, o) in &w.links {
            open.execute(params![
                resolve(*c)?,
                o.role,
                o.employee,
                day_text(o.from),
                o.to.map(day_text),
                o.cause.as_str(),
                o.rule,
                o.scheme,
                o.note,
                o.absence,
                self.change
            ])?;
        }
        let mut rec = self
            .tx
            .prepare_cached("INSERT INTO routes (idem_key, request_hash, client, response, routed_by) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for r in &w.routed {
            rec.execute(params![r.key, r.hash, resolve(r.client)?, r.response, self.change])?;
            self.recorded += 1;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn route(&mut self, actor: &Actor, roles: &[String], work: &mut RouteWork<'_>) -> Result<i64> {
        let tx = self.write()?;
        let change = add_change(&tx, "route", actor, None, "")?;
        for role in roles {
            tx.prepare_cached("INSERT INTO roles (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")?.execute([role])?;
        }
        let mut rtx = SqliteRouteTx { tx: &tx, change, recorded: 0 };
        work(&mut rtx)?;
        let n = rtx.recorded;
        tx.prepare_cached("UPDATE changes SET summary = ?1 WHERE id = ?2")?.execute(params![format!("{n} items routed"), change])?;
        tx.commit()?;
        Ok(change)
    }

    fn defer_checkpoints(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<i64> {
        // PASSIVE: copies the frames no reader needs, never waits for (or blocks) the writer.
        Ok(self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?)
    }

    fn routing_revision(&mut self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT coalesce(max(id), 0) FROM changes WHERE kind IN ('import', 'apply', 'pin', 'unpin', 'absence', 'leave', 'token')",
            [],
            |r| r.get(0),
        )?)
    }

    fn pool_state(&mut self, rule: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT state FROM pools WHERE rule = ?1", [rule], |r| r.get(0)).optional()?)
    }

    fn add_token(
        &mut self,
        hash: &str,
        scope: &str,
        employee: Option<&str>,
        label: &str,
        expires: Option<Day>,
        actor: &Actor,
    ) -> Result<i64> {
        let tx = self.write()?;
        let change = add_change(&tx, "token", actor, None, &format!("token `{label}` ({scope})"))?;
        let emp = employee.map(|e| key_of(&tx, "employees", "employee", e)).transpose()?;
        tx.execute(
            "INSERT INTO tokens (hash, scope, employee, label, created_by, expires_on) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![hash, scope, emp, label, change, expires.map(day_text)],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn token(&mut self, hash: &str) -> Result<Option<Token>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT t.id, t.scope, e.id, t.label, t.expires_on FROM tokens t LEFT JOIN employees e ON e.key = t.employee \
                 WHERE t.hash = ?1 AND t.revoked_by IS NULL",
            )?
            .query_row([hash], |r| {
                Ok((Token { id: r.get(0)?, scope: r.get(1)?, employee: r.get(2)?, label: r.get(3)?, expires: None }, r.get(4)?))
            })
            .optional()?;
        row.map(|(t, e): (Token, Option<String>)| Ok(Token { expires: opt_day(e)?, ..t })).transpose()
    }

    fn tokens(&mut self) -> Result<Vec<TokenInfo>> {
        let mut st = self.conn.prepare(
            "SELECT t.id, t.scope, e.id, t.label, t.expires_on, c.made_by, c.made_at, r.made_by, r.made_at FROM tokens t \
             LEFT JOIN employees e ON e.key = t.employee JOIN changes c ON c.id = t.created_by LEFT JOIN changes r ON r.id = t.revoked_by \
             ORDER BY t.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                Token { id: r.get(0)?, scope: r.get(1)?, employee: r.get(2)?, label: r.get(3)?, expires: None },
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (t, expires, by, at, rby, rat) = row?;
            out.push(TokenInfo { token: Token { expires: opt_day(expires)?, ..t }, created_by: by, created_at: at, revoked: rby.zip(rat) });
        }
        Ok(out)
    }

    fn revoke_token(&mut self, id: i64, actor: &Actor) -> Result<i64> {
        let tx = self.write()?;
        let found: Option<(String, Option<i64>)> =
            tx.query_row("SELECT label, revoked_by FROM tokens WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        let label = crate::check_revocable(id, found)?;
        let change = add_change(&tx, "token", actor, None, &format!("token `{label}` revoked"))?;
        tx.execute("UPDATE tokens SET revoked_by = ?1 WHERE id = ?2", params![change, id])?;
        tx.commit()?;
        Ok(change)
    }

    fn save_plan(&mut self, id: &str, body: &str, actor: &Actor) -> Result<()> {
        self.conn
            .execute("INSERT INTO plans (id, body, made_by, made_at) VALUES (?1, ?2, ?3, ?4)", params![id, body, actor.by, actor.at])?;
        Ok(())
    }

    fn plan_body(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT body FROM plans WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    fn redate_routed(&mut self, client: &str, day: Day, actor: &Actor) -> Result<(i64, usize)> {
        let tx = self.write()?;
        let key = key_of(&tx, "clients", "client", client)?;
        let (links, other): (i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(c.kind <> 'route' OR l.valid_to IS NOT NULL), 0) FROM links l JOIN changes c ON c.id = l.opened_by WHERE l.client = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        crate::check_redatable(client, links, other)?;
        let d = day_text(day);
        let change = add_change(&tx, "route", actor, None, &format!("client `{client}`: routed links redated to {d}"))?;
        let moved = tx.execute("UPDATE links SET valid_from = ?2 WHERE client = ?1 AND valid_from > ?2", params![key, d])?;
        tx.commit()?;
        Ok((change, moved))
    }

    fn health(&mut self) -> Result<Health> {
        let revision = revision_of(&self.conn)?;
        // A file the process may not write is opened read-only by SQLite; a full or read-only file
        // system refuses the write lock.
        let writable = !self.conn.is_readonly(rusqlite::MAIN_DB)? && self.conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK").is_ok();
        Ok(Health { revision, writable })
    }

    fn revision(&mut self) -> Result<i64> {
        revision_of(&self.conn)
    }

    fn changes(&mut self) -> Result<Vec<Change>> {
        let mut st = self.conn.prepare("SELECT id, kind, made_by, made_at, file, summary FROM changes ORDER BY id")?;
        let rows = st.query_map([], change_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn columns(&mut self, subject: Subject) -> Result<Vec<Column>> {
        columns_of(&self.conn, subject)
    }

    fn import(&mut self, import: &Import<'_>, actor: &Actor) -> Result<Imported> {
        let _span = tracing::info_span!("import", subject = import.subject.as_str(), rows = import.rows.len()).entered();
        let tx = self.write()?;
        let change = add_change(&tx, "import", actor, Some(import.file), "")?;
        let subject = import.subject.as_str();
        for c in import.columns {
            tx.execute(
                "INSERT INTO attributes (subject, name, type, position) \
                 VALUES (?1, ?2, ?3, (SELECT coalesce(max(position), -1) + 1 FROM attributes WHERE subject = ?1)) \
                 ON CONFLICT (subject, name) DO NOTHING",
                params![subject, c.name, c.ty],
            )?;
            let stored: String =
                tx.query_row("SELECT type FROM attributes WHERE subject = ?1 AND name = ?2", params![subject, c.name], |r| r.get(0))?;
            if stored != c.ty {
                return Err(StoreError::Refused(format!(
                    "column `{}` holds {} in the store; the file's values are {}",
                    c.name, stored, c.ty
                )));
            }
        }
        let table = match import.subject {
            Subject::Client => "clients",
            Subject::Employee => "employees",
            Subject::Deal => "deals",
        };
        let before: i64 = tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        let mut touched = 0u64;
        {
            let mut st = match import.subject {
                Subject::Deal => tx.prepare(
                    "INSERT INTO deals (id, client, attrs, imported_by) \
                     VALUES (?1, (SELECT key FROM clients WHERE id = ?2), json_patch('{}', ?3), ?4) \
                     ON CONFLICT (id) DO UPDATE SET client = excluded.client, attrs = json_patch(deals.attrs, ?3), imported_by = ?4 \
                     WHERE deals.client IS NOT excluded.client OR deals.attrs IS NOT json_patch(deals.attrs, ?3)",
                )?,
                _ => tx.prepare(&format!(
                    "INSERT INTO {table} (id, attrs, imported_by) VALUES (?1, json_patch('{{}}', ?2), ?3) \
                     ON CONFLICT (id) DO UPDATE SET attrs = json_patch({table}.attrs, ?2), imported_by = ?3 \
                     WHERE {table}.attrs IS NOT json_patch({table}.attrs, ?2)"
                ))?,
            };
            for row in import.rows {
                // 1 when the row was inserted or changed, 0 when it was already so.
                let res = match import.subject {
                    Subject::Deal => st.execute(params![row.id, row.client, row.attrs, change]),
                    _ => st.execute(params![row.id, row.attrs, change]),
                };
                touched += res.map_err(|e| match (import.subject, &e) {
                    (Subject::Deal, rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::NotFound { what: "client", id: row.client.clone().unwrap_or_default() }
                    }
                    _ => StoreError::from(e),
                })? as u64;
                if !row.keys.is_empty() {
                    let mut k = tx.prepare_cached(
                        "INSERT INTO client_keys (kind, value, client) VALUES (?1, ?2, (SELECT key FROM clients WHERE id = ?3)) \
                         ON CONFLICT (kind, value) DO UPDATE SET client = excluded.client",
                    )?;
                    for (kind, value) in &row.keys {
                        k.execute(params![kind, value, row.id])?;
                    }
                }
            }
        }
        let after: i64 = tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        let inserted = (after - before) as u64;
        let updated = touched - inserted;
        let summary = import_summary(import.rows.len(), subject, inserted, updated);
        tx.execute("UPDATE changes SET summary = ?1 WHERE id = ?2", params![summary, change])?;
        tx.commit()?;
        Ok(Imported { change, inserted, updated, unchanged: import.rows.len() as u64 - touched })
    }

    fn active_scheme(&mut self) -> Result<Option<SchemeVersion>> {
        Ok(self
            .conn
            .query_row("SELECT version, text FROM schemes ORDER BY version DESC LIMIT 1", [], |r| {
                Ok(SchemeVersion { version: r.get(0)?, text: r.get(1)? })
            })
            .optional()?)
    }

    fn schemes(&mut self) -> Result<Vec<SchemeVersion>> {
        let mut st = self.conn.prepare("SELECT version, text FROM schemes ORDER BY version")?;
        let rows = st.query_map([], |r| Ok(SchemeVersion { version: r.get(0)?, text: r.get(1)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn snapshot(&mut self, date: Day) -> Result<Snapshot> {
        self.read(date, Reading::Everything)
    }

    fn snapshot_without_deals(&mut self, date: Day) -> Result<Snapshot> {
        self.read(date, Reading::WithoutDeals)
    }

    fn people(&mut self) -> Result<Snapshot> {
        self.read(0, Reading::People)
    }

    fn apply(&mut self, changes: &Changes, actor: &Actor) -> Result<Applied> {
        let _span = tracing::info_span!("apply", closes = changes.closes.len(), opens = changes.opens.len()).entered();
        let tx = self.write()?;
        let now = revision_of(&tx)?;
        if now != changes.base {
            return Err(refuse_stale(changes.base, now, last_change(&tx)?));
        }
        let change = add_change(&tx, "apply", actor, None, &changes.summary)?;
        let scheme = match &changes.scheme {
            Some(text) => {
                let v: i64 = tx.query_row("SELECT coalesce(max(version), 0) + 1 FROM schemes", [], |r| r.get(0))?;
                tx.execute("INSERT INTO schemes (version, text, applied_by) VALUES (?1, ?2, ?3)", params![v, text, change])?;
                Some(v)
            }
            None => None,
        };
        for (role, several) in &changes.roles {
            tx.execute("INSERT INTO roles (id, several) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING", params![role, several])?;
        }
        {
            let mut st = tx.prepare(
                "UPDATE links SET valid_to = ?1, closed_by = ?2 WHERE id = ?3 AND valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1)",
            )?;
            for c in &changes.closes {
                let at = day_text(c.at);
                if st.execute(params![at, change, c.link])? != 1 {
                    return Err(StoreError::Refused(format!("link {} is not valid on {at}: the plan does not fit the store", c.link)));
                }
            }
        }
        {
            let mut st = tx.prepare(
                "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, rule, scheme, note, absence, opened_by, closed_by) \
                 VALUES (?1, ?2, (SELECT several FROM roles WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                 CASE WHEN ?5 IS NULL THEN NULL ELSE ?11 END)",
            )?;
            for o in &changes.opens {
                st.execute(params![
                    o.client,
                    o.role,
                    o.employee,
                    day_text(o.from),
                    o.to.map(day_text),
                    o.cause.as_str(),
                    o.rule,
                    o.scheme,
                    o.note,
                    o.absence,
                    change
                ])?;
            }
        }
        for (table, ids) in [("absences", &changes.absences), ("leavers", &changes.leavers)] {
            let sql = format!("UPDATE {table} SET applied_by = ?1 WHERE id = ?2 AND applied_by IS NULL");
            for id in ids {
                if tx.execute(&sql, params![change, id])? != 1 {
                    return Err(StoreError::Refused(format!("{table} entry {id} is unknown or already carried out")));
                }
            }
        }
        tx.commit()?;
        Ok(Applied { change, closed: changes.closes.len() as u64, opened: changes.opens.len() as u64, scheme })
    }

    fn pin(&mut self, pin: &PinRequest<'_>, actor: &Actor) -> Result<Pinned> {
        let tx = self.write()?;
        let change = add_change(&tx, "pin", actor, None, &format!("{} {} → {}: {}", pin.client, pin.role, pin.employee, pin.reason))?;
        let client = key_of(&tx, "clients", "client", pin.client)?;
        let employee = key_of(&tx, "employees", "employee", pin.employee)?;
        tx.execute("INSERT INTO roles (id) VALUES (?1) ON CONFLICT (id) DO NOTHING", [pin.role])?;
        let replaced = tx.execute(
            "UPDATE pins SET unpinned_by = ?1 WHERE client = ?2 AND role = ?3 AND unpinned_by IS NULL",
            params![change, client, pin.role],
        )?;
        tx.execute(
            "INSERT INTO pins (client, role, employee, reason, pinned_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![client, pin.role, employee, pin.reason, change],
        )?;
        let d = day_text(pin.date);
        let (cur, next) = link_at(&tx, client, pin.role, &d)?;
        let mut moved_from = None;
        if cur.map(|c| c.1) != Some(employee) {
            if let Some((link, old)) = cur {
                tx.execute("UPDATE links SET valid_to = ?1, closed_by = ?2 WHERE id = ?3", params![d, change, link])?;
                moved_from = Some(tx.query_row("SELECT id FROM employees WHERE key = ?1", [old], |r| r.get(0))?);
            }
            let scheme: Option<i64> = tx.query_row("SELECT max(version) FROM schemes", [], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, scheme, note, opened_by, closed_by) \
                 VALUES (?1, ?2, (SELECT several FROM roles WHERE id = ?2), ?3, ?4, ?5, 'pin', ?6, ?7, ?8, CASE WHEN ?5 IS NULL THEN NULL ELSE ?8 END)",
                params![client, pin.role, employee, d, next, scheme, pin.reason, change],
            )?;
        }
        tx.commit()?;
        Ok(Pinned { change, moved_from, replaced_pin: replaced > 0 })
    }

    fn unpin(&mut self, client: &str, role: &str, actor: &Actor) -> Result<i64> {
        let tx = self.write()?;
        let change = add_change(&tx, "unpin", actor, None, &format!("{client} {role}"))?;
        let key = key_of(&tx, "clients", "client", client)?;
        let n = tx.execute(
            "UPDATE pins SET unpinned_by = ?1 WHERE client = ?2 AND role = ?3 AND unpinned_by IS NULL",
            params![change, key, role],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "pin for", id: format!("{client} in role {role}") });
        }
        tx.commit()?;
        Ok(change)
    }

    fn add_absence(&mut self, employee: &str, first: Day, last: Day, cover: Option<&str>, actor: &Actor) -> Result<i64> {
        let tx = self.write()?;
        let (f, l) = (day_text(first), day_text(last));
        let summary = format!("{employee} absent {f} to {l}{}", cover.map_or(String::new(), |c| format!(", covered by {c}")));
        let change = add_change(&tx, "absence", actor, None, &summary)?;
        let key = key_of(&tx, "employees", "employee", employee)?;
        let cover = cover.map(|c| key_of(&tx, "employees", "employee", c)).transpose()?;
        let clash: Option<(String, String)> = tx
            .query_row(
                "SELECT first_day, last_day FROM absences WHERE employee = ?1 AND first_day <= ?3 AND last_day >= ?2 LIMIT 1",
                params![key, f, l],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((a, b)) = clash {
            return Err(StoreError::Refused(format!("{employee} is already registered as absent from {a} to {b}")));
        }
        tx.execute(
            "INSERT INTO absences (employee, first_day, last_day, cover, registered_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, f, l, cover, change],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn add_leaver(&mut self, employee: &str, on: Day, actor: &Actor) -> Result<i64> {
        let tx = self.write()?;
        let change = add_change(&tx, "leave", actor, None, &format!("{employee} leaves on {}", day_text(on)))?;
        let key = key_of(&tx, "employees", "employee", employee)?;
        let before: Option<String> = tx.query_row("SELECT left_on FROM leavers WHERE employee = ?1", [key], |r| r.get(0)).optional()?;
        if let Some(b) = before {
            return Err(StoreError::Refused(format!("{employee} is already registered as leaving on {b}")));
        }
        tx.execute("INSERT INTO leavers (employee, left_on, registered_by) VALUES (?1, ?2, ?3)", params![key, day_text(on), change])?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn history(&mut self, client: &str) -> Result<Vec<Spell>> {
        key_of(&self.conn, "clients", "client", client)?;
        spells(&self.conn, &format!("{SPELL_SELECT} WHERE c.id = ?1 ORDER BY l.role, l.valid_from, l.id"), &[&client])
    }

    fn owners_at(&mut self, date: Day, client: Option<&str>) -> Result<Vec<Spell>> {
        let d = day_text(date);
        let valid = "l.valid_from <= ?1 AND (l.valid_to IS NULL OR l.valid_to > ?1)";
        match client {
            Some(c) => {
                let rows = spells(&self.conn, &format!("{SPELL_SELECT} WHERE c.id = ?2 AND {valid} ORDER BY l.role, e.id"), &[&d, &c])?;
                if rows.is_empty() {
                    key_of(&self.conn, "clients", "client", c)?;
                }
                Ok(rows)
            }
            None => spells(&self.conn, &format!("{SPELL_SELECT} WHERE {valid} ORDER BY c.id, l.role, e.id"), &[&d]),
        }
    }

    fn read_sales(&mut self, first: Option<Day>, last: Day, visit: &mut SalesVisit<'_>) -> Result<i64> {
        let _span = tracing::info_span!("read_sales").entered();
        let (f, l) = (first.map(day_text), day_text(last));
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let revision = revision_of(&tx)?;
        {
            let mut st = tx.prepare(
                "SELECT client, role, employee, valid_from, valid_to FROM links \
                 WHERE valid_from <= ?2 AND (valid_to IS NULL OR ((?1 IS NULL OR valid_to > ?1) AND valid_to > valid_from))",
            )?;
            let mut rows = st.query(params![f, l])?;
            while let Some(r) = rows.next()? {
                visit(SalesRow::Held(Holding {
                    client: r.get(0)?,
                    role: r.get(1)?,
                    employee: r.get(2)?,
                    from: text_day(text(r, 3)?)?,
                    to: r.get_ref(4)?.as_str_or_null().map_err(rusqlite::Error::from)?.map(text_day).transpose()?,
                }));
            }
            // The changes that routed (few beside millions of deals): a set, not a join per deal.
            let mut st = tx.prepare("SELECT id FROM changes WHERE kind = 'route'")?;
            let routes: std::collections::HashSet<i64> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            let mut st = tx.prepare("SELECT id, client, attrs, imported_by FROM deals ORDER BY key")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let routed = routes.contains(&r.get::<_, i64>(3)?);
                visit(SalesRow::Deal { id: text(r, 0)?, client: r.get(1)?, attrs: text(r, 2)?, routed });
            }
        }
        tx.commit()?;
        Ok(revision)
    }

    fn book(&mut self, employee: &str, date: Day) -> Result<Vec<Spell>> {
        key_of(&self.conn, "employees", "employee", employee)?;
        let d = day_text(date);
        spells(
            &self.conn,
            &format!(
                "{SPELL_SELECT} WHERE e.id = ?2 AND l.valid_from <= ?1 AND (l.valid_to IS NULL OR l.valid_to > ?1) ORDER BY c.id, l.role"
            ),
            &[&d, &employee],
        )
    }
    fn client_attributes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare_cached("SELECT attrs FROM clients WHERE id = ?1")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(attrs) = st.query_row([id], |r| r.get::<_, String>(0)).optional()? {
                out.push((id.clone(), attrs));
            }
        }
        Ok(out)
    }
}
