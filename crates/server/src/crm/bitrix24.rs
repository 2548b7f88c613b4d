//! A Bitrix24 portal over its REST API (issue #18 §1), as its public documentation describes it
//! (`bitrix-tools/b24-rest-docs`): methods called on an incoming webhook's address
//! (`https://PORTAL/rest/USER/KEY/METHOD`), JSON bodies; list methods answer 50 records a page
//! with `next` and `total`; `batch` runs up to 50 calls in one request (each call a method and its
//! parameters as a query string); the portal takes about two requests a second and answers
//! `QUERY_LIMIT_EXCEEDED` (HTTP 503) beyond that.
//!
//! [`Portal`] paces its requests to the portal's rate, backs off on the limit and on 5xx, and
//! reads a whole list in batches of 50 pages. The webhook's key is part of its address: it is
//! never printed — [`Portal`]'s errors and `Debug` name the portal's host only.

use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

/// Records per page of a list method.
pub const PAGE: u64 = 50;
/// Calls per `batch` request.
pub const BATCH: usize = 50;
/// Tries of one request before giving up on the limit or on 5xx answers.
const TRIES: u32 = 8;

/// Why a call did not give its result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The portal could not be reached (or did not answer in time).
    #[error("the portal {host} cannot be reached: {why}")]
    Unreachable { host: String, why: String },
    /// The portal kept refusing for its rate limit or kept failing (5xx) after every retry.
    #[error("the portal {host} kept refusing ({status}, {code}) after {tries} tries")]
    GaveUp { host: String, status: u16, code: String, tries: u32 },
    /// The portal answered an error for the call: its code and description.
    #[error("the portal {host} answered {code} for {method}: {description}")]
    Refused { host: String, method: String, code: String, description: String },
    /// The answer was not what the documentation describes.
    #[error("the portal {host} answered {method} with something unreadable: {why}")]
    Unreadable { host: String, method: String, why: String },
}

/// How the portal's rate is kept: requests a second on average, how many may go at once after a
/// quiet while (a leaky bucket on allot's side, inside the portal's own), and back-off.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Requests per second at most, on average (Bitrix24: 2).
    pub per_second: f64,
    /// Requests that may go at once after a quiet while (Bitrix24's own bucket holds 50: allot
    /// keeps to 10, so that a routed lead's read and write-back do not wait their turn).
    pub burst: u32,
    /// The first wait after a refusal (doubled each time, up to `max_wait`).
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl CallError {
    /// The HTTP status a failed call is recorded with in the outbox (0: not reached; a refusal's
    /// own status when its code is one, as amoCRM's are, else 400).
    pub fn status(&self) -> i64 {
        match self {
            CallError::Unreachable { .. } => 0,
            CallError::GaveUp { status, .. } => i64::from(*status),
            CallError::Refused { code, .. } => code.parse().unwrap_or(400),
            CallError::Unreadable { .. } => 502,
        }
    }
}

impl Pace {
    /// Waits for a request's turn: `due` is when the bucket is empty again (the generic cell rate
    /// algorithm's theoretical arrival time); a request may go while that is less than `burst`
    /// intervals ahead.
    pub(crate) async fn turn(&self, due: &mut Option<Instant>) {
        let interval = Duration::from_secs_f64(1.0 / self.per_second.max(0.01));
        let tolerance = interval * self.burst.max(1).saturating_sub(1);
        if let Some(at) = *due {
            let now = Instant::now();
            if at > now + tolerance {
                tokio::time::sleep_until(at - tolerance).await;
            }
        }
        let now = Instant::now();
        *due = Some(due.map_or(now, |at| at.max(now)) + interval);
    }
}

impl Default for Pace {
    fn default() -> Pace {
        Pace { per_second: 2.0, burst: 10, first_wait: Duration::from_millis(500), max_wait: Duration::from_secs(30) }
    }
}

/// What a [`Portal`] has done so far (for progress and for the benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    /// Answers `QUERY_LIMIT_EXCEEDED` (or 503), each followed by a wait.
    pub limited: u64,
    /// Other 5xx answers, each retried.
    pub failed: u64,
}

