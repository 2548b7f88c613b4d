//! The store's logic, written once over [`Db`] for both backends: every [`Store`] and [`RouteTx`]
//! method, its checks and its messages. A backend ([`Backend`], [`Tx`]) supplies only what differs
//! in kind, not in spelling: opening a write transaction, the bulk paths (an import's rows, a
//! plan's closes and opens, a routing batch's clients, deals and records), the snapshot and the
//! sales stream read row by row, and what "writable" means.

use crate::sql::{params, Db, Param, SqlRow};
use std::collections::HashMap;

use crate::*;
use allot_i18n::{kept, Message};

/// A write transaction: one writer at a time, so the revision read inside cannot go stale.
pub(crate) trait Tx: Db {
    fn commit(self: Box<Self>) -> Result<()>;
    /// Upserts (SQLite) or stages (PostgreSQL) a chunk of an import's rows by id (attributes
    /// merge); `staging` keeps what the import has done so far.
    fn stage_rows(&mut self, subject: Subject, rows: &[Row], change: i64, staging: &mut Staging) -> Result<()>;
    /// After the last chunk: lists in `staging.unknown` the staged deals whose client is unknown
    /// (SQLite found them as they came).
    fn unknown_clients(&mut self, _staging: &mut Staging) -> Result<()> {
        Ok(())
    }
    /// Then merges what was staged, and adds the rows inserted or changed to `staging.touched`.
    fn land_rows(&mut self, subject: Subject, change: i64, staging: &mut Staging) -> Result<()>;
    /// Closes links on their day; refused unless each is valid on it.
    fn close_links(&mut self, closes: &[Close], change: i64) -> Result<()>;
    /// Opens links (roles known already); a link with an end is closed by the same change.
    fn open_links(&mut self, opens: &[Open], change: i64) -> Result<()>;
    /// Adds (or merges) a routing batch's clients and their keys; their keys in order.
    fn add_clients(&mut self, clients: &[NewClient], change: i64) -> Result<Vec<ClientKey>>;
    fn add_deals(&mut self, deals: &[NewDeal], change: i64) -> Result<()>;
    /// Records routed items: (idempotency key, request hash, client key, response).
    fn record_routes(&mut self, routed: &[(Option<&str>, &str, ClientKey, &str)], change: i64) -> Result<()>;
}

/// What an import has done so far, kept across its chunks.
#[derive(Debug, Default)]
pub(crate) struct Staging {
    /// Rows given so far (a row's place among them says where it is in the file).
    pub rows: u64,
    /// Rows inserted or changed.
    pub touched: u64,
    /// Deals whose client is unknown: (place, client id).
    pub unknown: Vec<(u64, String)>,
    /// Clients written, for the text index (SQLite).
    pub written: Vec<i64>,
    /// The greatest client key before the import (SQLite, read with the first chunk).
    pub known: i64,
    /// Whether the first chunk was given: the temporary tables made (PostgreSQL), the bulk write
    /// begun (SQLite).
    pub begun: bool,
    /// Rows the file is expected to hold (an estimate: a bulk write is begun for many).
    pub expected: u64,
}

impl Staging {
    pub(crate) fn unknown(&mut self, place: u64, client: &str) {
        if self.unknown.len() < UNKNOWN_CLIENTS_LISTED {
            self.unknown.push((place, client.to_string()));
        }
    }
}

/// An import in its transaction ([`Store::begin_import`]).
struct Importing<'s> {
    tx: Box<dyn Tx + 's>,
    subject: Subject,
    change: i64,
    /// Rows in the table before.
    before: i64,
    staging: Staging,
}

impl Importing<'_> {
    fn unknown_clients_now(&mut self) -> Result<Vec<(u64, String)>> {
        self.tx.unknown_clients(&mut self.staging)?;
        let mut unknown = std::mem::take(&mut self.staging.unknown);
        unknown.sort_unstable();
        Ok(unknown)
    }
}

impl Landing for Importing<'_> {
    fn unknown_clients(mut self: Box<Self>) -> Result<Vec<(u64, String)>> {
        self.unknown_clients_now()
    }

    fn push(&mut self, rows: &[Row]) -> Result<()> {
        self.tx.stage_rows(self.subject, rows, self.change, &mut self.staging)?;
        self.staging.rows += rows.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Imported> {
        let _span = tracing::info_span!("land", subject = self.subject.as_str(), rows = self.staging.rows).entered();
        if self.subject == Subject::Deal {
            let unknown = self.unknown_clients_now()?;
            if !unknown.is_empty() {
                return Err(StoreError::UnknownClients(unknown));
            }
        }
        self.tx.land_rows(self.subject, self.change, &mut self.staging)?;
        let st = &mut self.staging;
        let count = format!("SELECT count(*) FROM {}", table_of(self.subject));
        let inserted = (self.tx.one(&count, &[])?.int(0)? - self.before) as u64;
        let (rows, touched) = (st.rows, st.touched);
        let key = match self.subject {
            Subject::Client => "summary-import-client",
            Subject::Employee => "summary-import-employee",
            Subject::Deal => "summary-import-deal",
        };
        let message =
            Message::new(key).count("rows", rows as i64).count("new", inserted as i64).count("updated", (touched - inserted) as i64);
        let summary = kept::encode(&[message.count("same", (rows - touched) as i64)]);
        set_summary(&mut *self.tx, self.change, &summary)?;
        let change = self.change;
        self.tx.commit()?;
        Ok(Imported { change, inserted, updated: touched - inserted, unchanged: rows - touched })
    }
}

/// One database: what differs between SQLite and PostgreSQL beyond the spelling of a statement.
pub(crate) trait Backend: Send {
    const NAME: &'static str;
    /// The connection outside a transaction (each statement commits on its own).
    fn db(&mut self) -> &mut dyn Db;
    fn write(&mut self) -> Result<Box<dyn Tx + '_>>;
    /// A snapshot read in one transaction.
    fn read(&mut self, date: Day, what: Reading) -> Result<Snapshot>;
    fn read_sales(&mut self, period: &SalesPeriod, visit: &mut SalesVisit<'_>) -> Result<i64>;
    /// Whether a write would be accepted now.
    fn writable(&mut self) -> Result<bool>;
    fn defer_checkpoints(&mut self) -> Result<()> {
        Ok(())
    }
    fn checkpoint(&mut self) -> Result<i64> {
        Ok(0)
    }
    /// After a plan of `rows` closes and opens landed.
    fn after_apply(&mut self, _rows: usize) -> Result<()> {
        Ok(())
    }
    /// The keys of the clients whose `find` holds `needle` (folded already), from the store's
    /// text index (migration 0007), when it can answer — three characters or more — and they are
    /// at most `cap`; `None` otherwise: then a search reads the `find` of each held client.
    fn text_match(&mut self, _needle: &str, _cap: usize) -> Result<Option<Vec<i64>>> {
        Ok(None)
    }
}

/// At most this many clients found by the text index are looked up among an employee's links;
/// a text more common than that is looked for among the employee's own clients instead.
const TEXT_MATCH_CAP: usize = 30_000;

fn add_change(db: &mut (impl Db + ?Sized), kind: &str, actor: &Actor, file: Option<&str>, summary: &str) -> Result<i64> {
    db.one(
        "INSERT INTO changes (kind, made_by, made_at, file, summary) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        params![kind, &actor.by, &actor.at, file, summary],
    )?
    .int(0)
}

fn set_summary(db: &mut (impl Db + ?Sized), change: i64, summary: &str) -> Result<()> {
    db.exec("UPDATE changes SET summary = $1 WHERE id = $2", params![summary, change])?;
    Ok(())
}

pub(crate) fn revision_of(db: &mut (impl Db + ?Sized)) -> Result<i64> {
    db.one("SELECT coalesce(max(id), 0) FROM changes", &[])?.int(0)
}

/// The attributes (JSON text) of the rows of `table` with the given ids, by id.
fn attributes(db: &mut (impl Db + ?Sized), table: &str, ids: &[String]) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    db.rows(&format!("SELECT id, CAST(attrs AS TEXT) FROM {table} WHERE id = ANY($1) ORDER BY id COLLATE \"C\""), params![ids])?
        .into_iter()
        .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
}

