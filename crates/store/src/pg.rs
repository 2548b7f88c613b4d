//! The production store: PostgreSQL through the synchronous `postgres` client. Bulk writes bind
//! whole columns as arrays (`unnest`), so a million rows are a few hundred statements.

use std::collections::{BTreeMap, HashMap};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Transaction};

use crate::*;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "book", include_str!("../migrations/postgres/0001_book.sql")),
    (2, "routing", include_str!("../migrations/postgres/0002_routing.sql")),
    (3, "operations", include_str!("../migrations/postgres/0003_operations.sql")),
];

/// Every write transaction starts so. One writer at a time: the revision read next cannot go
/// stale (readers are not blocked). Bulk statements join arrays of unknown length to large
/// tables; without this the planner hashes the whole table for a few rows.
const WRITE_SETUP: &str = "LOCK TABLE changes IN EXCLUSIVE MODE; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

/// Rows per bulk statement.
const CHUNK: usize = 20_000;

pub struct PgStore {
    client: Client,
    /// Routing's statements, prepared once per connection (one round trip each use, not two).
    statements: HashMap<String, postgres::Statement>,
}

impl PgStore {
    /// Connects and migrates. `schema`, when given, is created if needed and used instead of the
    /// default search path (tests give each run its own).
    pub fn connect(url: &str, schema: Option<&str>) -> Result<PgStore> {
        let fail = |e: postgres::Error| StoreError::Open { url: redact(url), message: StoreError::from(e).to_string() };
        let mut client = Client::connect(url, NoTls).map_err(fail)?;
        if let Some(s) = schema {
            let q = quote_ident(s);
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {q}; SET search_path TO {q}")).map_err(fail)?;
        }
        migrate(&mut client).map_err(|e| StoreError::Open { url: redact(url), message: e.to_string() })?;
        Ok(PgStore { client, statements: HashMap::new() })
    }