/// A portal reached through an incoming webhook.
pub struct Portal {
    /// `https://PORTAL/rest/USER/KEY/`.
    base: String,
    host: String,
    http: reqwest::Client,
    pace: Pace,
    next_at: Option<Instant>,
    pub counts: Counts,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Portal({})", self.host)
    }
}

/// Checks an incoming webhook's address (`https://PORTAL/rest/USER/KEY/`); said without the key.
pub fn check_webhook(url: &str) -> Result<(String, String), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("the webhook address is not an address: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    if !matches!(parsed.scheme(), "https" | "http") || host.is_empty() {
        return Err("the webhook address must be https://PORTAL/rest/USER/KEY/".into());
    }
    let parts: Vec<&str> = parsed.path().trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["rest", user, key] if user.chars().all(|c| c.is_ascii_digit()) && !key.is_empty() => {}
        _ => return Err(format!("the webhook address of {host} must look like https://{host}/rest/USER/KEY/ (as Bitrix24 shows it)")),
    }
    let mut base = parsed.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok((base, host))
}

/// `value` as PHP's query strings write it (`filter[>DATE_MODIFY]=…&select[0]=ID`): how a call
/// inside `batch` carries its parameters.
pub fn query_string(params: &Value) -> String {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}[{k}]") };
                    walk(&key, v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            Value::Null => out.push(format!("{}=", encode(prefix))),
            Value::String(s) => out.push(format!("{}={}", encode(prefix), encode(s))),
            other => out.push(format!("{}={}", encode(prefix), encode(&other.to_string()))),
        }
    }
    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }
    let mut out = Vec::new();
    walk("", params, &mut out);
    out.join("&")
}

impl Portal {
    /// A portal at the incoming webhook `url`, paced by `pace`.
    pub fn new(url: &str, pace: Pace) -> Result<Portal, String> {
        let (base, host) = check_webhook(url)?;
        let http = super::http_client()?;
        Ok(Portal { base, host, http, pace, next_at: None, counts: Counts::default() })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Waits for the request's turn at the portal's rate.
    async fn turn(&mut self) {
        self.pace.turn(&mut self.next_at).await;
    }

    /// Calls `method` with `params`: the whole answer (`result`, `next`, `total`, `time`). Waits its
    /// turn; on the rate limit or a 5xx waits and tries again, up to 8 tries.
    pub async fn call(&mut self, method: &str, params: &Value) -> Result<Value, CallError> {
        let url = format!("{}{method}", self.base);
        let mut wait = self.pace.first_wait;
        let mut last = (0u16, String::new());
        for _ in 0..TRIES {
            self.turn().await;
            self.counts.requests += 1;
            let sent = self.http.post(&url).json(params).send().await;
            let r = match sent {
                Ok(r) => r,
                Err(e) => {
                    // The key is in the address: the error is said with the host alone.
                    let why = e.without_url().to_string();
                    return Err(CallError::Unreachable { host: self.host.clone(), why });
                }
            };
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let code = body["error"].as_str().unwrap_or_default().to_string();
            if code == "QUERY_LIMIT_EXCEEDED" || status == 503 || status == 429 {
                self.counts.limited += 1;
            } else if status >= 500 {
                self.counts.failed += 1;
            } else if !code.is_empty() {
                let description = body["error_description"].as_str().unwrap_or_default().to_string();
                return Err(CallError::Refused { host: self.host.clone(), method: method.to_string(), code, description });
            } else if body.get("result").is_none() {
                return Err(CallError::Unreadable {
                    host: self.host.clone(),
                    method: method.to_string(),
                    why: format!("HTTP {status} without a result"),
                });
            } else {
                return Ok(body);
            }
            last = (status, if code.is_empty() { format!("HTTP {status}") } else { code });
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.pace.max_wait);
        }
        Err(CallError::GaveUp { host: self.host.clone(), status: last.0, code: last.1, tries: TRIES })
    }