/// Adds a subscriber to the change log (a webhook or a CRM connector), told of the changes after
/// the revision now. The deliveries read the links by the change that opened or closed them and
/// a routing batch's answers by its change: the indexes made with the first (migration 0008).
fn add_subscriber(db: &mut (impl Db + ?Sized), kind: &str, url: &str, events: &str, secret: &str, actor: &Actor) -> Result<i64> {
    db.exec("CREATE INDEX IF NOT EXISTS links_by_opening ON links (opened_by)", &[])?;
    db.exec("CREATE INDEX IF NOT EXISTS links_by_closing ON links (closed_by) WHERE closed_by IS NOT NULL", &[])?;
    db.exec("CREATE INDEX IF NOT EXISTS routes_by_change ON routes (routed_by)", &[])?;
    let revision = revision_of(db)?;
    db.one(
        "INSERT INTO webhooks (kind, url, events, secret, created_by, created_at, delivered) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        params![kind, url, events, secret, &actor.by, &actor.at, revision],
    )?
    .int(0)
}

const CHANGE_SELECT: &str = "SELECT id, kind, made_by, made_at, file, summary FROM changes";

fn change_row(mut r: SqlRow) -> Result<Change> {
    Ok(Change { id: r.int(0)?, kind: r.text(1)?, by: r.text(2)?, at: r.text(3)?, file: r.opt_text(4)?, summary: r.text(5)? })
}

fn key_of(db: &mut (impl Db + ?Sized), table: &'static str, what: &'static str, id: &str) -> Result<i64> {
    let sql = format!("SELECT key FROM {table} WHERE id = $1");
    db.row(&sql, params![id])?.map(|mut r| r.int(0)).transpose()?.ok_or_else(|| StoreError::NotFound { what, id: id.to_string() })
}

fn employee_key(db: &mut (impl Db + ?Sized), id: &str) -> Result<EmployeeKey> {
    key_of(db, "employees", "employee", id).map(EmployeeKey)
}

fn client_key(db: &mut (impl Db + ?Sized), id: &str) -> Result<ClientKey> {
    key_of(db, "clients", "client", id).map(ClientKey)
}

pub(crate) fn columns_of(db: &mut (impl Db + ?Sized), subject: Subject) -> Result<Vec<Column>> {
    db.rows("SELECT name, type FROM attributes WHERE subject = $1 ORDER BY position", params![subject.as_str()])?
        .into_iter()
        .map(|mut r| Ok(Column { name: r.text(0)?, ty: r.text(1)? }))
        .collect()
}

fn scheme_row(mut r: SqlRow) -> Result<SchemeVersion> {
    Ok(SchemeVersion { version: r.int(0)?, text: r.text(1)? })
}

pub(crate) fn active_scheme(db: &mut (impl Db + ?Sized)) -> Result<Option<SchemeVersion>> {
    db.row("SELECT version, text FROM schemes ORDER BY version DESC LIMIT 1", &[])?.map(scheme_row).transpose()
}

/// Registers a file's columns, refusing one whose type differs from the stored one.
fn register_columns(db: &mut (impl Db + ?Sized), subject: Subject, columns: &[Column]) -> Result<()> {
    let subject = subject.as_str();
    for c in columns {
        db.exec(
            "INSERT INTO attributes (subject, name, type, position) \
             VALUES ($1, $2, $3, (SELECT coalesce(max(position), -1) + 1 FROM attributes WHERE subject = $1)) \
             ON CONFLICT (subject, name) DO NOTHING",
            params![subject, &c.name, &c.ty],
        )?;
        let stored = db.one("SELECT type FROM attributes WHERE subject = $1 AND name = $2", params![subject, &c.name])?.text(0)?;
        if stored != c.ty {
            return Err(StoreError::Refused(format!("column `{}` holds {} in the store; the file's values are {}", c.name, stored, c.ty)));
        }
    }
    Ok(())
}

fn add_role(db: &mut (impl Db + ?Sized), role: &str, several: bool) -> Result<()> {
    db.exec("INSERT INTO roles (id, several) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", params![role, several])?;
    Ok(())
}

/// The table of a subject's rows.
pub(crate) fn table_of(subject: Subject) -> &'static str {
    match subject {
        Subject::Client => "clients",
        Subject::Employee => "employees",
        Subject::Deal => "deals",
    }
}

/// The columns of a [`LinkEntry`] (read by `entry_row`).
macro_rules! entry_columns {
    () => {
        "SELECT c.id, l.role, e.id, l.valid_from, l.valid_to, l.cause, l.rule, l.scheme, l.note, \
         o.made_by, o.made_at, x.made_by, x.made_at"
    };
}

const ENTRY_SELECT_COLUMNS: &str = entry_columns!();

macro_rules! entry_from {
    () => {
        " FROM links l JOIN clients c ON c.key = l.client JOIN employees e ON e.key = l.employee \
         JOIN changes o ON o.id = l.opened_by LEFT JOIN changes x ON x.id = l.closed_by"
    };
}

const ENTRY_FROM: &str = entry_from!();

const ENTRY_SELECT: &str = concat!(entry_columns!(), entry_from!());

/// Valid on the day `$1`.
const VALID_ON: &str = "l.valid_from <= $1 AND (l.valid_to IS NULL OR l.valid_to > $1)";

fn entry_row(r: &mut SqlRow) -> Result<LinkEntry> {
    Ok(LinkEntry {
        client: r.text(0)?,
        role: r.text(1)?,
        employee: r.text(2)?,
        from: r.day(3)?,
        to: r.opt_day(4)?,
        cause: Cause::parse(&r.text(5)?)?,
        rule: r.opt_text(6)?,
        scheme: r.opt_int(7)?,
        note: r.text(8)?,
        opened_by: r.text(9)?,
        opened_at: r.text(10)?,
        closed_by: r.opt_text(11)?,
        closed_at: r.opt_text(12)?,
    })
}

const PLAN_SELECT: &str = "SELECT id, kind, state, title, made_by, made_at, proposed_by, proposed_at, comment, \
                           decided_by, decided_at, decision, change_id FROM plans";

fn plan_row(mut r: SqlRow) -> Result<PlanRecord> {
    let kind = r.text(1)?;
    let state = r.text(2)?;
    Ok(PlanRecord {
        id: r.text(0)?,
        kind: PlanKind::parse(&kind).ok_or_else(|| StoreError::Db(format!("a plan of unknown kind `{kind}`")))?,
        state: PlanState::parse(&state).ok_or_else(|| StoreError::Db(format!("a plan in unknown state `{state}`")))?,
        title: r.text(3)?,
        made_by: r.text(4)?,
        made_at: r.text(5)?,
        proposed_by: r.opt_text(6)?,
        proposed_at: r.opt_text(7)?,
        comment: r.text(8)?,
        decided_by: r.opt_text(9)?,
        decided_at: r.opt_text(10)?,
        decision: r.text(11)?,
        change: r.opt_int(12)?,
    })
}

/// Why a plan cannot be proposed, rejected or applied: there is none, or it was decided.
fn plan_not_open(db: &mut (impl Db + ?Sized), id: &str) -> Result<StoreError> {
    Ok(match db.row("SELECT state FROM plans WHERE id = $1", params![id])? {
        None => StoreError::Said(Message::new("refused-not-found").text("what", "plan").text("id", id)),
        Some(mut r) => {
            let key = match r.text(0)?.as_str() {
                "proposed" => "refused-plan-proposed",
                "applied" => "refused-plan-applied",
                "rejected" => "refused-plan-rejected",
                _ => "refused-plan-made",
            };
            StoreError::Said(Message::new(key).text("id", id))
        }
    })
}