    fn write(&mut self) -> Result<Transaction<'_>> {
        let mut tx = self.client.transaction()?;
        tx.batch_execute(WRITE_SETUP)?;
        Ok(tx)
    }

    fn read(&mut self, date: Day, what: Reading) -> Result<Snapshot> {
        let _span = tracing::info_span!("snapshot").entered();
        let full = what != Reading::People;
        let d = day_text(date);
        let mut tx = self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let mut s = Snapshot {
            revision: revision_of(&mut tx)?,
            date,
            client_columns: columns_of(&mut tx, Subject::Client)?,
            deal_columns: columns_of(&mut tx, Subject::Deal)?,
            employee_columns: columns_of(&mut tx, Subject::Employee)?,
            ..Default::default()
        };
        for (table, out) in [("clients", &mut s.clients), ("employees", &mut s.employees)] {
            if table == "clients" && !full {
                continue;
            }
            // A sequential scan, sorted here: cheaper than the server's sort or index walk.
            let mut rows = tx.query_raw(&format!("SELECT key, id, attrs::text FROM {table}"), std::iter::empty::<i64>())?;
            while let Some(r) = rows.next()? {
                out.push(Stored { key: r.get(0), id: r.get(1), attrs: r.get(2), client: None });
            }
            drop(rows);
            if !out.is_sorted_by_key(|c| c.key) {
                out.sort_unstable_by_key(|c| c.key);
            }
        }
        let deals = what == Reading::Everything;
        for r in if deals { tx.query("SELECT key, id, attrs::text, client FROM deals ORDER BY key", &[])? } else { vec![] } {
            s.deals.push(Stored { key: r.get(0), id: r.get(1), attrs: r.get(2), client: Some(r.get(3)) });
        }
        s.scheme = tx
            .query_opt("SELECT version, text FROM schemes ORDER BY version DESC LIMIT 1", &[])?
            .map(|r| SchemeVersion { version: r.get(0), text: r.get(1) });
        // Streamed row by row, in no particular order (the plan indexes them itself).
        let mut rows = tx.query_raw(
            "SELECT id, client, role, employee, valid_from::text, valid_to::text, cause, rule, scheme, note, absence \
             FROM links WHERE $2 AND (valid_to IS NULL OR (($1::text IS NULL OR valid_to > $1::text::date) AND valid_to > valid_from))",
            [&d as &(dyn postgres::types::ToSql + Sync), &full],
        )?;
        while let Some(r) = rows.next()? {
            s.links.push(Link {
                id: r.get(0),
                client: r.get(1),
                role: r.get(2),
                employee: r.get(3),
                from: text_day(r.get::<_, &str>(4))?,
                to: opt_day(r.get(5))?,
                cause: Cause::parse(r.get(6))?,
                rule: r.get(7),
                scheme: r.get(8),
                note: r.get(9),
                absence: r.get(10),
            });
        }
        drop(rows);
        s.past = tx
            .query(
                "SELECT DISTINCT client, role FROM links WHERE $2 AND valid_to IS NOT NULL AND valid_to <= $1::text::date AND valid_to > valid_from \
                 ORDER BY client, role",
                &[&d, &full],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        s.pins = tx
            .query("SELECT id, client, role, employee, reason FROM pins WHERE unpinned_by IS NULL ORDER BY id", &[])?
            .iter()
            .map(|r| Pin { id: r.get(0), client: r.get(1), role: r.get(2), employee: r.get(3), reason: r.get(4) })
            .collect();
        for r in tx.query(
            "SELECT id, employee, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD'), cover, applied_by IS NOT NULL \
             FROM absences ORDER BY id",
            &[],
        )? {
            s.absences.push(Absence {
                id: r.get(0),
                employee: r.get(1),
                first: text_day(r.get::<_, &str>(2))?,
                last: text_day(r.get::<_, &str>(3))?,
                cover: r.get(4),
                applied: r.get(5),
            });
        }
        for r in tx.query("SELECT id, employee, to_char(left_on, 'YYYY-MM-DD'), applied_by IS NOT NULL FROM leavers ORDER BY id", &[])? {
            s.leavers.push(Leaver { id: r.get(0), employee: r.get(1), on: text_day(r.get::<_, &str>(2))?, applied: r.get(3) });
        }
        tx.commit()?;
        Ok(s)
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn migrate(client: &mut Client) -> Result<()> {
    // The common case, up to date, costs one round trip and takes no lock. Dates are read as
    // ISO text, whatever the server's default style.
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    let probe = client.simple_query("SET DateStyle TO ISO; SELECT coalesce(max(version), 0) FROM allot_migrations");
    let current = match probe {
        Ok(msgs) => msgs.iter().find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse::<i64>().ok()),
            _ => None,
        }),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(v) = current.filter(|&v| v > newest) {
        return Err(crate::newer_schema(v, newest));
    }
    if current.is_some_and(|v| v >= newest) {
        return Ok(());
    }
    client.batch_execute("SET DateStyle TO ISO")?;
    let mut tx = client.transaction()?;
    // Two processes starting at once migrate one after the other.
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(7469120386); \
         CREATE TABLE IF NOT EXISTS allot_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    for &(version, name, sql) in MIGRATIONS {
        if tx.query_opt("SELECT version FROM allot_migrations WHERE version = $1", &[&version])?.is_none() {
            tracing::info!(version, name, "migrating the PostgreSQL store");
            tx.batch_execute(sql)?;
            tx.execute("INSERT INTO allot_migrations (version, name) VALUES ($1, $2)", &[&version, &name])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn add_change(tx: &mut Transaction<'_>, kind: &str, actor: &Actor, file: Option<&str>, summary: &str) -> Result<i64> {
    let row = tx.query_one(
        "INSERT INTO changes (kind, made_by, made_at, file, summary) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&kind, &actor.by, &actor.at, &file, &summary],
    )?;
    Ok(row.get(0))
}

fn revision_of(c: &mut impl GenericClient) -> Result<i64> {
    Ok(c.query_one("SELECT coalesce(max(id), 0)::bigint FROM changes", &[])?.get(0))
}

fn last_change(c: &mut impl GenericClient) -> Result<Option<Change>> {
    Ok(c.query_opt("SELECT id, kind, made_by, made_at, file, summary FROM changes ORDER BY id DESC LIMIT 1", &[])?.map(|r| change_row(&r)))
}

fn change_row(r: &postgres::Row) -> Change {
    Change { id: r.get(0), kind: r.get(1), by: r.get(2), at: r.get(3), file: r.get(4), summary: r.get(5) }
}

fn key_of(c: &mut impl GenericClient, table: &'static str, what: &'static str, id: &str) -> Result<i64> {
    let sql = format!("SELECT key FROM {table} WHERE id = $1");
    c.query_opt(&sql, &[&id])?.map(|r| r.get(0)).ok_or_else(|| StoreError::NotFound { what, id: id.to_string() })
}

fn columns_of(c: &mut impl GenericClient, subject: Subject) -> Result<Vec<Column>> {
    let rows = c.query("SELECT name, type FROM attributes WHERE subject = $1 ORDER BY position", &[&subject.as_str()])?;
    Ok(rows.iter().map(|r| Column { name: r.get(0), ty: r.get(1) }).collect())
}

fn opt_day(s: Option<String>) -> Result<Option<Day>> {
    s.as_deref().map(text_day).transpose()
}

const SPELL_SELECT: &str = "SELECT c.id, l.role, e.id, to_char(l.valid_from, 'YYYY-MM-DD'), to_char(l.valid_to, 'YYYY-MM-DD'), \
     l.cause, l.rule, l.scheme, l.note, o.made_by, o.made_at, x.made_by, x.made_at \
     FROM links l JOIN clients c ON c.key = l.client JOIN employees e ON e.key = l.employee \
     JOIN changes o ON o.id = l.opened_by LEFT JOIN changes x ON x.id = l.closed_by";

fn spells(c: &mut impl GenericClient, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<Spell>> {
    let rows = c.query(sql, params)?;
    rows.iter()
        .map(|r| {
            Ok(Spell {
                client: r.get(0),
                role: r.get(1),
                employee: r.get(2),
                from: text_day(r.get::<_, &str>(3))?,
                to: opt_day(r.get(4))?,
                cause: Cause::parse(r.get(5))?,
                rule: r.get(6),
                scheme: r.get(7),
                note: r.get(8),
                opened_by: r.get(9),
                opened_at: r.get(10),
                closed_by: r.get(11),
                closed_at: r.get(12),
            })
        })
        .collect()
}

struct PgRouteTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    change: i64,
    recorded: u64,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

type Params<'p> = [&'p (dyn postgres::types::ToSql + Sync)];

impl PgRouteTx<'_, '_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
    fn q(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<postgres::Row>> {
        let st = self.statement(sql)?;
        Ok(self.tx.query(&st, params)?)
    }
    fn x(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let st = self.statement(sql)?;
        Ok(self.tx.execute(&st, params)?)
    }
}

impl RouteTx for PgRouteTx<'_, '_> {
    fn change(&self) -> i64 {
        self.change
    }
    fn replays(&mut self, keys: &[String]) -> Result<Vec<Replay>> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let rows = self.q("SELECT idem_key, request_hash, response FROM routes WHERE idem_key = ANY($1)", &[&keys])?;
        Ok(rows.iter().map(|r| Replay { key: r.get(0), hash: r.get(1), response: r.get(2) }).collect())
    }
    fn find_clients(&mut self, kind: &str, values: &[String]) -> Result<Vec<FoundClient>> {
        if values.is_empty() {
            return Ok(vec![]);
        }
        let rows = if kind == "id" {
            self.q("SELECT id, key, id FROM clients WHERE id = ANY($1)", &[&values])?
        } else {
            self.q(
                "SELECT k.value, c.key, c.id FROM client_keys k JOIN clients c ON c.key = k.client WHERE k.kind = $1 AND k.value = ANY($2)",
                &[&kind, &values],
            )?
        };
        Ok(rows.iter().map(|r| FoundClient { value: r.get(0), key: r.get(1), id: r.get(2) }).collect())
    }
    fn owners(&mut self, client: i64, date: Day) -> Result<Vec<Holder>> {
        let d = day_text(date);
        let rows = self.q(
            "SELECT role, employee, rule FROM links WHERE client = $1 AND valid_from <= $2::text::date \
             AND (valid_to IS NULL OR valid_to > $2::text::date) ORDER BY role COLLATE \"C\"",
            &[&client, &d],
        )?;
        Ok(rows.iter().map(|r| Holder { role: r.get(0), employee: r.get(1), rule: r.get(2) }).collect())
    }
    fn client_attrs(&mut self, clients: &[i64]) -> Result<Vec<ClientAttrs>> {
        if clients.is_empty() {
            return Ok(vec![]);
        }
        let rows = self.q("SELECT key, attrs::text FROM clients WHERE key = ANY($1)", &[&clients])?;
        Ok(rows.iter().map(|r| ClientAttrs { key: r.get(0), attrs: r.get(1) }).collect())
    }
    fn find_deals(&mut self, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let rows = self.q("SELECT id FROM deals WHERE id = ANY($1)", &[&ids])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
    fn pools(&mut self) -> Result<Vec<PoolRow>> {
        // Locked for the batch: two servers on one database take turns with each pool.
        let rows = self.q("SELECT rule, state FROM pools ORDER BY rule FOR UPDATE", &[])?;
        Ok(rows.iter().map(|r| PoolRow { rule: r.get(0), state: r.get(1) }).collect())
    }
    fn save_pool(&mut self, rule: &str, state: &str) -> Result<()> {
        let change = self.change;
        self.x(
            "INSERT INTO pools (rule, state, changed) VALUES ($1, $2, $3) ON CONFLICT (rule) DO UPDATE SET state = EXCLUDED.state, changed = EXCLUDED.changed",
            &[&rule, &state, &change],
        )?;
        Ok(())
    }
    fn write(&mut self, w: &RouteWrites) -> Result<()> {
        let change = self.change;
        let mut keys: Vec<i64> = Vec::with_capacity(w.clients.len());
        if !w.clients.is_empty() {
            let ids: Vec<&str> = w.clients.iter().map(|c| c.id.as_str()).collect();
            let attrs: Vec<&str> = w.clients.iter().map(|c| c.attrs.as_str()).collect();
            let rows = self.q(
                "INSERT INTO clients (id, attrs, imported_by) \
                 SELECT u.id, jsonb_strip_nulls(coalesce(t.attrs, '{}'::jsonb) || u.attrs::jsonb), $3 \
                 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, attrs, n) LEFT JOIN clients t ON t.id = u.id ORDER BY u.n \
                 ON CONFLICT (id) DO UPDATE SET attrs = EXCLUDED.attrs, imported_by = EXCLUDED.imported_by RETURNING id, key",
                &[&ids, &attrs, &change],
            )?;
            let by_id: std::collections::HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            for c in &w.clients {
                keys.push(*by_id.get(&c.id).ok_or_else(|| StoreError::Db(format!("client `{}` was not written", c.id)))?);
            }
            let (mut kinds, mut values, mut owners) = (Vec::new(), Vec::new(), Vec::new());
            for (c, key) in w.clients.iter().zip(&keys) {
                for (k, v) in &c.keys {
                    kinds.push(k.as_str());
                    values.push(v.as_str());
                    owners.push(*key);
                }
            }
            if !kinds.is_empty() {
                self.x(
                    "INSERT INTO client_keys (kind, value, client) \
                     SELECT DISTINCT ON (kind, value) kind, value, client FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS u(kind, value, client, n) \
                     ORDER BY kind, value, n DESC \
                     ON CONFLICT (kind, value) DO UPDATE SET client = EXCLUDED.client",
                    &[&kinds, &values, &owners],
                )?;
            }
        }
        let resolve = |c: ClientRef| match c {
            ClientRef::Stored(k) => Ok(k),
            ClientRef::New(i) => keys.get(i).copied().ok_or_else(|| StoreError::Db(format!("routing wrote no client {i}"))),
        };
        if !w.deals.is_empty() {
            let ids: Vec<&str> = w.deals.iter().map(|d| d.id.as_str()).collect();
            let clients: Vec<i64> = w.deals.iter().map(|d| d.client).collect();
            let attrs: Vec<&str> = w.deals.iter().map(|d| d.attrs.as_str()).collect();
            self.x(
                "INSERT INTO deals (id, client, attrs, imported_by) SELECT u.id, u.client, u.attrs::jsonb, $4 \
                 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, client, attrs)",
                &[&ids, &clients, &attrs, &change],
            )?;
        }
        if !w.links.is_empty() {
            let client: Vec<i64> = w.links.iter().map(|(c, _)| resolve(*c)).collect::<Result<_>>()?;
            let role: Vec<&str> = w.links.iter().map(|(_, o)| o.role.as_str()).collect();
            let employee: Vec<i64> = w.links.iter().map(|(_, o)| o.employee).collect();
            let from: Vec<String> = w.links.iter().map(|(_, o)| day_text(o.from)).collect();
            let to: Vec<Option<String>> = w.links.iter().map(|(_, o)| o.to.map(day_text)).collect();
            let cause: Vec<&str> = w.links.iter().map(|(_, o)| o.cause.as_str()).collect();
            let rule: Vec<Option<&str>> = w.links.iter().map(|(_, o)| o.rule.as_deref()).collect();
            let scheme: Vec<Option<i64>> = w.links.iter().map(|(_, o)| o.scheme).collect();
            let note: Vec<&str> = w.links.iter().map(|(_, o)| o.note.as_str()).collect();
            let absence: Vec<Option<i64>> = w.links.iter().map(|(_, o)| o.absence).collect();
            self.x(
                "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, rule, scheme, note, absence, opened_by, closed_by) \
                 SELECT u.client, u.role, r.several, u.employee, u.f::date, u.t::date, u.cause, u.rule, u.scheme, u.note, u.absence, $11, \
                 CASE WHEN u.t IS NULL THEN NULL ELSE $11::bigint END \
                 FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[]) \
                 AS u(client, role, employee, f, t, cause, rule, scheme, note, absence) JOIN roles r ON r.id = u.role",
                &[&client, &role, &employee, &from, &to, &cause, &rule, &scheme, &note, &absence, &change],
            )?;
        }
        if !w.routed.is_empty() {
            let key: Vec<Option<&str>> = w.routed.iter().map(|r| r.key.as_deref()).collect();
            let hash: Vec<&str> = w.routed.iter().map(|r| r.hash.as_str()).collect();
            let client: Vec<i64> = w.routed.iter().map(|r| resolve(r.client)).collect::<Result<_>>()?;
            let response: Vec<&str> = w.routed.iter().map(|r| r.response.as_str()).collect();
            self.x(
                "INSERT INTO routes (idem_key, request_hash, client, response, routed_by) \
                 SELECT k, h, c, r, $5 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(k, h, c, r)",
                &[&key, &hash, &client, &response, &change],
            )?;
            self.recorded += w.routed.len() as u64;
        }
        Ok(())
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn route(&mut self, actor: &Actor, roles: &[String], work: &mut RouteWork<'_>) -> Result<i64> {
        // As `write`, with the statement cache borrowed beside the transaction.
        let mut tx = self.client.transaction()?;
        tx.batch_execute(WRITE_SETUP)?;
        let change = add_change(&mut tx, "route", actor, None, "")?;
        for role in roles {
            tx.execute("INSERT INTO roles (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", &[role])?;
        }
        let mut rtx = PgRouteTx { tx: &mut tx, change, recorded: 0, statements: &mut self.statements };
        work(&mut rtx)?;
        let summary = format!("{} items routed", rtx.recorded);
        tx.execute("UPDATE changes SET summary = $1 WHERE id = $2", &[&summary, &change])?;
        tx.commit()?;
        Ok(change)
    }

    fn routing_revision(&mut self) -> Result<i64> {
        Ok(self.client.query_one("SELECT coalesce(max(id), 0)::bigint FROM changes WHERE kind IN ('import', 'apply', 'pin', 'unpin', 'absence', 'leave', 'token')", &[])?.get(0))
    }

    fn pool_state(&mut self, rule: &str) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT state FROM pools WHERE rule = $1", &[&rule])?.map(|r| r.get(0)))
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
        let mut tx = self.write()?;
        let change = add_change(&mut tx, "token", actor, None, &format!("token `{label}` ({scope})"))?;
        let emp = match employee {
            Some(e) => Some(key_of(&mut tx, "employees", "employee", e)?),
            None => None,
        };
        let expires = expires.map(day_text);
        let id: i64 = tx
            .query_one(
                "INSERT INTO tokens (hash, scope, employee, label, created_by, expires_on) VALUES ($1, $2, $3, $4, $5, $6::text::date) RETURNING id",
                &[&hash, &scope, &emp, &label, &change, &expires],
            )?
            .get(0);
        tx.commit()?;
        Ok(id)
    }

    fn token(&mut self, hash: &str) -> Result<Option<Token>> {
        let row = self.client.query_opt(
            "SELECT t.id, t.scope, e.id, t.label, to_char(t.expires_on, 'YYYY-MM-DD') FROM tokens t LEFT JOIN employees e ON e.key = t.employee \
             WHERE t.hash = $1 AND t.revoked_by IS NULL",
            &[&hash],
        )?;
        row.map(|r| Ok(Token { id: r.get(0), scope: r.get(1), employee: r.get(2), label: r.get(3), expires: opt_day(r.get(4))? }))
            .transpose()
    }

    fn tokens(&mut self) -> Result<Vec<TokenInfo>> {
        let rows = self.client.query(
            "SELECT t.id, t.scope, e.id, t.label, to_char(t.expires_on, 'YYYY-MM-DD'), c.made_by, c.made_at, r.made_by, r.made_at FROM tokens t \
             LEFT JOIN employees e ON e.key = t.employee JOIN changes c ON c.id = t.created_by LEFT JOIN changes r ON r.id = t.revoked_by \
             ORDER BY t.id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let token = Token { id: r.get(0), scope: r.get(1), employee: r.get(2), label: r.get(3), expires: opt_day(r.get(4))? };
                let revoked = r.get::<_, Option<String>>(7).zip(r.get::<_, Option<String>>(8));
                Ok(TokenInfo { token, created_by: r.get(5), created_at: r.get(6), revoked })
            })
            .collect()
    }

    fn revoke_token(&mut self, id: i64, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let found = tx.query_opt("SELECT label, revoked_by FROM tokens WHERE id = $1", &[&id])?.map(|r| (r.get(0), r.get(1)));
        let label = crate::check_revocable(id, found)?;
        let change = add_change(&mut tx, "token", actor, None, &format!("token `{label}` revoked"))?;
        tx.execute("UPDATE tokens SET revoked_by = $1 WHERE id = $2", &[&change, &id])?;
        tx.commit()?;
        Ok(change)
    }

    fn save_plan(&mut self, id: &str, body: &str, actor: &Actor) -> Result<()> {
        self.client
            .execute("INSERT INTO plans (id, body, made_by, made_at) VALUES ($1, $2, $3, $4)", &[&id, &body, &actor.by, &actor.at])?;
        Ok(())
    }

    fn plan_body(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT body FROM plans WHERE id = $1", &[&id])?.map(|r| r.get(0)))
    }

    fn redate_routed(&mut self, client: &str, day: Day, actor: &Actor) -> Result<(i64, usize)> {
        let mut tx = self.write()?;
        let key = key_of(&mut tx, "clients", "client", client)?;
        let r = tx.query_one(
            "SELECT count(*), count(*) FILTER (WHERE c.kind <> 'route' OR l.valid_to IS NOT NULL) FROM links l JOIN changes c ON c.id = l.opened_by WHERE l.client = $1",
            &[&key],
        )?;
        crate::check_redatable(client, r.get(0), r.get(1))?;
        let d = day_text(day);
        let change = add_change(&mut tx, "route", actor, None, &format!("client `{client}`: routed links redated to {d}"))?;
        let moved =
            tx.execute("UPDATE links SET valid_from = $2::text::date WHERE client = $1 AND valid_from > $2::text::date", &[&key, &d])?;
        tx.commit()?;
        Ok((change, moved as usize))
    }

    fn health(&mut self) -> Result<Health> {
        let revision = revision_of(&mut self.client)?;
        // A standby, or a session whose transactions default to read-only, refuses every write.
        let r = self.client.query_one("SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'", &[])?;
        let (standby, read_only): (bool, bool) = (r.get(0), r.get(1));
        Ok(Health { revision, writable: !standby && !read_only })
    }

    fn revision(&mut self) -> Result<i64> {
        revision_of(&mut self.client)
    }

    fn changes(&mut self) -> Result<Vec<Change>> {
        let rows = self.client.query("SELECT id, kind, made_by, made_at, file, summary FROM changes ORDER BY id", &[])?;
        Ok(rows.iter().map(change_row).collect())
    }

    fn columns(&mut self, subject: Subject) -> Result<Vec<Column>> {
        columns_of(&mut self.client, subject)
    }

    fn import(&mut self, import: &Import<'_>, actor: &Actor) -> Result<Imported> {
        let _span = tracing::info_span!("import", subject = import.subject.as_str(), rows = import.rows.len()).entered();
        let mut tx = self.write()?;
        let change = add_change(&mut tx, "import", actor, Some(import.file), "")?;
        let subject = import.subject.as_str();
        for c in import.columns {
            tx.execute(
                "INSERT INTO attributes (subject, name, type, position) \
                 VALUES ($1, $2, $3, (SELECT coalesce(max(position), -1) + 1 FROM attributes WHERE subject = $1)) \
                 ON CONFLICT (subject, name) DO NOTHING",
                &[&subject, &c.name, &c.ty],
            )?;
            let stored: String = tx.query_one("SELECT type FROM attributes WHERE subject = $1 AND name = $2", &[&subject, &c.name])?.get(0);
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
        let before: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.get(0);
        // Writers are serialised (see `write`), so merging with the stored attributes read here
        // cannot lose a concurrent update.
        let sql = match import.subject {
            Subject::Deal => "INSERT INTO deals (id, client, attrs, imported_by) \
                 SELECT u.id, c.key, jsonb_strip_nulls(coalesce(d.attrs, '{}'::jsonb) || u.attrs::jsonb), $4 \
                 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, client, attrs) \
                 LEFT JOIN clients c ON c.id = u.client LEFT JOIN deals d ON d.id = u.id \
                 ON CONFLICT (id) DO UPDATE SET client = EXCLUDED.client, attrs = EXCLUDED.attrs, imported_by = EXCLUDED.imported_by \
                 WHERE deals.client IS DISTINCT FROM EXCLUDED.client OR deals.attrs IS DISTINCT FROM EXCLUDED.attrs"
                .to_string(),
            _ => format!(
                "INSERT INTO {table} (id, attrs, imported_by) \
                 SELECT u.id, jsonb_strip_nulls(coalesce(t.attrs, '{{}}'::jsonb) || u.attrs::jsonb), $3 \
                 FROM unnest($1::text[], $2::text[]) AS u(id, attrs) LEFT JOIN {table} t ON t.id = u.id \
                 ON CONFLICT (id) DO UPDATE SET attrs = EXCLUDED.attrs, imported_by = EXCLUDED.imported_by \
                 WHERE {table}.attrs IS DISTINCT FROM EXCLUDED.attrs"
            ),
        };
        let st = tx.prepare(&sql)?;
        let mut touched = 0u64;
        for chunk in import.rows.chunks(CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|r| r.id.as_str()).collect();
            let attrs: Vec<&str> = chunk.iter().map(|r| r.attrs.as_str()).collect();
            let res = match import.subject {
                Subject::Deal => {
                    let clients: Vec<&str> = chunk.iter().map(|r| r.client.as_deref().unwrap_or("")).collect();
                    tx.execute(&st, &[&ids, &clients, &attrs, &change])
                }
                _ => tx.execute(&st, &[&ids, &attrs, &change]),
            };
            // Rows inserted or changed; a row already so is not counted.
            touched += res.map_err(|e| match e.code() {
                Some(c) if *c == postgres::error::SqlState::NOT_NULL_VIOLATION => {
                    StoreError::Refused("a deal names a client that is not in the store".into())
                }
                _ => StoreError::from(e),
            })?;
        }
        let keyed: Vec<(&str, &str, &str)> =
            import.rows.iter().flat_map(|r| r.keys.iter().map(move |(k, v)| (k.as_str(), v.as_str(), r.id.as_str()))).collect();
        if import.subject == Subject::Client && !keyed.is_empty() {
            let st = tx.prepare(
                "INSERT INTO client_keys (kind, value, client) \
                 SELECT DISTINCT ON (u.kind, u.value) u.kind, u.value, c.key FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(kind, value, id, n) \
                 JOIN clients c ON c.id = u.id ORDER BY u.kind, u.value, u.n DESC \
                 ON CONFLICT (kind, value) DO UPDATE SET client = EXCLUDED.client",
            )?;
            for chunk in keyed.chunks(CHUNK) {
                let kinds: Vec<&str> = chunk.iter().map(|k| k.0).collect();
                let values: Vec<&str> = chunk.iter().map(|k| k.1).collect();
                let ids: Vec<&str> = chunk.iter().map(|k| k.2).collect();
                tx.execute(&st, &[&kinds, &values, &ids])?;
            }
        }
        let after: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.get(0);
        let inserted = (after - before) as u64;
        let updated = touched - inserted;
        let summary = import_summary(import.rows.len(), subject, inserted, updated);
        tx.execute("UPDATE changes SET summary = $1 WHERE id = $2", &[&summary, &change])?;
        tx.commit()?;
        Ok(Imported { change, inserted, updated, unchanged: import.rows.len() as u64 - touched })
    }

    fn active_scheme(&mut self) -> Result<Option<SchemeVersion>> {
        Ok(self
            .client
            .query_opt("SELECT version, text FROM schemes ORDER BY version DESC LIMIT 1", &[])?
            .map(|r| SchemeVersion { version: r.get(0), text: r.get(1) }))
    }

    fn schemes(&mut self) -> Result<Vec<SchemeVersion>> {
        let rows = self.client.query("SELECT version, text FROM schemes ORDER BY version", &[])?;
        Ok(rows.iter().map(|r| SchemeVersion { version: r.get(0), text: r.get(1) }).collect())
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
        let mut tx = self.write()?;
        let now = revision_of(&mut tx)?;
        if now != changes.base {
            return Err(refuse_stale(changes.base, now, last_change(&mut tx)?));
        }
        let change = add_change(&mut tx, "apply", actor, None, &changes.summary)?;
        let scheme = match &changes.scheme {
            Some(text) => {
                let v: i64 = tx.query_one("SELECT coalesce(max(version), 0)::bigint + 1 FROM schemes", &[])?.get(0);
                tx.execute("INSERT INTO schemes (version, text, applied_by) VALUES ($1, $2, $3)", &[&v, text, &change])?;
                Some(v)
            }
            None => None,
        };
        for (role, several) in &changes.roles {
            tx.execute("INSERT INTO roles (id, several) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", &[role, several])?;
        }
        // Closes by day (a plan has one or two): `id = ANY(…)` walks the primary key, whatever the
        // planner believes about the table's size.
        let close = tx.prepare(
            "UPDATE links SET valid_to = $2::text::date, closed_by = $3 \
             WHERE id = ANY($1::bigint[]) AND valid_from <= $2::text::date AND (valid_to IS NULL OR valid_to > $2::text::date)",
        )?;
        let mut by_day: BTreeMap<Day, Vec<i64>> = BTreeMap::new();
        for c in &changes.closes {
            by_day.entry(c.at).or_default().push(c.link);
        }
        for (day, ids) in &by_day {
            let at = day_text(*day);
            for chunk in ids.chunks(CHUNK) {
                let n = tx.execute(&close, &[&chunk, &at, &change])?;
                if n != chunk.len() as u64 {
                    return Err(StoreError::Refused(format!(
                        "{} of the plan's links are not valid on {at}: the plan does not fit the store",
                        chunk.len() as u64 - n
                    )));
                }
            }
        }
        let open = tx.prepare(
            "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, rule, scheme, note, absence, opened_by, closed_by) \
             SELECT u.client, u.role, r.several, u.employee, u.f::date, u.t::date, u.cause, u.rule, u.scheme, u.note, u.absence, $11, \
             CASE WHEN u.t IS NULL THEN NULL ELSE $11::bigint END \
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[]) \
             AS u(client, role, employee, f, t, cause, rule, scheme, note, absence) JOIN roles r ON r.id = u.role",
        )?;
        for chunk in changes.opens.chunks(CHUNK) {
            let client: Vec<i64> = chunk.iter().map(|o| o.client).collect();
            let role: Vec<&str> = chunk.iter().map(|o| o.role.as_str()).collect();
            let employee: Vec<i64> = chunk.iter().map(|o| o.employee).collect();
            let from: Vec<String> = chunk.iter().map(|o| day_text(o.from)).collect();
            let to: Vec<Option<String>> = chunk.iter().map(|o| o.to.map(day_text)).collect();
            let cause: Vec<&str> = chunk.iter().map(|o| o.cause.as_str()).collect();
            let rule: Vec<Option<&str>> = chunk.iter().map(|o| o.rule.as_deref()).collect();
            let scheme: Vec<Option<i64>> = chunk.iter().map(|o| o.scheme).collect();
            let note: Vec<&str> = chunk.iter().map(|o| o.note.as_str()).collect();
            let absence: Vec<Option<i64>> = chunk.iter().map(|o| o.absence).collect();
            let n = tx.execute(&open, &[&client, &role, &employee, &from, &to, &cause, &rule, &scheme, &note, &absence, &change])?;
            if n != chunk.len() as u64 {
                return Err(StoreError::Refused("a link of the plan names a role the store does not know".into()));
            }
        }
        for (table, ids) in [("absences", &changes.absences), ("leavers", &changes.leavers)] {
            let sql = format!("UPDATE {table} SET applied_by = $1 WHERE id = $2 AND applied_by IS NULL");
            for id in ids {
                if tx.execute(&sql, &[&change, id])? != 1 {
                    return Err(StoreError::Refused(format!("{table} entry {id} is unknown or already carried out")));
                }
            }
        }
        tx.commit()?;
        if changes.opens.len() + changes.closes.len() > 100_000 {
            // Fresh statistics after a bulk change keep the planner on the indexes.
            self.client.batch_execute("ANALYZE links")?;
        }
        Ok(Applied { change, closed: changes.closes.len() as u64, opened: changes.opens.len() as u64, scheme })
    }

    fn pin(&mut self, pin: &PinRequest<'_>, actor: &Actor) -> Result<Pinned> {
        let mut tx = self.write()?;
        let change = add_change(&mut tx, "pin", actor, None, &format!("{} {} → {}: {}", pin.client, pin.role, pin.employee, pin.reason))?;
        let client = key_of(&mut tx, "clients", "client", pin.client)?;
        let employee = key_of(&mut tx, "employees", "employee", pin.employee)?;
        tx.execute("INSERT INTO roles (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", &[&pin.role])?;
        let replaced = tx.execute(
            "UPDATE pins SET unpinned_by = $1 WHERE client = $2 AND role = $3 AND unpinned_by IS NULL",
            &[&change, &client, &pin.role],
        )?;
        tx.execute(
            "INSERT INTO pins (client, role, employee, reason, pinned_by) VALUES ($1, $2, $3, $4, $5)",
            &[&client, &pin.role, &employee, &pin.reason, &change],
        )?;
        let d = day_text(pin.date);
        let cur: Option<(i64, i64)> = tx
            .query_opt(
                "SELECT id, employee FROM links WHERE client = $1 AND role = $2 AND valid_from <= $3::text::date \
                 AND (valid_to IS NULL OR valid_to > $3::text::date) ORDER BY valid_from DESC, id DESC LIMIT 1",
                &[&client, &pin.role, &d],
            )?
            .map(|r| (r.get(0), r.get(1)));
        let next: Option<String> = tx
            .query_one(
                "SELECT to_char(min(valid_from), 'YYYY-MM-DD') FROM links WHERE client = $1 AND role = $2 AND valid_from > $3::text::date \
                 AND (valid_to IS NULL OR valid_to > valid_from)",
                &[&client, &pin.role, &d],
            )?
            .get(0);
        let mut moved_from = None;
        if cur.map(|c| c.1) != Some(employee) {
            if let Some((link, old)) = cur {
                tx.execute("UPDATE links SET valid_to = $1::text::date, closed_by = $2 WHERE id = $3", &[&d, &change, &link])?;
                moved_from = Some(tx.query_one("SELECT id FROM employees WHERE key = $1", &[&old])?.get(0));
            }
            let scheme: Option<i64> = tx.query_one("SELECT max(version) FROM schemes", &[])?.get(0);
            tx.execute(
                "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, scheme, note, opened_by, closed_by) \
                 VALUES ($1, $2, (SELECT several FROM roles WHERE id = $2), $3, $4::text::date, $5::text::date, 'pin', $6, $7, $8, \
                 CASE WHEN $5::text IS NULL THEN NULL ELSE $8::bigint END)",
                &[&client, &pin.role, &employee, &d, &next, &scheme, &pin.reason, &change],
            )?;
        }
        tx.commit()?;
        Ok(Pinned { change, moved_from, replaced_pin: replaced > 0 })
    }

    fn unpin(&mut self, client: &str, role: &str, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let change = add_change(&mut tx, "unpin", actor, None, &format!("{client} {role}"))?;
        let key = key_of(&mut tx, "clients", "client", client)?;
        let n = tx
            .execute("UPDATE pins SET unpinned_by = $1 WHERE client = $2 AND role = $3 AND unpinned_by IS NULL", &[&change, &key, &role])?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "pin for", id: format!("{client} in role {role}") });
        }
        tx.commit()?;
        Ok(change)
    }

    fn add_absence(&mut self, employee: &str, first: Day, last: Day, cover: Option<&str>, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let (f, l) = (day_text(first), day_text(last));
        let summary = format!("{employee} absent {f} to {l}{}", cover.map_or(String::new(), |c| format!(", covered by {c}")));
        let change = add_change(&mut tx, "absence", actor, None, &summary)?;
        let key = key_of(&mut tx, "employees", "employee", employee)?;
        let cover = match cover {
            Some(c) => Some(key_of(&mut tx, "employees", "employee", c)?),
            None => None,
        };
        let clash = tx.query_opt(
            "SELECT to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD') FROM absences \
             WHERE employee = $1 AND first_day <= $3::text::date AND last_day >= $2::text::date LIMIT 1",
            &[&key, &f, &l],
        )?;
        if let Some(r) = clash {
            return Err(StoreError::Refused(format!(
                "{employee} is already registered as absent from {} to {}",
                r.get::<_, &str>(0),
                r.get::<_, &str>(1)
            )));
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO absences (employee, first_day, last_day, cover, registered_by) \
                 VALUES ($1, $2::text::date, $3::text::date, $4, $5) RETURNING id",
                &[&key, &f, &l, &cover, &change],
            )?
            .get(0);
        tx.commit()?;
        Ok(id)
    }

    fn add_leaver(&mut self, employee: &str, on: Day, actor: &Actor) -> Result<i64> {
        let mut tx = self.write()?;
        let on = day_text(on);
        let change = add_change(&mut tx, "leave", actor, None, &format!("{employee} leaves on {on}"))?;
        let key = key_of(&mut tx, "employees", "employee", employee)?;
        if let Some(r) = tx.query_opt("SELECT to_char(left_on, 'YYYY-MM-DD') FROM leavers WHERE employee = $1", &[&key])? {
            return Err(StoreError::Refused(format!("{employee} is already registered as leaving on {}", r.get::<_, &str>(0))));
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO leavers (employee, left_on, registered_by) VALUES ($1, $2::text::date, $3) RETURNING id",
                &[&key, &on, &change],
            )?
            .get(0);
        tx.commit()?;
        Ok(id)
    }

    fn history(&mut self, client: &str) -> Result<Vec<Spell>> {
        key_of(&mut self.client, "clients", "client", client)?;
        spells(&mut self.client, &format!("{SPELL_SELECT} WHERE c.id = $1 ORDER BY l.role COLLATE \"C\", l.valid_from, l.id"), &[&client])
    }

    fn read_sales(&mut self, first: Option<Day>, last: Day, visit: &mut SalesVisit<'_>) -> Result<i64> {
        let _span = tracing::info_span!("read_sales").entered();
        let (f, l) = (first.map(day_text), day_text(last));
        let mut tx = self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let revision = revision_of(&mut tx)?;
        let mut rows = tx.query_raw(
            "SELECT client, role, employee, to_char(valid_from, 'YYYY-MM-DD'), to_char(valid_to, 'YYYY-MM-DD') FROM links \
             WHERE valid_from <= $2::text::date AND (valid_to IS NULL OR (($1::text IS NULL OR valid_to > $1::text::date) AND valid_to > valid_from))",
            [&f as &(dyn postgres::types::ToSql + Sync), &l],
        )?;
        while let Some(r) = rows.next()? {
            visit(SalesRow::Held(Holding {
                client: r.get(0),
                role: r.get(1),
                employee: r.get(2),
                from: text_day(r.get::<_, &str>(3))?,
                to: r.get::<_, Option<&str>>(4).map(text_day).transpose()?,
            }));
        }
        drop(rows);
        // The changes that routed (few beside millions of deals): a set, not a join per deal.
        let routes: std::collections::HashSet<i64> =
            tx.query("SELECT id FROM changes WHERE kind = 'route'", &[])?.iter().map(|r| r.get(0)).collect();
        let mut rows = tx.query_raw("SELECT id, client, attrs::text, imported_by FROM deals ORDER BY key", std::iter::empty::<i64>())?;
        while let Some(r) = rows.next()? {
            let routed = routes.contains(&r.get::<_, i64>(3));
            visit(SalesRow::Deal { id: r.get(0), client: r.get(1), attrs: r.get(2), routed });
        }
        drop(rows);
        tx.commit()?;
        Ok(revision)
    }

    fn owners_at(&mut self, date: Day, client: Option<&str>) -> Result<Vec<Spell>> {
        let d = day_text(date);
        let valid = "l.valid_from <= $1::text::date AND (l.valid_to IS NULL OR l.valid_to > $1::text::date)";
        match client {
            Some(c) => {
                let rows = spells(
                    &mut self.client,
                    &format!("{SPELL_SELECT} WHERE c.id = $2 AND {valid} ORDER BY l.role COLLATE \"C\", e.id COLLATE \"C\""),
                    &[&d, &c],
                )?;
                if rows.is_empty() {
                    key_of(&mut self.client, "clients", "client", c)?;
                }
                Ok(rows)
            }
            // COLLATE "C": the same byte order as SQLite, whatever the database's locale.
            None => spells(
                &mut self.client,
                &format!("{SPELL_SELECT} WHERE {valid} ORDER BY c.id COLLATE \"C\", l.role COLLATE \"C\", e.id COLLATE \"C\""),
                &[&d],
            ),
        }
    }

    fn book(&mut self, employee: &str, date: Day) -> Result<Vec<Spell>> {
        key_of(&mut self.client, "employees", "employee", employee)?;
        let d = day_text(date);
        spells(
            &mut self.client,
            &format!(
                "{SPELL_SELECT} WHERE e.id = $2 AND l.valid_from <= $1::text::date AND (l.valid_to IS NULL OR l.valid_to > $1::text::date) \
                 ORDER BY c.id COLLATE \"C\", l.role COLLATE \"C\""
            ),
            &[&d, &employee],
        )
    }
    fn client_attributes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>> {
        let rows = self.client.query("SELECT id, attrs::text FROM clients WHERE id = ANY($1) ORDER BY id COLLATE \"C\"", &[&ids])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