    /// Runs up to [`BATCH`] calls (a name, a method, its parameters) in one request: each call's
    /// result, or its error, by name.
    pub async fn batch(&mut self, calls: &[(String, String, Value)]) -> Result<Vec<(String, Result<Value, CallError>)>, CallError> {
        let mut cmd = Map::new();
        for (name, method, params) in calls.iter().take(BATCH) {
            cmd.insert(name.clone(), Value::String(format!("{method}?{}", query_string(params))));
        }
        let answer = self.call("batch", &json!({ "halt": 0, "cmd": cmd })).await?;
        let results = &answer["result"]["result"];
        let errors = &answer["result"]["result_error"];
        Ok(calls
            .iter()
            .take(BATCH)
            .map(|(name, method, _)| {
                let out = match (results.get(name), errors.get(name)) {
                    (_, Some(e)) => Err(CallError::Refused {
                        host: self.host.clone(),
                        method: method.clone(),
                        code: e["error"].as_str().unwrap_or_default().to_string(),
                        description: e["error_description"].as_str().unwrap_or_default().to_string(),
                    }),
                    (Some(r), None) => Ok(r.clone()),
                    (None, None) => {
                        Err(CallError::Unreadable { host: self.host.clone(), method: method.clone(), why: format!("no result for {name}") })
                    }
                };
                (name.clone(), out)
            })
            .collect())
    }

    /// Every record of list method `method` with `params`: the first page alone (it says the
    /// total), then the other pages 50 at a time in `batch` requests — 10,000 records in 5 requests.
    /// `progress` is told the records read so far and the total after each request.
    pub async fn list(&mut self, method: &str, params: &Value, mut progress: impl FnMut(u64, u64)) -> Result<Vec<Value>, CallError> {
        let first = self.call(method, &with_start(params, 0)).await?;
        let mut records = records_of(&first, method, &self.host)?;
        let total = first["total"].as_u64().unwrap_or(records.len() as u64);
        progress(records.len() as u64, total);
        if first.get("next").and_then(Value::as_u64).is_none() {
            return Ok(records);
        }
        let starts: Vec<u64> = (1..total.div_ceil(PAGE)).map(|p| p * PAGE).collect();
        for chunk in starts.chunks(BATCH) {
            let calls: Vec<(String, String, Value)> =
                chunk.iter().map(|s| (format!("p{s}"), method.to_string(), with_start(params, *s))).collect();
            for (_, page) in self.batch(&calls).await? {
                let page = page?;
                let page = page.as_array().ok_or_else(|| CallError::Unreadable {
                    host: self.host.clone(),
                    method: method.to_string(),
                    why: "a page is not a list".into(),
                })?;
                records.extend(page.iter().cloned());
            }
            progress(records.len() as u64, total);
        }
        Ok(records)
    }
}

/// What a pull read from a portal, as the files an import reads: the employees (`id,name`) and
/// the clients (`id` and the mapped attributes), CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub employees: String,
    pub clients: String,
    /// The deals (`id`, `client_id` and the mapped attributes), CSV; empty when not read.
    pub deals: String,
    pub users: usize,
    pub companies: usize,
    /// Leads read as clients (`[crm] leads = true`).
    pub leads: usize,
    /// Contacts read as clients (`[crm] contacts = true`).
    pub contacts: usize,
    pub deal_count: usize,
    /// Deals with neither a company nor (a client) contact: left out.
    pub deals_without_client: usize,
}

/// The companies' list fields and the reference list (`ENTITY_ID` of `crm.status.list`) that
/// names their items.
pub const LIST_FIELDS: &[(&str, &str)] = &[("INDUSTRY", "INDUSTRY"), ("COMPANY_TYPE", "COMPANY_TYPE"), ("EMPLOYEES", "EMPLOYEES")];

/// A field's value as a cell: text as it is, numbers as written, a list joined by `;`, nothing empty.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(";"),
        Value::Object(o) => o.get("VALUE").map(cell).unwrap_or_default(),
        other => other.to_string(),
    }
}