fn link_entries(db: &mut (impl Db + ?Sized), sql: &str, params: &[crate::sql::Param<'_>]) -> Result<Vec<LinkEntry>> {
    let mut out = Vec::new();
    db.each(sql, params, &mut |r| {
        out.push(entry_row(r)?);
        Ok(())
    })?;
    Ok(out)
}

const TOKEN_COLUMNS: &str = "t.id, t.scope, e.id, t.label, t.expires_on";
const TOKEN_FROM: &str = "tokens t LEFT JOIN employees e ON e.key = t.employee";

fn token_row(r: &mut SqlRow) -> Result<Token> {
    Ok(Token { id: r.int(0)?, scope: r.text(1)?, employee: r.opt_text(2)?, label: r.text(3)?, expires: r.opt_day(4)? })
}

const USER_SELECT: &str = "SELECT u.id, u.login, e.id, u.role, u.password, u.created_by, u.created_at, u.changed_by, u.changed_at, \
     u.disabled_by, u.disabled_at, u.failures, u.locked_until FROM users u LEFT JOIN employees e ON e.key = u.employee";

fn user_row(r: &mut SqlRow) -> Result<User> {
    Ok(User {
        id: r.int(0)?,
        login: r.text(1)?,
        employee: r.opt_text(2)?,
        role: r.text(3)?,
        password: r.text(4)?,
        created_by: r.text(5)?,
        created_at: r.text(6)?,
        changed: r.opt_text(7)?.zip(r.opt_text(8)?),
        disabled: r.opt_text(9)?.zip(r.opt_text(10)?),
        failures: r.int(11)?,
        locked_until: r.opt_text(12)?,
    })
}

fn user_by_login(db: &mut (impl Db + ?Sized), login: &str) -> Result<Option<User>> {
    db.row(&format!("{USER_SELECT} WHERE u.login = $1"), params![login])?.map(|mut r| user_row(&mut r)).transpose()
}

fn end_sessions_of(db: &mut (impl Db + ?Sized), user: i64, at: &str) -> Result<()> {
    db.exec("UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL", params![user, at])?;
    Ok(())
}

/// The reads and writes of one routing batch, inside its transaction.
struct Routing<'a> {
    tx: &'a mut dyn Tx,
    change: i64,
    recorded: usize,
}

impl RouteTx for Routing<'_> {
    fn change(&self) -> i64 {
        self.change
    }
    fn replays(&mut self, keys: &[String]) -> Result<Vec<Replay>> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        self.tx
            .rows("SELECT idem_key, request_hash, response FROM routes WHERE idem_key = ANY($1)", params![keys])?
            .into_iter()
            .map(|mut r| Ok(Replay { key: r.text(0)?, hash: r.text(1)?, response: r.text(2)? }))
            .collect()
    }
    fn find_clients(&mut self, kind: &str, values: &[String]) -> Result<Vec<FoundClient>> {
        if values.is_empty() {
            return Ok(vec![]);
        }
        let rows = if kind == "id" {
            self.tx.rows("SELECT id, key, id FROM clients WHERE id = ANY($1)", params![values])?
        } else {
            self.tx.rows(
                "SELECT k.value, c.key, c.id FROM client_keys k JOIN clients c ON c.key = k.client WHERE k.kind = $1 AND k.value = ANY($2)",
                params![kind, values],
            )?
        };
        rows.into_iter().map(|mut r| Ok(FoundClient { value: r.text(0)?, key: ClientKey(r.int(1)?), id: r.text(2)? })).collect()
    }
    fn owners(&mut self, client: ClientKey, date: Day) -> Result<Vec<Holder>> {
        self.tx
            .rows(
                "SELECT role, employee, rule FROM links WHERE client = $2 AND valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) \
                 ORDER BY role COLLATE \"C\"",
                params![date, client],
            )?
            .into_iter()
            .map(|mut r| Ok(Holder { role: r.text(0)?, employee: EmployeeKey(r.int(1)?), rule: r.opt_text(2)? }))
            .collect()
    }
    fn client_attrs(&mut self, clients: &[ClientKey]) -> Result<Vec<ClientAttrs>> {
        if clients.is_empty() {
            return Ok(vec![]);
        }
        let clients: Vec<i64> = clients.iter().map(|c| c.0).collect();
        self.tx
            .rows("SELECT key, CAST(attrs AS TEXT) FROM clients WHERE key = ANY($1)", params![&clients[..]])?
            .into_iter()
            .map(|mut r| Ok(ClientAttrs { key: ClientKey(r.int(0)?), attrs: r.text(1)? }))
            .collect()
    }
    fn find_deals(&mut self, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        self.tx.rows("SELECT id FROM deals WHERE id = ANY($1)", params![ids])?.into_iter().map(|mut r| r.text(0)).collect()
    }
    fn pools(&mut self) -> Result<Vec<PoolRow>> {
        // Locked for the batch: two servers on one database take turns with each pool.
        self.tx
            .rows("SELECT rule, state FROM pools ORDER BY rule COLLATE \"C\" FOR UPDATE", &[])?
            .into_iter()
            .map(|mut r| Ok(PoolRow { rule: r.text(0)?, state: r.text(1)? }))
            .collect()
    }
    fn save_pool(&mut self, rule: &str, state: &str) -> Result<()> {
        self.tx.exec(
            "INSERT INTO pools (rule, state, changed) VALUES ($1, $2, $3) \
             ON CONFLICT (rule) DO UPDATE SET state = EXCLUDED.state, changed = EXCLUDED.changed",
            params![rule, state, self.change],
        )?;
        Ok(())
    }
    fn write(&mut self, w: &RouteWrites) -> Result<()> {
        let keys = if w.clients.is_empty() { vec![] } else { self.tx.add_clients(&w.clients, self.change)? };
        let resolve = |c: ClientRef| match c {
            ClientRef::Stored(k) => Ok(k),
            ClientRef::New(i) => keys.get(i).copied().ok_or_else(|| StoreError::Db(format!("routing wrote no client {i}"))),
        };
        if !w.deals.is_empty() {
            self.tx.add_deals(&w.deals, self.change)?;
        }
        if !w.links.is_empty() {
            let opens = w.links.iter().map(|(c, o)| Ok(Open { client: resolve(*c)?, ..o.clone() })).collect::<Result<Vec<_>>>()?;
            self.tx.open_links(&opens, self.change)?;
        }
        if !w.routed.is_empty() {
            let routed = w
                .routed
                .iter()
                .map(|r| Ok((r.key.as_deref(), r.hash.as_str(), resolve(r.client)?, r.response.as_str())))
                .collect::<Result<Vec<_>>>()?;
            self.tx.record_routes(&routed, self.change)?;
            self.recorded += routed.len();
        }
        Ok(())
    }
}

impl<B: Backend> Store for B {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn route(&mut self, actor: &Actor, roles: &[String], work: &mut RouteWork<'_>) -> Result<i64> {
        let mut tx = self.write()?;
        let change = add_change(&mut *tx, "route", actor, None, "")?;
        for role in roles {
            tx.exec("INSERT INTO roles (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", params![role])?;
        }
        let mut routing = Routing { tx: &mut *tx, change, recorded: 0 };
        work(&mut routing)?;
        let n = routing.recorded;
        set_summary(&mut *tx, change, &kept::encode(&[Message::new("summary-routed").count("count", n as i64)]))?;
        tx.commit()?;
        Ok(change)
    }

    fn defer_checkpoints(&mut self) -> Result<()> {
        Backend::defer_checkpoints(self)
    }

    fn checkpoint(&mut self) -> Result<i64> {
        Backend::checkpoint(self)
    }

    fn routing_revision(&mut self) -> Result<i64> {
        self.db()
            .one(
                "SELECT coalesce(max(id), 0) FROM changes WHERE kind IN ('import', 'apply', 'pin', 'unpin', 'absence', 'leave', 'token')",
                &[],
            )?
            .int(0)
    }

    fn pool_state(&mut self, rule: &str) -> Result<Option<String>> {
        self.db().row("SELECT state FROM pools WHERE rule = $1", params![rule])?.map(|mut r| r.text(0)).transpose()
    }

    fn add_token(&mut self, t: &NewToken<'_>, actor: &Actor) -> Result<i64> {
        let NewToken { hash, scope, employee, label, expires } = *t;
        let mut tx = self.write()?;
        let summary = kept::encode(&[Message::new("summary-token").text("label", label).text("scope", scope)]);
        let change = add_change(&mut *tx, "token", actor, None, &summary)?;
        let emp = employee.map(|e| employee_key(&mut *tx, e)).transpose()?;
        let id = tx
            .one(
                "INSERT INTO tokens (hash, scope, employee, label, created_by, expires_on) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                params![hash, scope, emp, label, change, expires],
            )?
            .int(0)?;
        tx.commit()?;
        Ok(id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenInfo>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, c.made_by, c.made_at, r.made_by, r.made_at FROM {TOKEN_FROM} \
             JOIN changes c ON c.id = t.created_by LEFT JOIN changes r ON r.id = t.revoked_by ORDER BY t.id"
        );
        self.db()
            .rows(&sql, &[])?
            .into_iter()
            .map(|mut r| {
                let token = token_row(&mut r)?;
                let revoked = r.opt_text(7)?.zip(r.opt_text(8)?);
                Ok(TokenInfo { token, created_by: r.text(5)?, created_at: r.text(6)?, revoked })
            })
            .collect()
    }