pub(crate) fn csv_of(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(headers);
    for r in rows {
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The names of the items of the mapped list fields, by field: item id → name.
#[derive(Debug, Clone, Default)]
pub struct Names(Vec<(String, std::collections::HashMap<String, String>)>);

impl Names {
    /// A field's value as a cell, its items named where the portal names them (each of a
    /// multiple field's).
    pub fn named(&self, field: &str, value: &Value) -> String {
        let Some((_, by_id)) = self.0.iter().find(|(f, _)| f == field) else { return cell(value) };
        let one = |v: &Value| {
            let id = cell(v);
            by_id.get(&id).filter(|n| !n.is_empty()).cloned().unwrap_or(id)
        };
        match value {
            Value::Array(items) => items.iter().map(one).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(";"),
            other => one(other),
        }
    }
}

/// Reads the names of the mapped list fields' items. A list field holds the id of its item
/// (INDUSTRY "IT"): the items' names are the portal's reference lists (`crm.status.list` by
/// ENTITY_ID), read once per field; a user field of a list (`enumeration`) names its items itself
/// (`crm.company.userfield.list`), one of a reference list (`crm_status`) says which.
pub async fn list_names(
    portal: &mut Portal,
    map: &allot_io::scheme::CrmMap,
    progress: &mut impl FnMut(&str, u64, u64),
) -> Result<Names, CallError> {
    let mut entities: Vec<(String, String)> = map
        .clients
        .iter()
        .filter_map(|(f, _)| LIST_FIELDS.iter().find(|(lf, _)| lf == f).map(|(_, e)| (f.clone(), e.to_string())))
        .collect();
    let mut names: Vec<(String, std::collections::HashMap<String, String>)> = Vec::new();
    if map.clients.iter().any(|(f, _)| f.starts_with("UF_")) {
        let fields = portal.list("crm.company.userfield.list", &json!({}), |d, t| progress("crm.company.userfield.list", d, t)).await?;
        for uf in fields {
            let name = cell(&uf["FIELD_NAME"]);
            if !map.clients.iter().any(|(f, _)| *f == name) {
                continue;
            }
            match uf["USER_TYPE_ID"].as_str() {
                Some("enumeration") => {
                    let items = uf["LIST"].as_array().cloned().unwrap_or_default();
                    names.push((name, items.iter().map(|i| (cell(&i["ID"]), cell(&i["VALUE"]))).collect()));
                }
                Some("crm_status") => {
                    if let Some(entity) = uf["SETTINGS"]["ENTITY_TYPE"].as_str() {
                        entities.push((name, entity.to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    for (field, entity) in entities {
        let items =
            portal.list("crm.status.list", &json!({"filter": {"ENTITY_ID": entity}}), |d, t| progress("crm.status.list", d, t)).await?;
        names.push((field, items.iter().map(|i| (cell(&i["STATUS_ID"]), cell(&i["NAME"]))).collect()));
    }
    Ok(Names(names))
}

/// A company's mapped fields as cells, in the map's order.
pub fn company_cells<'a>(names: &'a Names, map: &'a allot_io::scheme::CrmMap, company: &'a Value) -> impl Iterator<Item = String> + 'a {
    map.clients.iter().map(move |(f, _)| names.named(f, &company[f.as_str()]))
}

/// Reads the portal's active users (the employees, by `map.employee`, with their e-mail and user
/// id) and its companies (the clients, their fields by `map.clients`) — all of them, or with
/// `since` (RFC 3339) those modified after it (`DATE_MODIFY`); `progress` is told (what, read, of).
pub async fn pull(
    portal: &mut Portal,
    map: &allot_io::scheme::CrmMap,
    since: Option<&str>,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<Pulled, CallError> {
    let users = portal.list("user.get", &json!({"FILTER": {"ACTIVE": true}}), |d, t| progress("user.get", d, t)).await?;
    let mut employees: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let name = [cell(&u["NAME"]), cell(&u["LAST_NAME"])].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
            vec![cell(&u[map.employee.as_str()]), name, cell(&u["EMAIL"]), cell(&u["ID"])]
        })
        .filter(|r| !r[0].is_empty())
        .collect();
    employees.sort();
    let mut select = vec!["ID".to_string()];
    select.extend(map.clients.iter().map(|(f, _)| f.clone()));
    let mut params = json!({"select": select, "order": {"ID": "ASC"}});
    if let Some(since) = since {
        params["filter"] = json!({">DATE_MODIFY": since});
    }
    let companies = portal.list("crm.company.list", &params, |d, t| progress("crm.company.list", d, t)).await?;
    // The leads too, when the map says so: clients `lead-ID`, by the same fields.
    let leads = if map.leads { portal.list("crm.lead.list", &params, |d, t| progress("crm.lead.list", d, t)).await? } else { vec![] };
    // The contacts too (a company selling to people): clients `contact-ID`, their TITLE their name.
    let contacts = if map.contacts {
        let mut p = params.clone();
        p["select"] = json!(select.iter().cloned().chain(["NAME".to_string(), "LAST_NAME".to_string()]).collect::<Vec<_>>());
        let mut contacts = portal.list("crm.contact.list", &p, |d, t| progress("crm.contact.list", d, t)).await?;
        for c in &mut contacts {
            let name = [cell(&c["NAME"]), cell(&c["LAST_NAME"])].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
            c["TITLE"] = json!(name);
        }
        contacts
    } else {
        vec![]
    };
    let names = list_names(portal, map, &mut progress).await?;
    let mut headers = vec!["id".to_string()];
    headers.extend(map.clients.iter().map(|(_, a)| a.clone()));
    let clients: Vec<Vec<String>> = companies
        .iter()
        .map(|c| (cell(&c["ID"]), c))
        .chain(leads.iter().map(|l| (format!("lead-{}", cell(&l["ID"])), l)))
        .chain(contacts.iter().map(|c| (format!("contact-{}", cell(&c["ID"])), c)))
        .map(|(id, c)| std::iter::once(id).chain(company_cells(&names, map, c)).collect())
        .collect();
    // The deals, when the map names their fields: each its company's (else its contact's, when
    // contacts are clients); one with neither is counted and left out.
    let (mut deals, mut orphans) = (Vec::new(), 0);
    if !map.deals.is_empty() {
        let mut select = vec!["ID".to_string(), "COMPANY_ID".to_string(), "CONTACT_ID".to_string()];
        select.extend(map.deals.iter().map(|(f, _)| f.clone()));
        let mut p = json!({"select": select, "order": {"ID": "ASC"}});
        if let Some(since) = since {
            p["filter"] = json!({">DATE_MODIFY": since});
        }
        for d in portal.list("crm.deal.list", &p, |done, t| progress("crm.deal.list", done, t)).await? {
            let (company, contact) = (cell(&d["COMPANY_ID"]), cell(&d["CONTACT_ID"]));
            let client = match (company.as_str(), contact.as_str()) {
                (c, _) if !c.is_empty() && c != "0" => c.to_string(),
                (_, c) if map.contacts && !c.is_empty() && c != "0" => format!("contact-{c}"),
                _ => {
                    orphans += 1;
                    continue;
                }
            };
            let mut row = vec![cell(&d["ID"]), client];
            row.extend(map.deals.iter().map(|(f, _)| day_or_cell(&d[f.as_str()])));
            deals.push(row);
        }
    }
    let mut deal_headers = vec!["id".to_string(), "client_id".to_string()];
    deal_headers.extend(map.deals.iter().map(|(_, a)| a.clone()));
    Ok(Pulled {
        employees: csv_of(&["id", "name", "email", "crm_user"].map(String::from), &employees),
        clients: csv_of(&headers, &clients),
        deals: if map.deals.is_empty() { String::new() } else { csv_of(&deal_headers, &deals) },
        users: users.len(),
        companies: companies.len(),
        leads: leads.len(),
        contacts: contacts.len(),
        deal_count: deals.len(),
        deals_without_client: orphans,
    })
}

/// A deal's field as a cell: a moment (`2026-11-30T00:00:00+03:00`, as the portal writes dates)
/// as its day, anything else as [`cell`] writes it.
fn day_or_cell(v: &Value) -> String {
    let c = cell(v);
    let b = c.as_bytes();
    if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && allot_rules::parse_iso_date(&c[..10]).is_some() {
        return c[..10].to_string();
    }
    c
}

/// Companies written per `batch` request (one `crm.company.update` each).
pub const WRITES_PER_BATCH: usize = 50;

/// Writes one delivery of [`super::owner_messages`] in one `batch` request: `Ok(companies written)`, or
/// why not. A company the portal no longer has ("Not found") is passed over; any other refusal
/// fails the delivery (tried again later: writing a field its value again changes nothing).
pub async fn write_owners(portal: &mut Portal, body: &str) -> Result<usize, (i64, String)> {
    let body: Value = serde_json::from_str(body).map_err(|e| (0, format!("an unreadable delivery: {e}")))?;
    let calls: Vec<(String, String, Value)> = body["updates"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, u)| {
            // A lead is the client `lead-ID`: written to the lead.
            let client = cell(&u[0]);
            let (method, id) = match (client.strip_prefix("lead-"), client.strip_prefix("contact-")) {
                (Some(lead), _) => ("crm.lead.update", lead),
                (_, Some(contact)) => ("crm.contact.update", contact),
                _ => ("crm.company.update", client.as_str()),
            };
            (format!("u{i}"), method.to_string(), json!({"id": id, "fields": u[1]}))
        })
        .collect();
    if calls.is_empty() {
        return Ok(0);
    }
    let answers = portal.batch(&calls).await.map_err(|e| (e.status(), e.to_string()))?;
    let mut written = 0;
    for (_, answer) in answers {
        match answer {
            Ok(_) => written += 1,
            Err(CallError::Refused { description, .. }) if description.to_lowercase().contains("not found") => {}
            Err(e) => return Err((400, e.to_string())),
        }
    }
    Ok(written)
}

fn with_start(params: &Value, start: u64) -> Value {
    let mut p = params.clone();
    if !p.is_object() {
        p = json!({});
    }
    p["start"] = json!(start);
    p
}

fn records_of(answer: &Value, method: &str, host: &str) -> Result<Vec<Value>, CallError> {
    answer["result"].as_array().cloned().ok_or_else(|| CallError::Unreadable {
        host: host.to_string(),
        method: method.to_string(),
        why: "the result is not a list".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_address_is_checked_and_its_key_never_said() {
        assert_eq!(
            check_webhook("https://example.bitrix24.ru/rest/1/abcdef123/").unwrap(),
            ("https://example.bitrix24.ru/rest/1/abcdef123/".to_string(), "example.bitrix24.ru".to_string())
        );
        assert!(check_webhook("https://example.bitrix24.ru/rest/1/abcdef123").unwrap().0.ends_with('/'));
        let err = check_webhook("https://example.bitrix24.ru/rest/abcdef123/").unwrap_err();
        assert!(err.contains("/rest/USER/KEY/") && !err.contains("abcdef123"), "{err}");
        assert!(check_webhook("ftp://example.bitrix24.ru/rest/1/k/").is_err());
    }

    #[test]
    fn parameters_inside_a_batch_are_written_as_php_query_strings() {
        let q = query_string(&json!({"filter": {">DATE_MODIFY": "2026-11-01T00:00:00+03:00"}, "select": ["ID", "TITLE"], "start": 50}));
        assert_eq!(q, "filter%5B%3EDATE_MODIFY%5D=2026-11-01T00%3A00%3A00%2B03%3A00&select%5B0%5D=ID&select%5B1%5D=TITLE&start=50");
        assert_eq!(
            query_string(&json!({"TITLE": "ООО «Ромашка»"})),
            "TITLE=%D0%9E%D0%9E%D0%9E%20%C2%AB%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0%C2%BB"
        );
    }
}