    fn revoke_token(&mut self, id: i64, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let found = tx.row("SELECT label, revoked_by FROM tokens WHERE id = $1", params![id])?;
        let Some(mut found) = found else { return Err(StoreError::NotFound { what: "token", id: id.to_string() }) };
        let label = found.text(0)?;
        if found.opt_int(1)?.is_some() {
            return Err(StoreError::Refused(format!("token {id} (`{label}`) is revoked already")));
        }
        let summary = kept::encode(&[Message::new("summary-token-revoked").text("label", label.as_str())]);
        let change = add_change(&mut *tx, "token", actor, None, &summary)?;
        tx.exec("UPDATE tokens SET revoked_by = $1 WHERE id = $2", params![change, id])?;
        tx.commit()?;
        Ok(change)
    }

    fn add_user(&mut self, u: &NewUser<'_>, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        if user_by_login(&mut *tx, u.login)?.is_some() {
            return Err(StoreError::Refused(format!("a user `{}` exists already", u.login)));
        }
        let employee = u.employee.map(|e| employee_key(&mut *tx, e)).transpose()?;
        let id = tx
            .one(
                "INSERT INTO users (login, employee, role, password, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                params![u.login, employee, u.role, u.password, &actor.by, &actor.at],
            )?
            .int(0)?;
        tx.commit()?;
        Ok(id)
    }

    fn users(&mut self) -> Result<Vec<User>> {
        self.db().rows(&format!("{USER_SELECT} ORDER BY u.login COLLATE \"C\""), &[])?.iter_mut().map(user_row).collect()
    }

    fn user(&mut self, login: &str) -> Result<Option<User>> {
        user_by_login(self.db(), login)
    }

    fn set_password(&mut self, login: &str, password: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.write()?;
        let user = user_by_login(&mut *tx, login)?.ok_or_else(|| StoreError::NotFound { what: "user", id: login.to_string() })?;
        tx.exec(
            "UPDATE users SET password = $2, changed_by = $3, changed_at = $4, failures = 0, locked_until = NULL WHERE id = $1",
            params![user.id, password, &actor.by, &actor.at],
        )?;
        end_sessions_of(&mut *tx, user.id, &actor.at)?;
        tx.commit()
    }

    fn disable_user(&mut self, login: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.write()?;
        let user = user_by_login(&mut *tx, login)?.ok_or_else(|| StoreError::NotFound { what: "user", id: login.to_string() })?;
        if let Some((by, at)) = &user.disabled {
            return Err(StoreError::Refused(format!("user `{login}` was disabled already (by {by} at {at})")));
        }
        tx.exec("UPDATE users SET disabled_by = $2, disabled_at = $3 WHERE id = $1", params![user.id, &actor.by, &actor.at])?;
        end_sessions_of(&mut *tx, user.id, &actor.at)?;
        tx.commit()
    }

    fn record_sign_in(&mut self, user: i64, failures: i64, locked_until: Option<&str>) -> Result<()> {
        self.db().exec("UPDATE users SET failures = $2, locked_until = $3 WHERE id = $1", params![user, failures, locked_until])?;
        Ok(())
    }

    fn add_session(&mut self, s: &NewSession<'_>) -> Result<()> {
        self.db().exec(
            "INSERT INTO sessions (id, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            params![s.id, s.user, s.csrf, s.created_at, s.expires_at],
        )?;
        Ok(())
    }

    fn session(&mut self, id: &str, now: &str) -> Result<Option<Session>> {
        let db = self.db();
        let Some(mut r) = db.row(
            "SELECT user_id, csrf, expires_at, created_at FROM sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2",
            params![id, now],
        )?
        else {
            return Ok(None);
        };
        let (user, csrf, expires_at, created_at) = (r.int(0)?, r.text(1)?, r.text(2)?, r.text(3)?);
        let user = db.row(&format!("{USER_SELECT} WHERE u.id = $1 AND u.disabled_by IS NULL"), params![user])?;
        user.map(|mut u| Ok(Session { user: user_row(&mut u)?, csrf, created_at, expires_at })).transpose()
    }

    fn previous_visit(&mut self, user: i64, current: &str) -> Result<Option<String>> {
        self.db().one("SELECT max(created_at) FROM sessions WHERE user_id = $1 AND id <> $2", params![user, current])?.opt_text(0)
    }

    fn link_changes(&mut self, employee: &str, since: &str, limit: u64) -> Result<Vec<LinkEntry>> {
        let db = self.db();
        let key = employee_key(db, employee)?;
        // Changes are numbered in the order they land: the links opened or closed since `since`
        // are those of the first change after it and later ones (read from `links_held`).
        let first = db.one("SELECT min(id) FROM changes WHERE made_at > $1", params![since])?.opt_int(0)?;
        let Some(first) = first else { return Ok(vec![]) };
        // Newest first by the change that touched the link last; chosen from the index alone, and
        // only the rows shown are joined to what they show.
        let order =
            "CASE WHEN l.closed_by >= $2 THEN l.closed_by ELSE l.opened_by END DESC, l.client_id COLLATE \"C\", l.role COLLATE \"C\"";
        let sql = format!(
            "{ENTRY_SELECT} WHERE l.id IN (SELECT l.id FROM links l WHERE l.employee = $1 AND (l.opened_by >= $2 OR l.closed_by >= $2) \
             ORDER BY {order} LIMIT $3) ORDER BY {order}"
        );
        link_entries(db, &sql, params![key, first, limit as i64])
    }

    fn end_session(&mut self, id: &str, at: &str) -> Result<bool> {
        Ok(self.db().exec("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL", params![id, at])? == 1)
    }

    fn save_plan(&mut self, id: &str, body: &str, kind: PlanKind, title: &str, actor: &Actor) -> Result<()> {
        self.db().exec(
            "INSERT INTO plans (id, body, made_by, made_at, kind, title) VALUES ($1, $2, $3, $4, $5, $6)",
            params![id, body, &actor.by, &actor.at, kind.as_str(), title],
        )?;
        Ok(())
    }

    fn plan_body(&mut self, id: &str) -> Result<Option<String>> {
        self.db().row("SELECT body FROM plans WHERE id = $1", params![id])?.map(|mut r| r.text(0)).transpose()
    }

    fn plan_record(&mut self, id: &str) -> Result<Option<PlanRecord>> {
        self.db().row(&format!("{PLAN_SELECT} WHERE id = $1"), params![id])?.map(plan_row).transpose()
    }

    fn plans(&mut self, state: PlanState, limit: u64) -> Result<Vec<PlanRecord>> {
        let sql = format!("{PLAN_SELECT} WHERE state = $1 ORDER BY made_at DESC, id DESC LIMIT $2");
        self.db().rows(&sql, params![state.as_str(), limit as i64])?.into_iter().map(plan_row).collect()
    }

    fn plans_applied_by(&mut self, changes: &[i64]) -> Result<Vec<PlanRecord>> {
        if changes.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!("{PLAN_SELECT} WHERE change_id = ANY($1) ORDER BY change_id");
        self.db().rows(&sql, params![changes])?.into_iter().map(plan_row).collect()
    }

    fn propose_plan(&mut self, id: &str, comment: &str, actor: &Actor) -> Result<()> {
        let sql = "UPDATE plans SET state = 'proposed', proposed_by = $2, proposed_at = $3, comment = $4 WHERE id = $1 AND state = 'made'";
        if self.db().exec(sql, params![id, &actor.by, &actor.at, comment])? == 1 {
            return Ok(());
        }
        Err(plan_not_open(self.db(), id)?)
    }

    fn reject_plan(&mut self, id: &str, comment: &str, actor: &Actor) -> Result<()> {
        let sql = "UPDATE plans SET state = 'rejected', decided_by = $2, decided_at = $3, decision = $4 \
                   WHERE id = $1 AND state IN ('made', 'proposed')";
        if self.db().exec(sql, params![id, &actor.by, &actor.at, comment])? == 1 {
            return Ok(());
        }
        Err(plan_not_open(self.db(), id)?)
    }

    fn sample_clients(&mut self, limit: u64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.db().each("SELECT CAST(attrs AS TEXT) FROM clients ORDER BY key LIMIT $1", params![limit as i64], &mut |r| {
            out.push(r.text(0)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn plan_names(&mut self, clients: &[ClientKey], employees: &[EmployeeKey], links: &[LinkId]) -> Result<PlanNames> {
        let db = self.db();
        let mut out = PlanNames::default();
        let keys: Vec<i64> = clients.iter().map(|k| k.0).collect();
        if !keys.is_empty() {
            db.each("SELECT key, id FROM clients WHERE key = ANY($1) ORDER BY key", params![&keys[..]], &mut |r| {
                out.clients.push((ClientKey(r.int(0)?), r.text(1)?));
                Ok(())
            })?;
        }
        let keys: Vec<i64> = employees.iter().map(|k| k.0).collect();
        if !keys.is_empty() {
            db.each("SELECT key, id FROM employees WHERE key = ANY($1) ORDER BY key", params![&keys[..]], &mut |r| {
                out.employees.push((EmployeeKey(r.int(0)?), r.text(1)?));
                Ok(())
            })?;
        }
        let ids: Vec<i64> = links.iter().map(|k| k.0).collect();
        if !ids.is_empty() {
            db.each(
                &format!("{ENTRY_SELECT_COLUMNS}, l.id {ENTRY_FROM} WHERE l.id = ANY($1) ORDER BY l.id"),
                params![&ids[..]],
                &mut |r| {
                    out.links.push((LinkId(r.int(13)?), entry_row(r)?));
                    Ok(())
                },
            )?;
        }
        Ok(out)
    }

    fn health(&mut self) -> Result<Health> {
        let revision = revision_of(self.db())?;
        Ok(Health { revision, writable: self.writable()? })
    }

    fn redate_routed(&mut self, client: &str, day: Day, actor: &Actor) -> Result<(i64, usize)> {
        let mut tx = self.write()?;
        let key = client_key(&mut *tx, client)?;
        let mut r = tx.one(
            "SELECT count(*), coalesce(sum(CASE WHEN c.kind <> 'route' OR l.valid_to IS NOT NULL THEN 1 ELSE 0 END), 0) \
             FROM links l JOIN changes c ON c.id = l.opened_by WHERE l.client = $1",
            params![key],
        )?;
        if r.int(0)? == 0 {
            return Err(StoreError::Refused(format!("client `{client}` has no links to redate")));
        }
        if r.int(1)? > 0 {
            return Err(StoreError::Refused(format!(
                "client `{client}` has links that a plan, a pin or an import made, or that are closed: its history is kept as it is"
            )));
        }
        let summary = kept::encode(&[Message::new("summary-redated").text("client", client).day("day", day.0)]);
        let change = add_change(&mut *tx, "route", actor, None, &summary)?;
        let moved = tx.exec("UPDATE links SET valid_from = $2 WHERE client = $1 AND valid_from > $2", params![key, day])?;
        tx.commit()?;
        Ok((change, moved as usize))
    }

    fn token(&mut self, hash: &str) -> Result<Option<Token>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM {TOKEN_FROM} WHERE t.hash = $1 AND t.revoked_by IS NULL");
        self.db().row(&sql, params![hash])?.map(|mut r| token_row(&mut r)).transpose()
    }

    fn revision(&mut self) -> Result<i64> {
        revision_of(self.db())
    }

    fn changes(&mut self) -> Result<Vec<Change>> {
        self.db().rows(&format!("{CHANGE_SELECT} ORDER BY id"), &[])?.into_iter().map(change_row).collect()
    }

    fn latest_routed(&mut self, limit: u64) -> Result<Vec<(String, String)>> {
        self.db()
            .rows(
                "SELECT c.id, o.made_at FROM routes r JOIN clients c ON c.key = r.client JOIN changes o ON o.id = r.routed_by \
                 ORDER BY r.id DESC LIMIT $1",
                params![limit as i64],
            )?
            .into_iter()
            .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }

    fn unassigned_routed(&mut self, roles: &[String], date: Day, window: u64, limit: u64) -> Result<Vec<(String, String, Vec<String>)>> {
        let db = self.db();
        // The window is a range of the routes' keys (newest last); per role, the items of it whose
        // client holds nobody in the role on the day (`links_by_client`).
        let newest = db.one("SELECT coalesce(max(id), 0) FROM routes", params![])?.int(0)?;
        let from = newest - window as i64;
        let mut found: Vec<(i64, String, String, Vec<String>)> = Vec::new();
        for role in roles {
            db.each(
                &format!(
                    "SELECT r.id, c.id, o.made_at FROM routes r JOIN clients c ON c.key = r.client JOIN changes o ON o.id = r.routed_by \
                     WHERE r.id > $3 AND NOT EXISTS (SELECT 1 FROM links l WHERE l.client = r.client AND l.role = $2 AND {VALID_ON}) \
                     ORDER BY r.id DESC LIMIT $4"
                ),
                params![date, role.as_str(), from, limit as i64],
                &mut |r| {
                    let (id, client) = (r.int(0)?, r.text(1)?);
                    match found.iter_mut().find(|f| f.1 == client) {
                        Some(f) => f.3.push(role.clone()),
                        None => found.push((id, client, r.text(2)?, vec![role.clone()])),
                    }
                    Ok(())
                },
            )?;
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.truncate(limit as usize);
        Ok(found.into_iter().map(|(_, c, at, roles)| (c, at, roles)).collect())
    }

    fn changes_after(&mut self, after: i64, limit: u64) -> Result<Vec<Change>> {
        self.db()
            .rows(&format!("{CHANGE_SELECT} WHERE id > $1 ORDER BY id LIMIT $2"), params![after, limit as i64])?
            .into_iter()
            .map(change_row)
            .collect()
    }

    fn change_links(&mut self, change: i64, opened: bool, after: i64, limit: u64) -> Result<Vec<(i64, LinkEntry)>> {
        // `links_by_opening` / `links_by_closing` (migration 0008).
        let by = if opened { "l.opened_by" } else { "l.closed_by" };
        let mut out = Vec::new();
        self.db().each(
            &format!("{ENTRY_SELECT_COLUMNS}, l.id {ENTRY_FROM} WHERE {by} = $1 AND l.id > $2 ORDER BY l.id LIMIT $3"),
            params![change, after, limit as i64],
            &mut |r| {
                out.push((r.int(13)?, entry_row(r)?));
                Ok(())
            },
        )?;
        Ok(out)
    }

    fn claim_alert(&mut self, client: &str, role: &str, at: &str) -> Result<bool> {
        Ok(self.db().exec(
            "INSERT INTO lead_alerts (client, role, alerted_at) SELECT key, $2, $3 FROM clients WHERE id = $1 ON CONFLICT DO NOTHING",
            params![client, role, at],
        )? == 1)
    }

    fn release_alert(&mut self, client: &str, role: &str) -> Result<()> {
        self.db()
            .exec("DELETE FROM lead_alerts WHERE role = $2 AND client = (SELECT key FROM clients WHERE id = $1)", params![client, role])?;
        Ok(())
    }

    fn absences_of_change(&mut self, change: i64) -> Result<Vec<AbsenceNews>> {
        // The last day as the change made it (a later early end changes the row, not the change's
        // own summary).
        let summary = self.db().row("SELECT summary FROM changes WHERE id = $1", params![change])?.map(|mut r| r.text(0)).transpose()?;
        let said_last = summary.and_then(|s| kept::decode(&s)).and_then(|ms| {
            ms.iter().find_map(|m| {
                m.args.iter().find_map(|(name, v)| match v {
                    allot_i18n::Value::Day(d) if name == "last" => Some(Day(*d)),
                    _ => None,
                })
            })
        });
        let mut news: Vec<AbsenceNews> = self.db()
            .rows(
                "SELECT e.id, a.first_day, a.last_day, c.id, CAST(CASE WHEN a.ended_by = $1 THEN 1 ELSE 0 END AS BIGINT) FROM absences a JOIN employees e ON e.key = a.employee \
                 LEFT JOIN employees c ON c.key = a.cover WHERE a.registered_by = $1 OR a.ended_by = $1 ORDER BY a.id",
                params![change],
            )?
            .into_iter()
            .map(|mut r| {
                Ok(AbsenceNews { employee: r.text(0)?, first: r.day(1)?, last: r.day(2)?, cover: r.opt_text(3)?, ended: r.int(4)? == 1 })
            })
            .collect::<Result<_>>()?;
        if let (Some(last), [one]) = (said_last, news.as_mut_slice()) {
            one.last = last;
        }
        Ok(news)
    }

    fn routed_in(&mut self, change: i64) -> Result<Vec<(String, String)>> {
        // `routes_by_change`, made with the first webhook.
        self.db()
            .rows(
                "SELECT c.id, r.response FROM routes r JOIN clients c ON c.key = r.client WHERE r.routed_by = $1 ORDER BY r.id",
                params![change],
            )?
            .into_iter()
            .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }

    fn add_webhook(&mut self, url: &str, events: &[String], secret: &str, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let id = add_subscriber(&mut *tx, "http", url, &events.join(","), secret, actor)?;
        tx.commit()?;
        Ok(id)
    }

    fn add_connector(&mut self, kind: &str, url: &str, actor: &Actor) -> Result<(i64, bool)> {
        let mut tx = self.write()?;
        let had = tx.rows("SELECT id FROM webhooks WHERE kind = $1 AND removed_at IS NULL", params![kind])?;
        if let Some(mut r) = had.into_iter().next() {
            let id = r.int(0)?;
            tx.exec("UPDATE webhooks SET url = $2 WHERE id = $1", params![id, url])?;
            tx.commit()?;
            return Ok((id, false));
        }
        // A connector signs nothing: its key is only there for the table's shape.
        let id = add_subscriber(&mut *tx, kind, url, "owners", &"-".repeat(16), actor)?;
        tx.commit()?;
        Ok((id, true))
    }

    fn set_connector_secret(&mut self, id: i64, secret: &str) -> Result<()> {
        if self.db().exec("UPDATE webhooks SET secret = $2 WHERE id = $1 AND kind <> 'http' AND removed_at IS NULL", params![id, secret])?
            == 0
        {
            return Err(StoreError::NotFound { what: "connector", id: id.to_string() });
        }
        Ok(())
    }

    fn mark_pulled(&mut self, id: i64, at: &str) -> Result<()> {
        if self.db().exec("UPDATE webhooks SET pulled_at = $2 WHERE id = $1 AND removed_at IS NULL", params![id, at])? == 0 {
            return Err(StoreError::NotFound { what: "connector", id: id.to_string() });
        }
        Ok(())
    }

    fn webhooks(&mut self) -> Result<Vec<Webhook>> {
        self.db()
            .rows(
                "SELECT id, url, events, secret, created_by, created_at, delivered, attempts, next_at, last_status, last_error, last_at, \
                 kind, pulled_at FROM webhooks WHERE removed_at IS NULL ORDER BY id",
                &[],
            )?
            .into_iter()
            .map(|mut r| {
                Ok(Webhook {
                    id: r.int(0)?,
                    url: r.text(1)?,
                    events: r.text(2)?.split(',').map(str::to_string).collect(),
                    secret: r.text(3)?,
                    created_by: r.text(4)?,
                    created_at: r.text(5)?,
                    delivered: r.int(6)?,
                    attempts: r.int(7)?,
                    next_at: r.opt_text(8)?,
                    last_status: r.opt_int(9)?,
                    last_error: r.opt_text(10)?,
                    last_at: r.opt_text(11)?,
                    kind: r.text(12)?,
                    pulled_at: r.opt_text(13)?,
                })
            })
            .collect()
    }

    fn remove_webhook(&mut self, id: i64, actor: &Actor) -> Result<()> {
        let n = self.db().exec(
            "UPDATE webhooks SET removed_by = $2, removed_at = $3 WHERE id = $1 AND removed_at IS NULL",
            params![id, &actor.by, &actor.at],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "webhook", id: id.to_string() });
        }
        Ok(())
    }

    fn lease_webhook(&mut self, id: i64, holder: &str, now: &str, until: &str) -> Result<bool> {
        Ok(self.db().exec(
            "UPDATE webhooks SET lease_until = $4, lease_by = $2 \
             WHERE id = $1 AND removed_at IS NULL AND (lease_until IS NULL OR lease_until < $3 OR lease_by = $2)",
            params![id, holder, now, until],
        )? == 1)
    }

    fn record_delivery(&mut self, id: i64, outcome: &Delivery<'_>, at: &str) -> Result<()> {
        match *outcome {
            // Only forward: a slower worker's late mark cannot move a webhook back.
            Delivery::Done { change, status } => self.db().exec(
                "UPDATE webhooks SET delivered = $2, attempts = 0, next_at = NULL, last_status = $3, last_error = NULL, last_at = $4 \
                 WHERE id = $1 AND delivered < $2",
                params![id, change, status, at],
            )?,
            Delivery::Failed { status, error, next_at } => self.db().exec(
                "UPDATE webhooks SET attempts = attempts + 1, next_at = $2, last_status = $3, last_error = $4, last_at = $5 WHERE id = $1",
                params![id, next_at, status, error, at],
            )?,
        };
        Ok(())
    }

    fn retry_webhook(&mut self, id: i64) -> Result<()> {
        if self.db().exec("UPDATE webhooks SET next_at = NULL WHERE id = $1 AND removed_at IS NULL", params![id])? == 0 {
            return Err(StoreError::NotFound { what: "webhook", id: id.to_string() });
        }
        Ok(())
    }

    fn change_page(&mut self, before: Option<i64>, limit: u64, routing: bool) -> Result<Vec<Change>> {
        // Without routing's batches (one change each), the log's few people-made changes come
        // from `changes_by_kind`; with them, newest first along the key.
        let kinds = if routing { "" } else { " AND kind <> 'route'" };
        self.db()
            .rows(
                &format!("{CHANGE_SELECT} WHERE (CAST($1 AS BIGINT) IS NULL OR id < $1){kinds} ORDER BY id DESC LIMIT $2"),
                params![before, limit as i64],
            )?
            .into_iter()
            .map(change_row)
            .collect()
    }

    fn columns(&mut self, subject: Subject) -> Result<Vec<Column>> {
        columns_of(self.db(), subject)
    }

    fn import(&mut self, import: &Import<'_>, actor: &Actor) -> Result<Imported> {
        let _span = tracing::info_span!("import", subject = import.subject.as_str(), rows = import.rows.len()).entered();
        let mut landing = self.begin_import(import.subject, import.file, import.columns, import.rows.len() as u64, actor)?;
        landing.push(import.rows)?;
        landing.finish()
    }

    fn begin_import(
        &mut self,
        subject: Subject,
        file: &str,
        columns: &[Column],
        expected: u64,
        actor: &Actor,
    ) -> Result<Box<dyn Landing + '_>> {
        let mut tx = self.write()?;
        let change = add_change(&mut *tx, "import", actor, Some(file), "")?;
        register_columns(&mut *tx, subject, columns)?;
        let before = tx.one(&format!("SELECT count(*) FROM {}", table_of(subject)), &[])?.int(0)?;
        Ok(Box::new(Importing { tx, subject, change, before, staging: Staging { expected, ..Staging::default() } }))
    }

    fn active_scheme(&mut self) -> Result<Option<SchemeVersion>> {
        active_scheme(self.db())
    }

    fn schemes(&mut self) -> Result<Vec<SchemeVersion>> {
        self.db().rows("SELECT version, text FROM schemes ORDER BY version", &[])?.into_iter().map(scheme_row).collect()
    }

    fn snapshot(&mut self, date: Day) -> Result<Snapshot> {
        self.read(date, Reading::Everything)
    }

    fn snapshot_without_deals(&mut self, date: Day) -> Result<Snapshot> {
        self.read(date, Reading::WithoutDeals)
    }

    fn people(&mut self) -> Result<Snapshot> {
        self.read(Day(0), Reading::People)
    }

    fn apply(&mut self, changes: &Changes, actor: &Actor) -> Result<Applied> {
        let _span = tracing::info_span!("apply", closes = changes.closes.len(), opens = changes.opens.len()).entered();
        let mut tx = self.write()?;
        let now = revision_of(&mut *tx)?;
        if now != changes.base {
            let last = tx.row(&format!("{CHANGE_SELECT} ORDER BY id DESC LIMIT 1"), &[])?.map(change_row).transpose()?;
            let last = last.map_or_else(|| "nothing recorded".into(), |c| c.to_string());
            return Err(StoreError::Stale { planned: changes.base, now, last });
        }
        let change = add_change(&mut *tx, "apply", actor, None, &changes.summary)?;
        let scheme = match &changes.scheme {
            Some(text) => {
                let v = tx.one("SELECT coalesce(max(version), 0) + 1 FROM schemes", &[])?.int(0)?;
                tx.exec("INSERT INTO schemes (version, text, applied_by) VALUES ($1, $2, $3)", params![v, text, change])?;
                Some(v)
            }
            None => None,
        };
        for (role, several) in &changes.roles {
            add_role(&mut *tx, role, *several)?;
        }
        tx.close_links(&changes.closes, change)?;
        tx.open_links(&changes.opens, change)?;
        for (table, ids) in [("absences", &changes.absences), ("leavers", &changes.leavers)] {
            let sql = format!("UPDATE {table} SET applied_by = $1 WHERE id = $2 AND applied_by IS NULL");
            for &id in ids {
                if tx.exec(&sql, params![change, id])? != 1 {
                    return Err(StoreError::Refused(format!("{table} entry {id} is unknown or already carried out")));
                }
            }
        }
        if let Some(d) = &changes.decided {
            let sql = "UPDATE plans SET state = 'applied', decided_by = $2, decided_at = $3, decision = $4, change_id = $5 \
                       WHERE id = $1 AND state IN ('made', 'proposed')";
            if tx.exec(sql, params![&d.plan, &actor.by, &actor.at, &d.comment, change])? != 1 {
                return Err(plan_not_open(&mut *tx, &d.plan)?);
            }
        }
        tracing::info_span!("commit").in_scope(|| tx.commit())?;
        self.after_apply(changes.opens.len() + changes.closes.len())?;
        Ok(Applied { change, closed: changes.closes.len() as u64, opened: changes.opens.len() as u64, scheme })
    }

    fn pin_site(&mut self, pin: &PinRequest<'_>) -> Result<PinSite> {
        let db = self.db();
        let client = client_key(db, pin.client)?;
        let employee = employee_key(db, pin.employee)?;
        let held = db
            .row(
                "SELECT l.id, l.employee, e.id FROM links l JOIN employees e ON e.key = l.employee \
                 WHERE l.client = $2 AND l.role = $3 AND l.valid_from <= $1 AND (l.valid_to IS NULL OR l.valid_to > $1) \
                 ORDER BY l.valid_from DESC, l.id DESC LIMIT 1",
                params![pin.date, client, pin.role],
            )?
            .map(|mut r| {
                Ok::<_, StoreError>(HeldLink { link: LinkId(r.int(0)?), employee: EmployeeKey(r.int(1)?), employee_id: r.text(2)? })
            })
            .transpose()?;
        let next = db
            .one(
                "SELECT min(valid_from) FROM links WHERE client = $2 AND role = $3 AND valid_from > $1 \
                 AND (valid_to IS NULL OR valid_to > valid_from)",
                params![pin.date, client, pin.role],
            )?
            .opt_day(0)?;
        let scheme = active_scheme(db)?.map(|s| s.version);
        Ok(PinSite { client, employee, held, next, scheme })
    }

    fn pin(&mut self, pin: &PinLanding<'_>, actor: &Actor) -> Result<Pinned> {
        let req = pin.request;
        let mut tx = self.write()?;
        let summary = kept::encode(&[Message::new("summary-pin")
            .text("client", req.client)
            .text("role", req.role)
            .text("employee", req.employee)
            .text("reason", req.reason)]);
        let change = add_change(&mut *tx, "pin", actor, None, &summary)?;
        tx.exec("INSERT INTO roles (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", params![req.role])?;
        let replaced = tx.exec(
            "UPDATE pins SET unpinned_by = $1 WHERE client = $2 AND role = $3 AND unpinned_by IS NULL",
            params![change, pin.client, req.role],
        )?;
        tx.exec(
            "INSERT INTO pins (client, role, employee, reason, pinned_by) VALUES ($1, $2, $3, $4, $5)",
            params![pin.client, req.role, pin.employee, req.reason, change],
        )?;
        if let Some(close) = &pin.close {
            tx.close_links(std::slice::from_ref(close), change)?;
        }
        if let Some(open) = &pin.open {
            tx.open_links(std::slice::from_ref(open), change)?;
        }
        tx.commit()?;
        Ok(Pinned { change, moved_from: pin.moved_from.clone(), replaced_pin: replaced > 0 })
    }

    fn unpin(&mut self, client: &str, role: &str, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let summary = kept::encode(&[Message::new("summary-unpin").text("client", client).text("role", role)]);
        let change = add_change(&mut *tx, "unpin", actor, None, &summary)?;
        let key = client_key(&mut *tx, client)?;
        let n = tx
            .exec("UPDATE pins SET unpinned_by = $1 WHERE client = $2 AND role = $3 AND unpinned_by IS NULL", params![change, key, role])?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "pin for", id: format!("{client} in role {role}") });
        }
        tx.commit()?;
        Ok(change)
    }

    fn client_deals(&mut self, client: &str, limit: u64) -> Result<Vec<(String, String)>> {
        self.db()
            .rows(
                "SELECT d.id, CAST(d.attrs AS TEXT) FROM deals d JOIN clients c ON c.key = d.client WHERE c.id = $1 ORDER BY d.key LIMIT $2",
                params![client, limit as i64],
            )?
            .iter_mut()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }

    fn client_pins(&mut self, client: &str) -> Result<Vec<(String, String, String)>> {
        self.db()
            .rows(
                "SELECT p.role, e.id, p.reason FROM pins p JOIN clients c ON c.key = p.client JOIN employees e ON e.key = p.employee \
                 WHERE c.id = $1 AND p.unpinned_by IS NULL ORDER BY p.role COLLATE \"C\"",
                params![client],
            )?
            .iter_mut()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
            .collect()
    }

    fn add_absence(&mut self, employee: &str, first: Day, last: Day, cover: Option<&str>, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let message = match cover {
            Some(c) => Message::new("summary-absent-covered").text("cover", c),
            None => Message::new("summary-absent"),
        };
        let summary = kept::encode(&[message.text("employee", employee).day("first", first.0).day("last", last.0)]);
        let change = add_change(&mut *tx, "absence", actor, None, &summary)?;
        let key = employee_key(&mut *tx, employee)?;
        let cover = cover.map(|c| employee_key(&mut *tx, c)).transpose()?;
        let clash = tx.row(
            "SELECT first_day, last_day FROM absences WHERE employee = $1 AND first_day <= $3 AND last_day >= $2 LIMIT 1",
            params![key, first, last],
        )?;
        if let Some(mut r) = clash {
            let m = Message::new("refused-already-absent").text("employee", employee).day("first", r.day(0)?.0).day("last", r.day(1)?.0);
            return Err(StoreError::Said(m));
        }
        let id = tx
            .one(
                "INSERT INTO absences (employee, first_day, last_day, cover, registered_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                params![key, first, last, cover, change],
            )?
            .int(0)?;
        tx.commit()?;
        Ok(id)
    }

    fn end_absence(&mut self, id: i64, last: Day, apply: bool, actor: &Actor) -> Result<AbsenceEnd> {
        let mut tx = self.write()?;
        let Some(mut r) = tx.row(
            "SELECT e.id, a.first_day, a.last_day FROM absences a JOIN employees e ON e.key = a.employee WHERE a.id = $1",
            params![id],
        )?
        else {
            return Err(StoreError::NotFound { what: "absence", id: id.to_string() });
        };
        let (employee, first, was_last) = (r.text(0)?, r.day(1)?, r.day(2)?);
        if last >= was_last {
            let m = Message::new("refused-end-not-shorter").text("employee", employee).day("was", was_last.0).day("last", last.0);
            return Err(StoreError::Said(m));
        }
        if last < first {
            return Err(StoreError::Said(Message::new("refused-end-before-start").text("employee", employee).day("first", first.0)));
        }
        let back = Day(last.0 + 1);
        // A cover began on the day its plan took effect: the absentee cannot be back before it.
        let began = tx.one("SELECT max(valid_from) FROM links WHERE absence = $1 AND cause = 'cover'", params![id])?.opt_day(0)?;
        if let Some(began) = began.filter(|&b| b > back) {
            let m = Message::new("refused-end-before-cover").text("employee", employee).day("began", began.0).day("earliest", began.0 - 1);
            return Err(StoreError::Said(m));
        }
        let summary = kept::encode(&[Message::new("summary-absence-ended")
            .text("employee", employee.as_str())
            .day("first", first.0)
            .day("was", was_last.0)
            .day("last", last.0)
            .day("back", back.0)]);
        let change = add_change(&mut *tx, "absence", actor, None, &summary)?;
        let covers_ended = tx.exec(
            "UPDATE links SET valid_to = $2, closed_by = $3 WHERE absence = $1 AND cause = 'cover' AND valid_to > $2",
            params![id, back, change],
        )?;
        let returns_moved =
            tx.exec("UPDATE links SET valid_from = $2 WHERE absence = $1 AND cause = 'return' AND valid_from > $2", params![id, back])?;
        tx.exec("UPDATE absences SET last_day = $2, ended_by = $3 WHERE id = $1", params![id, last, change])?;
        if apply {
            tx.commit()?;
        }
        // Not applied: the transaction is dropped, and with it every change above.
        Ok(AbsenceEnd { employee, first, was_last, last, covers_ended, returns_moved })
    }

    fn add_leaver(&mut self, employee: &str, on: Day, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let summary = kept::encode(&[Message::new("summary-leaves").text("employee", employee).day("on", on.0)]);
        let change = add_change(&mut *tx, "leave", actor, None, &summary)?;
        let key = employee_key(&mut *tx, employee)?;
        if let Some(mut r) = tx.row("SELECT left_on FROM leavers WHERE employee = $1", params![key])? {
            return Err(StoreError::Said(Message::new("refused-already-leaving").text("employee", employee).day("on", r.day(0)?.0)));
        }
        let id = tx
            .one("INSERT INTO leavers (employee, left_on, registered_by) VALUES ($1, $2, $3) RETURNING id", params![key, on, change])?
            .int(0)?;
        tx.commit()?;
        Ok(id)
    }

    fn history(&mut self, client: &str) -> Result<Vec<LinkEntry>> {
        let db = self.db();
        client_key(db, client)?;
        link_entries(db, &format!("{ENTRY_SELECT} WHERE c.id = $1 ORDER BY l.role COLLATE \"C\", l.valid_from, l.id"), params![client])
    }

    fn owners_at(&mut self, date: Day, client: Option<&str>) -> Result<Vec<LinkEntry>> {
        let db = self.db();
        match client {
            Some(c) => {
                let sql = format!("{ENTRY_SELECT} WHERE c.id = $2 AND {VALID_ON} ORDER BY l.role COLLATE \"C\", e.id COLLATE \"C\"");
                let rows = link_entries(db, &sql, params![date, c])?;
                if rows.is_empty() {
                    client_key(db, c)?;
                }
                Ok(rows)
            }
            // COLLATE "C": byte order, whatever the database's locale.
            None => {
                let sql = format!("{ENTRY_SELECT} WHERE {VALID_ON} ORDER BY c.id COLLATE \"C\", l.role COLLATE \"C\", e.id COLLATE \"C\"");
                link_entries(db, &sql, params![date])
            }
        }
    }

    fn book(&mut self, employee: &str, date: Day) -> Result<Vec<LinkEntry>> {
        let db = self.db();
        employee_key(db, employee)?;
        let sql = format!("{ENTRY_SELECT} WHERE e.id = $2 AND {VALID_ON} ORDER BY c.id COLLATE \"C\", l.role COLLATE \"C\"");
        link_entries(db, &sql, params![date, employee])
    }

    fn loads(&mut self, date: Day, employees: Option<&[String]>) -> Result<Vec<(String, String, u64)>> {
        let db = self.db();
        let mut ids: HashMap<i64, String> = HashMap::new();
        db.each("SELECT key, id FROM employees", params![], &mut |r| {
            ids.insert(r.int(0)?, r.text(1)?);
            Ok(())
        })?;
        // The sum of each (employee, role)'s changes up to the day (`held_counts`, migration 0005):
        // a few rows per employee, however large the book.
        let mut out = Vec::new();
        let mut each = |r: &mut SqlRow| {
            let n = r.int(2)?;
            if let (Some(id), true) = (ids.get(&r.int(0)?), n != 0) {
                out.push((id.clone(), r.text(1)?, n as u64));
            }
            Ok(())
        };
        let sum = "SELECT employee, role, CAST(sum(delta) AS BIGINT) FROM held_counts WHERE day <= $1";
        match employees {
            None => db.each(&format!("{sum} GROUP BY employee, role"), params![date], &mut each)?,
            Some(members) => {
                let keys: Vec<i64> = ids.iter().filter(|(_, id)| members.contains(id)).map(|(k, _)| *k).collect();
                db.each(&format!("{sum} AND employee = ANY($2) GROUP BY employee, role"), params![date, &keys[..]], &mut each)?
            }
        }
        out.sort();
        Ok(out)
    }

    fn book_page(&mut self, page: &BookPageRequest<'_>) -> Result<(Vec<LinkEntry>, u64)> {
        let BookPageRequest { employee, date, search, order, offset, limit } = *page;
        // Each order is the index `links_held` (employee, client id, role, day from, day to) read
        // in order, or sorted from it without touching the table (migration 0005).
        let order = match order {
            BookOrder::Client => "l.client_id COLLATE \"C\", l.role COLLATE \"C\"",
            BookOrder::Since => "l.valid_from DESC, l.client_id COLLATE \"C\", l.role COLLATE \"C\"",
            BookOrder::Role => "l.role COLLATE \"C\", l.client_id COLLATE \"C\"",
        };
        let key = employee_key(self.db(), employee)?;
        let held = format!("FROM links l WHERE l.employee = $2 AND {VALID_ON}");
        let (mut ids, mut total) = (Vec::new(), None);
        match search {
            None => {
                let db = self.db();
                db.each(
                    &format!("SELECT l.id {held} ORDER BY {order} LIMIT $3 OFFSET $4"),
                    params![date, key, limit as i64, offset as i64],
                    &mut |r| {
                        ids.push(r.int(0)?);
                        Ok(())
                    },
                )?;
                total = Some(db.one(&format!("SELECT count(*) {held}"), params![date, key])?.int(0)?);
            }
            Some(s) => {
                // Unicode case folding on both backends: `find` is folded when it is written; the
                // search is a plain substring of it (no pattern characters to escape).
                let needle = s.to_lowercase();
                // The clients that hold the text, from the text index, when they are few enough;
                // else each held client's `find` is read.
                let keys = self.text_match(&needle, TEXT_MATCH_CAP)?;
                let db = self.db();
                let (found, text) = match &keys {
                    Some(_) => (format!("{held} AND l.client = ANY($3)"), Param::Ints(keys.as_deref().unwrap_or_default())),
                    None => (
                        format!("{held} AND EXISTS (SELECT 1 FROM clients c WHERE c.key = l.client AND strpos(c.find, $3) > 0)"),
                        Param::Text(needle.as_str()),
                    ),
                };
                if keys.as_ref().is_some_and(Vec::is_empty) {
                    return Ok((vec![], 0));
                }
                // One pass: the page and, beside each of its rows, how many rows there are in all.
                // The clients found first, then sorted (PostgreSQL would otherwise sort the whole
                // book before looking at the clients).
                db.each(
                    &format!(
                        "WITH found AS MATERIALIZED (SELECT l.id, l.client_id, l.role, l.valid_from {found}) \
                         SELECT l.id, count(*) OVER () FROM found l ORDER BY {order} LIMIT $4 OFFSET $5"
                    ),
                    &[Param::Day(date), Param::from(key), text, Param::Int(limit as i64), Param::Int(offset as i64)],
                    &mut |r| {
                        ids.push(r.int(0)?);
                        total = Some(r.int(1)?);
                        Ok(())
                    },
                )?;
                // A page past the end has no row to say the total: counted on its own then (an
                // empty first page says it: none).
                if total.is_none() && offset > 0 {
                    total = Some(db.one(&format!("SELECT count(*) {found}"), &[Param::Day(date), Param::from(key), text])?.int(0)?);
                }
            }
        }
        // The page's links with what a row shows, in the page's order.
        let mut rows: Vec<(i64, LinkEntry)> = Vec::with_capacity(ids.len());
        if !ids.is_empty() {
            self.db().each(&format!("{ENTRY_SELECT_COLUMNS}, l.id {ENTRY_FROM} WHERE l.id = ANY($1)"), params![&ids[..]], &mut |r| {
                rows.push((r.int(13)?, entry_row(r)?));
                Ok(())
            })?;
        }
        rows.sort_by_key(|(id, _)| ids.iter().position(|x| x == id));
        Ok((rows.into_iter().map(|(_, e)| e).collect(), total.unwrap_or(0) as u64))
    }

    fn client_attributes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>> {
        attributes(self.db(), "clients", ids)
    }

    fn employee_attributes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>> {
        attributes(self.db(), "employees", ids)
    }

    fn read_sales(&mut self, period: &SalesPeriod, visit: &mut SalesVisit<'_>) -> Result<i64> {
        Backend::read_sales(self, period, visit)
    }
}
