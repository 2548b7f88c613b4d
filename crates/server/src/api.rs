//! The HTTP handlers, the access rules and the error codes.
//!
//! Every error is a JSON body `{"error": {"code", "message", "field"}}` with a stable `code`
//! (the table is [`Code`], also in the OpenAPI document) and a 4xx status for anything the
//! caller can fix; 503 when the store cannot be reached. Handlers never panic on input.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value as J};

pub use crate::error::{ApiError, Code};
use crate::writer::{Job, RouteRequest};
use crate::AppState;

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

// ---------------------------------------------------------------------------------------------
// Access

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Admin,
    /// The clients of the manager's teams.
    Manager {
        employee: String,
    },
    /// The employee's own clients.
    Employee {
        employee: String,
    },
    /// Routing only.
    Router,
}

/// Who a request is: the token's scope, its label (for the history) and its id (idempotency keys
/// are kept per token).
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub scope: Scope,
    pub label: String,
    pub token: i64,
}

/// How long a token's answer (known, unknown, revoked) is trusted before the store is asked again:
/// a revocation takes effect within it on every server sharing the store.
pub const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Most tokens remembered at once; past it the expired ones go, then all.
const TOKEN_CACHE: usize = 10_000;

/// Checks the `Authorization: Bearer <token>` header (the scheme's name in any case, RFC 7235).
/// Known tokens and unknown ones alike are remembered for [`TOKEN_TTL`], so a flood of random
/// tokens costs one bounded lookup each and at most the reader pool's connections.
pub(crate) async fn authenticate(state: &Arc<AppState>, headers: &HeaderMap) -> Result<(Scope, String), ApiError> {
    caller(state, headers).await.map(|c| (c.scope, c.label))
}

pub(crate) async fn caller(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = || {
        ApiError::new(
            Code::Unauthorized,
            "send `Authorization: Bearer <token>` (make one with `allot token create`)",
            Some("Authorization"),
        )
    };
    let value = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    let (scheme, raw) = value.trim().split_once(' ').ok_or_else(unauthorized)?;
    let raw = raw.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || raw.is_empty() || raw.len() > 200 {
        return Err(unauthorized());
    }
    let hash = allot_app::tokens::hash(raw);
    let now = std::time::Instant::now();
    if let Some((hit, until)) = state.tokens.lock().map_err(|_| ApiError::unavailable("token cache".into()))?.get(&hash) {
        if *until > now {
            return hit
                .clone()
                .ok_or_else(|| ApiError::new(Code::Unauthorized, "unknown, revoked or expired token", Some("Authorization")));
        }
    }
    let h = hash.clone();
    let token = state.read(move |s| s.token(&h)).await?;
    let today = crate::today();
    let found = token.filter(|t| t.expires.is_none_or(|e| today < e.0)).and_then(|t| {
        let scope = match (t.scope.as_str(), t.employee) {
            ("admin", _) => Scope::Admin,
            ("router", _) => Scope::Router,
            ("manager", Some(e)) => Scope::Manager { employee: e },
            ("employee", Some(e)) => Scope::Employee { employee: e },
            _ => return None,
        };
        Some(Caller { scope, label: t.label, token: t.id })
    });
    if let Ok(mut cache) = state.tokens.lock() {
        if cache.len() >= TOKEN_CACHE {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= TOKEN_CACHE {
                cache.clear();
            }
        }
        cache.insert(hash, (found.clone(), now + TOKEN_TTL));
    }
    found.ok_or_else(|| ApiError::new(Code::Unauthorized, "unknown, revoked or expired token", Some("Authorization")))
}

/// The employees whose clients a scope may see: all (None), or a list.
pub(crate) async fn visible_employees(state: &Arc<AppState>, scope: &Scope) -> Result<Option<Vec<String>>, ApiError> {
    match scope {
        Scope::Admin => Ok(None),
        Scope::Router => Err(ApiError::forbidden("reading the book")),
        Scope::Employee { employee } => Ok(Some(vec![employee.clone()])),
        Scope::Manager { .. } => {
            let snap = state.read(|s| s.people()).await?;
            Ok(visible_in(scope, &snap))
        }
    }
}

/// [`visible_employees`] from a people snapshot the caller has read already: `None` for
/// everyone (an admin), otherwise the employees whose clients the scope may see (a manager:
/// those sharing a team with them; an employee: themselves; a router: nobody).
pub(crate) fn visible_in(scope: &Scope, snap: &allot_store::Snapshot) -> Option<Vec<String>> {
    match scope {
        Scope::Admin => None,
        Scope::Router => Some(vec![]),
        Scope::Employee { employee } => Some(vec![employee.clone()]),
        Scope::Manager { employee } => {
            let teams_of = |attrs: &str| -> Vec<String> {
                serde_json::from_str::<J>(attrs)
                    .ok()
                    .and_then(|v| {
                        v.get("teams").and_then(J::as_array).map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
                    })
                    .unwrap_or_default()
            };
            let mine = snap.employees.iter().find(|e| &e.id == employee).map(|e| teams_of(&e.attrs)).unwrap_or_default();
            let mut out: Vec<String> = snap
                .employees
                .iter()
                .filter(|e| &e.id == employee || teams_of(&e.attrs).iter().any(|t| mine.contains(t)))
                .map(|e| e.id.clone())
                .collect();
            out.sort();
            Some(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Routing

/// `POST /v1/route`.
pub async fn route(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = std::time::Instant::now();
    let r = route_inner(&state, &headers, &body).await;
    state.metrics.route_seconds.observe(started.elapsed().as_secs_f64());
    match r {
        Ok((body, replayed)) => {
            let mut resp = json_response(StatusCode::OK, body);
            if replayed {
                resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            state.metrics.routes.get_or_create(&crate::Outcome { outcome: if replayed { "replayed" } else { "routed" }.into() }).inc();
            resp
        }
        Err(e) => {
            state.metrics.routes.get_or_create(&crate::Outcome { outcome: e.code.as_str().into() }).inc();
            e.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteBody {
    id: Option<J>,
    /// For a deal: the id of its (stored) client.
    client: Option<J>,
    date: Option<J>,
    at: Option<J>,
    attributes: Option<J>,
}

/// `2026-03-02T10:15:00Z`, `2026-03-02T13:15+03:00` → (UTC day, minutes since 1970-01-01 UTC).
fn parse_instant(s: &str) -> Option<(i32, i64)> {
    let (date, rest) = s.trim().split_once(['T', ' '])?;
    let day = allot_rules::parse_iso_date(date)?;
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        (c, 0i64)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (c, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
        let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
        // UTC offsets run from -12:00 to +14:00; ±18:00 is what ISO 8601 readers accept.
        if h > 18 || m > 59 || h * 60 + m > 18 * 60 {
            return None;
        }
        (c, sign * (h * 60 + m))
    };
    let mut parts = clock.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next().map_or(Some(0.0), |x| x.parse().ok())?;
    if h > 23 || m > 59 || !(0.0..61.0).contains(&sec) {
        return None;
    }
    let minute = day as i64 * 1440 + h * 60 + m - offset;
    Some((minute.div_euclid(1440) as i32, minute))
}

/// The first day a routed item may be dated: no CRM holds leads from before 1900.
pub fn first_day() -> i32 {
    allot_rules::days_from_civil(1900, 1, 1).unwrap_or(i32::MIN)
}

/// The last day a routed item may be dated: the server's today (UTC). An item dated ahead would
/// open links after today and so block every plan until that day (issue #13).
pub fn last_day() -> i32 {
    crate::today()
}

/// How far ahead of the server's clock an `at` instant may be (the caller's clock runs fast): such
/// an item is routed as of now.
const CLOCK_SKEW_MINUTES: i64 = 5;

/// Checks a routed item's day: within [`first_day`] and [`last_day`].
fn check_day(day: i32, field: &str) -> Result<i32, ApiError> {
    if day < first_day() || day > last_day() {
        return Err(ApiError::new(Code::BadDate,
            format!(
                "`{field}` is {}: a routed item is dated from 1900-01-01 to today ({}, the server's day in UTC); send `at` with a UTC offset, or no date, for now",
                allot_rules::civil_from_days(day),
                allot_rules::civil_from_days(last_day())
            ),
            Some(field),
        ));
    }
    Ok(day)
}

async fn route_inner(state: &Arc<AppState>, headers: &HeaderMap, body: &[u8]) -> Result<(String, bool), ApiError> {
    let Caller { scope, label, token } = caller(state, headers).await?;
    if !matches!(scope, Scope::Admin | Scope::Router) {
        return Err(ApiError::forbidden("routing"));
    }
    let parsed: RouteBody = serde_json::from_slice(body).map_err(|e| {
        let msg = e.to_string();
        if let Some(f) = msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
            ApiError::new(Code::UnknownField, format!("{msg}; expected id, client, date, at, attributes"), Some(f))
        } else {
            ApiError::new(Code::BadJson, format!("the body is not a routing request: {msg}"), None)
        }
    })?;
    let id = match parsed.id {
        None | Some(J::Null) => None,
        Some(J::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(_) => return Err(ApiError::new(Code::WrongType, "`id` must be a non-empty string", Some("id"))),
    };
    // The time it arrives: `at` (an instant; working hours are checked), or a whole `date`, or now.
    let (date, minute) = match (parsed.at, parsed.date) {
        (Some(J::String(s)), _) => {
            let (d, m) = parse_instant(&s).ok_or_else(|| {
                ApiError::new(Code::BadDate, format!("`{s}` is not a time such as 2026-03-02T10:15:00Z (offsets up to ±18:00)"), Some("at"))
            })?;
            let now = allot_app::clock::minute();
            if m > now && m <= now + CLOCK_SKEW_MINUTES {
                (now.div_euclid(1440) as i32, Some(now))
            } else {
                (check_day(d, "at")?, Some(m))
            }
        }
        (Some(J::Null) | None, Some(J::String(s))) => (
            check_day(
                allot_rules::parse_iso_date(&s)
                    .ok_or_else(|| ApiError::new(Code::BadDate, format!("`{s}` is not YYYY-MM-DD"), Some("date")))?,
                "date",
            )?,
            None,
        ),
        (Some(J::Null) | None, None | Some(J::Null)) => {
            let minute = allot_app::clock::minute();
            (minute.div_euclid(1440) as i32, Some(minute))
        }
        (Some(_), _) => return Err(ApiError::new(Code::WrongType, "`at` must be a string such as 2026-03-02T10:15:00Z", Some("at"))),
        (_, Some(_)) => return Err(ApiError::new(Code::WrongType, "`date` must be a string YYYY-MM-DD", Some("date"))),
    };
    let attrs = match parsed.attributes {
        Some(J::Object(m)) => m,
        None => {
            return Err(ApiError::new(
                Code::MissingField,
                "`attributes` is required: the lead's attributes as an object",
                Some("attributes"),
            ))
        }
        Some(_) => return Err(ApiError::new(Code::WrongType, "`attributes` must be an object", Some("attributes"))),
    };
    let deal_of = match parsed.client {
        None | Some(J::Null) => None,
        Some(J::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(_) => {
            return Err(ApiError::new(Code::WrongType, "`client` must be the id of a stored client (the deal's client)", Some("client")))
        }
    };
    let columns = if deal_of.is_some() { &state.deal_columns } else { &state.columns };
    let attrs = check_attributes(state, columns, attrs)?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            // Kept per token: one integration cannot claim (or read back) another's key.
            Ok(s) if !s.trim().is_empty() && s.len() <= 200 => Some(format!("{token}:{}", s.trim())),
            _ => {
                return Err(ApiError::new(Code::BadHeader, "Idempotency-Key must be 1 to 200 visible characters", Some("Idempotency-Key")))
            }
        },
    };
    let hash = allot_app::tokens::sha256_hex(body);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let router = scope == Scope::Router;
    let request = RouteRequest { id, deal_of, attrs, idempotency_key, hash, date, minute, by: format!("token:{label}"), router };
    state.jobs.send(Job { request, reply: tx }).await.map_err(|_| ApiError::unavailable("the server is shutting down".into()))?;
    rx.await.map_err(|_| ApiError::unavailable("the router stopped".into()))?
}

/// Most attributes one routed item may carry, and the longest name, text and list.
pub const MAX_ATTRIBUTES: usize = 200;
pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 10_000;
pub const MAX_LIST: usize = 1_000;

/// Checks a text value: bounded, no NUL (which PostgreSQL cannot store) — issue #13's isolation.
fn check_text(s: &str, field: &str) -> Result<(), ApiError> {
    if s.contains('\0') {
        return Err(ApiError::new(Code::BadValue, format!("`{field}` holds a NUL character"), Some(field)));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(ApiError::new(Code::BadValue, format!("`{field}` is longer than {MAX_TEXT} characters"), Some(field)));
    }
    Ok(())
}

/// The attributes of a routed item, checked: declared ones (by the store or the scheme) must have
/// a value of their type; undeclared ones are kept as they are (a web form's extra field never
/// loses the lead: issue #14), as long as they are texts, numbers, booleans or lists of texts.
/// Numbers must be kept exactly (at most 15 significant digits, below 10^15); texts are bounded
/// and hold no NUL; values of a column with a dictionary (`region`) are normalised.
pub(crate) fn check_attributes(
    state: &AppState,
    columns: &std::sync::RwLock<Arc<Vec<(String, allot_rules::Type)>>>,
    attrs: Map<String, J>,
) -> Result<Map<String, J>, ApiError> {
    use allot_rules::Type as T;
    let columns: Arc<Vec<(String, allot_rules::Type)>> = columns.read().map_err(|_| ApiError::unavailable("columns".into()))?.clone();
    let values = state.values.read().map_err(|_| ApiError::unavailable("values".into()))?.clone();
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(ApiError::new(Code::BadValue, format!("more than {MAX_ATTRIBUTES} attributes"), Some("attributes")));
    }
    let mut out = Map::new();
    for (k, v) in attrs {
        let field = format!("attributes.{k}");
        if k.trim().is_empty() || k.chars().count() > MAX_NAME || k.contains('\0') {
            return Err(ApiError::new(
                Code::BadValue,
                format!("an attribute name must be 1 to {MAX_NAME} characters, without NUL"),
                Some(&field),
            ));
        }
        let declared = columns.iter().find(|c| c.0 == k).map(|c| c.1);
        match &v {
            J::String(s) => check_text(s, &field)?,
            J::Array(a) if a.len() > MAX_LIST => {
                return Err(ApiError::new(Code::BadValue, format!("`{k}` holds more than {MAX_LIST} items"), Some(&field)))
            }
            J::Array(a) => {
                for item in a {
                    match item {
                        J::String(s) => check_text(s, &field)?,
                        _ => return Err(ApiError::new(Code::WrongType, format!("`{k}` must be a list of texts"), Some(&field))),
                    }
                }
            }
            J::Number(n) => {
                if let Err(e) = allot_io::tables::read_number(&n.to_string()) {
                    return Err(ApiError::new(Code::BadValue, format!("`{k}` is {}", e.found(&n.to_string())), Some(&field)));
                }
            }
            J::Object(_) => {
                return Err(ApiError::new(
                    Code::WrongType,
                    format!("`{k}` must be a text, a number, true/false or a list of texts"),
                    Some(&field),
                ))
            }
            J::Null | J::Bool(_) => {}
        }
        let Some(ty) = declared else {
            // Undeclared: kept as sent, with a region (or a `[values]` column) normalised all the same.
            let v = match v {
                J::String(s) => J::String(allot_io::values::normalise(&values, &k, s.trim()).to_string()),
                other => other,
            };
            out.insert(k, v);
            continue;
        };
        let ok = match (ty, &v) {
            (_, J::Null) => true,
            (T::Number, J::Number(_)) | (T::Bool, J::Bool(_)) => true,
            (T::Text, J::String(s)) => {
                out.insert(k.clone(), J::String(allot_io::values::normalise(&values, &k, s.trim()).to_string()));
                continue;
            }
            (T::Text, J::Number(n)) => {
                out.insert(k.clone(), J::String(n.to_string()));
                continue;
            }
            (T::Date, J::String(s)) => allot_rules::parse_iso_date(s)
                .is_some_and(|d| (first_day()..=allot_rules::days_from_civil(2200, 12, 31).unwrap_or(i32::MAX)).contains(&d)),
            (T::List, J::Array(a)) => a.iter().all(J::is_string),
            _ => false,
        };
        if !ok {
            return Err(ApiError::new(Code::WrongType, format!("`{k}` must be {}", ty.name()), Some(&field)));
        }
        out.insert(k, v);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reading

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    at: Option<String>,
}

fn day_of(q: &AtQuery) -> Result<i32, ApiError> {
    match &q.at {
        None => Ok(crate::today()),
        Some(s) => {
            allot_rules::parse_iso_date(s).ok_or_else(|| ApiError::new(Code::BadDate, format!("`{s}` is not YYYY-MM-DD"), Some("at")))
        }
    }
}

fn entry_json(s: &allot_store::LinkEntry) -> J {
    json!({
        "client": s.client, "role": s.role, "employee": s.employee,
        "from": s.from.to_string(), "to": s.to.map(|d| d.to_string()),
        "cause": s.cause.as_str(), "rule": s.rule, "scheme_version": s.scheme, "note": s.note_in(allot_i18n::Lang::En),
        "opened_by": s.opened_by, "opened_at": s.opened_at, "closed_by": s.closed_by, "closed_at": s.closed_at,
    })
}

/// A client's links are visible when one of its holders (now or on the day asked) is.
pub(crate) async fn may_see_client(
    state: &Arc<AppState>,
    scope: &Scope,
    client: &str,
    spells: &[allot_store::LinkEntry],
) -> Result<(), ApiError> {
    if let Some(allowed) = visible_employees(state, scope).await? {
        let c = client.to_string();
        let now = state.read(move |s| s.owners_at(allot_store::Day(crate::today()), Some(&c))).await?;
        if !spells.iter().chain(now.iter()).any(|s| allowed.contains(&s.employee)) {
            return Err(ApiError::forbidden("this client"));
        }
    }
    Ok(())
}

/// A client's links on the asked day, once the token may see the client.
async fn visible_owners(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    id: &str,
    q: &AtQuery,
) -> Result<(i32, Vec<allot_store::LinkEntry>), ApiError> {
    let (scope, _) = authenticate(state, headers).await?;
    let day = day_of(q)?;
    let c = id.to_string();
    let rows = state.read(move |s| s.owners_at(allot_store::Day(day), Some(&c))).await?;
    may_see_client(state, &scope, id, &rows).await?;
    Ok((day, rows))
}

pub async fn owners(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Response, ApiError> {
    let (day, rows) = visible_owners(&state, &headers, &id, &q).await?;
    let body = json!({"client": id, "at": allot_rules::civil_from_days(day), "owners": rows.iter().map(entry_json).collect::<Vec<_>>()});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `GET /v1/clients/{id}/explain`: every rule tried for the client on a day, and why its employees
/// are its employees (the engine's explanation over the stored book; it reads the whole store).
pub async fn explain(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Response, ApiError> {
    let (day, _) = visible_owners(&state, &headers, &id, &q).await?;
    let c = id.clone();
    // The API speaks English unless the caller asks otherwise (scripts send no Accept-Language).
    let lang = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(allot_i18n::Lang::En, allot_i18n::Lang::from_accept_language);
    // One client: the scheme, the people and the client read, not the book (no whole-book gate).
    let text = state.with_store(move |s| allot_app::stored::explain_stored(s, &c, day, lang).map_err(book_error)).await?;
    let body = json!({"client": id, "at": allot_rules::civil_from_days(day), "explanation": text});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

pub async fn history(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (scope, _) = authenticate(&state, &headers).await?;
    let c = id.clone();
    let rows = state.read(move |s| s.history(&c)).await?;
    may_see_client(&state, &scope, &id, &rows).await?;
    let body = json!({"client": id, "history": rows.iter().map(entry_json).collect::<Vec<_>>()});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

pub async fn book(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Response, ApiError> {
    let (scope, _) = authenticate(&state, &headers).await?;
    if let Some(allowed) = visible_employees(&state, &scope).await? {
        if !allowed.contains(&id) {
            return Err(ApiError::forbidden("this employee's book"));
        }
    }
    let day = day_of(&q)?;
    let e = id.clone();
    let (rows, clients) = state.with_store(move |s| allot_app::stored::book_with_clients(s, &e, day).map_err(book_error)).await?;
    let links: Vec<J> = rows
        .iter()
        .map(|r| {
            let mut j = entry_json(r);
            if let (Some(c), J::Object(o)) = (clients.get(&r.client), &mut j) {
                o.insert("client_name".into(), json!(c.name));
                o.insert("client_attributes".into(), J::Object(c.attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
            }
            j
        })
        .collect();
    let body = json!({"employee": id, "at": allot_rules::civil_from_days(day), "links": links});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    per: Option<String>,
    currency: Option<String>,
}

fn spread_json(s: &allot_core::stats::Spread) -> J {
    json!({"min": s.min, "max": s.max, "max_over_min": s.ratio.is_finite().then_some(s.ratio), "cv": s.cv, "gini": s.gini})
}

/// `GET /v1/report?from=&to=&per=&currency=`: issue #6's contribution report as JSON — per role
/// and employee (or team, territory, client column) holdings on `to`, credit of the period's
/// sales, realisation; the balance per role (admin). Managers and employees see their rows only.
pub async fn report(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Result<Response, ApiError> {
    use allot_app::contribution::{report, Group, ReportRequest};
    let (scope, _) = authenticate(&state, &headers).await?;
    let visible = visible_employees(&state, &scope).await?;
    let day = |v: &Option<String>, field: &str| -> Result<Option<i32>, ApiError> {
        v.as_ref()
            .map(|s| {
                allot_rules::parse_iso_date(s).ok_or_else(|| ApiError::new(Code::BadDate, format!("`{s}` is not YYYY-MM-DD"), Some(field)))
            })
            .transpose()
    };
    let first =
        day(&q.from, "from")?.ok_or_else(|| ApiError::new(Code::MissingField, "give the period's first day as `from`", Some("from")))?;
    let last = day(&q.to, "to")?.unwrap_or_else(crate::today);
    let group = Group::parse(q.per.as_deref().unwrap_or("employee"));
    if visible.is_some() && group != Group::Employee {
        return Err(ApiError::forbidden("reports per team, territory or segment"));
    }
    let req = ReportRequest { period: allot_app::credit::CreditRequest { first, last, scheme: None }, group, currency: q.currency };
    let r = state.with_whole_store(move |s| report(s, &req).map_err(book_error)).await?;
    let rows: Vec<&allot_app::contribution::Row> =
        r.rows.iter().filter(|row| visible.as_ref().is_none_or(|v| v.contains(&row.employee))).collect();
    let mut body = json!({
        "from": allot_rules::civil_from_days(r.first), "to": allot_rules::civil_from_days(r.last),
        "currency": r.currency, "per": q.per.as_deref().unwrap_or("employee"),
        "rows": rows,
    });
    if visible.is_none() {
        // Every deal of the period that was not credited is the whole book's: admin only.
        body["uncredited"] = r.uncredited.iter().map(|u| json!({"deal": u.deal, "reason": u.reason})).collect();
        body["balance"] = r
            .balance
            .iter()
            .map(|b| json!({"role": b.role, "clients": spread_json(&b.clients), "potential": spread_json(&b.potential), "workload": spread_json(&b.workload)}))
            .collect();
        body["unassigned"] = json!(r.unassigned);
    }
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// A pool's fairness state as people read it: each member's counters (a member who never received
/// one has zeros) with their weight and share of the weights, the pool's role, fallback and items.
pub(crate) struct PoolView {
    pub role: String,
    pub fallback: Option<String>,
    pub items: u64,
    /// (the member's state, (weight, target share)), in the rule's order.
    pub members: Vec<(allot_core::route::MemberState, (f64, f64))>,
}

/// [`PoolView`] of rule `def` (a pool of `members`) from its stored state (JSON), if any.
pub(crate) fn pool_view(
    rule: &str,
    scheme: &allot_core::Scheme,
    def: &allot_core::model::Rule,
    members: &[allot_core::model::Member],
    stored: Option<&str>,
) -> Result<PoolView, ApiError> {
    let state_now = match stored.map(crate::writer::pool_from_json) {
        None => Default::default(),
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            tracing::error!(pool = %rule, error = %e, "a pool's stored state");
            return Err(ApiError::unavailable(format!("the stored state of pool `{rule}` cannot be read; the error is logged")));
        }
    };
    let total: f64 = members.iter().map(|m| m.weight).sum();
    let list = members
        .iter()
        .map(|m| {
            let id = &scheme.employees[m.employee as usize].id;
            let mut st = state_now.members.get(id).cloned().unwrap_or_default();
            st.employee.clone_from(id);
            (st, (m.weight, if total > 0.0 { m.weight / total } else { 0.0 }))
        })
        .collect();
    Ok(PoolView {
        role: scheme.roles[def.role].id.clone(),
        fallback: def.fallback.map(|f| scheme.rules[f].id.clone()),
        items: state_now.seq,
        members: list,
    })
}

/// `GET /v1/pools/{rule}`: the fairness state of a pool — each member's weight, items, measure
/// received and entitled, how far below their share, and the caps' counters.
pub async fn pool(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(rule): Path<String>) -> Result<Response, ApiError> {
    let (scope, _) = authenticate(&state, &headers).await?;
    let visible = visible_employees(&state, &scope).await?;
    let r = rule.clone();
    let (stored, people) = state.read(move |s| Ok((s.pool_state(&r)?, s.people()?))).await?;
    let parts = allot_app::stored::routing_parts(&people).map_err(|e| ApiError::unavailable(e.to_string()))?;
    let scheme = &parts.scheme;
    let Some(def) = scheme.rules.iter().find(|x| x.id == rule) else {
        return Err(ApiError::new(Code::NotFound, format!("no rule `{rule}` in the active scheme"), None));
    };
    let allot_core::Target::Pool { members, strategy } = &def.target else {
        return Err(ApiError::new(Code::NotFound, format!("rule `{rule}` is not a pool"), None));
    };
    if let Some(allowed) = &visible {
        if !members.iter().any(|m| allowed.contains(&scheme.employees[m.employee as usize].id)) {
            return Err(ApiError::forbidden("this pool"));
        }
    }
    let view = pool_view(&rule, scheme, def, members, stored.as_deref())?;
    let list: Vec<J> = view
        .members
        .iter()
        .map(|(m, share)| {
            json!({
                "employee": m.employee, "weight": share.0, "target_share": share.1,
                "items": m.items, "received": m.received, "entitled": m.entitled, "below_share_by": m.deficit(),
                "last_item": m.last_seq, "owed": m.owed, "today_items": m.day_items, "week_items": m.week_items, "month_items": m.month_items,
            })
        })
        .collect();
    let caps = json!({"day": def.caps.day, "week": def.caps.week, "month": def.caps.month});
    let body = json!({"pool": rule, "role": view.role, "strategy": strategy.as_str(), "caps": caps, "fallback": view.fallback, "items": view.items, "members": list});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Plan and apply (admin): the CLI's use cases.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    date: Option<String>,
    #[serde(default)]
    rebalance: bool,
}

pub async fn plan(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (scope, label) = authenticate(&state, &headers).await?;
    if scope != Scope::Admin {
        return Err(ApiError::forbidden("planning"));
    }
    let b: PlanBody = if body.is_empty() {
        PlanBody { date: None, rebalance: false }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::new(Code::BadJson, e.to_string(), None))?
    };
    let date = match &b.date {
        None => crate::today(),
        Some(s) => {
            allot_rules::parse_iso_date(s).ok_or_else(|| ApiError::new(Code::BadDate, format!("`{s}` is not YYYY-MM-DD"), Some("date")))?
        }
    };
    let req = allot_app::stored::PlanRequest { date, scheme: None, rebalance: b.rebalance };
    let actor = allot_store::Actor { by: format!("token:{label}"), at: crate::now_utc() };
    let id = allot_app::tokens::new_secret("plan").map_err(|e| ApiError::unavailable(e.to_string()))?[..21].to_string();
    let plan_id = id.clone();
    // The plan is kept in the store: `POST /v1/apply {"plan": id}` applies it, however large it
    // is (a whole book's rebalance is megabytes), from any server sharing the store.
    let body = state
        .with_whole_store(move |s| {
            let plan = allot_app::stored::plan(s, &req, &actor).map_err(book_error)?;
            let text = serde_json::to_string(&plan).map_err(|e| ApiError::unavailable(e.to_string()))?;
            s.save_plan(&plan_id, &text, allot_store::PlanKind::Api, "", &actor).map_err(ApiError::store)?;
            Ok(text)
        })
        .await?;
    // The plan's own JSON, with its id first.
    Ok(json_response(StatusCode::OK, format!("{{\"plan_id\":\"{id}\",{}", body.strip_prefix('{').unwrap_or(&body))))
}

/// The body of `POST /v1/apply`: a plan by the id `POST /v1/plan` gave it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyById {
    plan: String,
}

pub async fn apply(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (scope, label) = authenticate(&state, &headers).await?;
    if scope != Scope::Admin {
        return Err(ApiError::forbidden("applying a plan"));
    }
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(Code::BadJson, "the body is not UTF-8", None))?;
    // `{"plan": "plan_…"}` names a plan kept by `POST /v1/plan`; otherwise the body is a plan. A
    // kept plan is marked applied with the change; one made in the workspace that waits for a
    // person's approval is refused.
    let (text, decided) = match serde_json::from_str::<ApplyById>(&text) {
        Ok(by_id) => {
            let id = by_id.plan.clone();
            let found = state.read(move |s| Ok(s.plan_record(&id)?.zip(s.plan_body(&id)?))).await?.ok_or_else(|| {
                ApiError::new(Code::NotFound, format!("no plan `{}`; make one with POST /v1/plan", by_id.plan), Some("plan"))
            })?;
            let (rec, body) = found;
            if state.approval.needs_proposal(rec.kind) {
                return Err(ApiError::new(
                    Code::Refused,
                    format!(
                        "plan `{}` is decided in the workspace (/plans/{}): its kind ({}) is approved by a person",
                        rec.id,
                        rec.id,
                        rec.kind.as_str()
                    ),
                    Some("plan"),
                ));
            }
            (body, Some(allot_store::Decision { plan: rec.id, comment: String::new() }))
        }
        Err(_) => (text, None),
    };
    let plan = allot_app::stored::Plan::parse(&text, "the request body").map_err(|e| match e {
        allot_app::stored::AppError::Input(d) => {
            ApiError::new(Code::BadJson, format!("not a plan: {}", allot_core::diag::render_all(&d)), None)
        }
        other => book_error(other),
    })?;
    let actor = allot_store::Actor { by: format!("token:{label}"), at: crate::now_utc() };
    let done =
        state.with_whole_store(move |s| allot_app::stored::apply_decided(s, &plan, decided.clone(), &actor).map_err(book_error)).await?;
    let body = json!({"change": done.change, "opened": done.opened, "closed": done.closed, "scheme_version": done.scheme});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

pub(crate) fn book_error(e: allot_app::stored::AppError) -> ApiError {
    use allot_app::stored::AppError as B;
    match e {
        B::Store(s) => ApiError::store(s),
        B::Input(d) => ApiError::new(Code::Refused, allot_core::diag::render_all(&d), None),
        B::Refused(m) => ApiError::new(Code::Refused, m, None),
        B::Said(m) => ApiError::new(Code::Refused, m.to_string(), None),
        B::NotFound(m) => ApiError::new(Code::NotFound, m, None),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_instant, ApiError, Code};

    #[test]
    fn store_errors_never_carry_the_database_s_words_to_a_client() {
        use allot_store::StoreError as S;
        for e in [
            S::Open { url: "postgres://app:secret@db.internal/prod".into(), message: "connection refused".into() },
            S::Connection("terminating connection due to administrator command".into()),
            S::Db("duplicate key value violates unique constraint \"clients_id_key\"".into()),
        ] {
            let a = ApiError::store(e);
            assert_eq!((a.status, a.code), (503, Code::Unavailable));
            for leak in ["postgres://", "secret", "constraint", "administrator"] {
                assert!(!a.message.contains(leak), "{}", a.message);
            }
        }
        // Each code's text is its own, and the table says every status.
        let texts: std::collections::HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(texts.len(), Code::ALL.len());
        assert!(Code::ALL.iter().all(|c| (400..600).contains(&c.status()) && !c.meaning().is_empty()));
    }

    #[test]
    fn instants_are_read_in_utc_whatever_their_offset() {
        let day = allot_rules::parse_iso_date("2026-03-02").unwrap_or(0);
        assert_eq!(parse_instant("2026-03-02T10:15:00Z"), Some((day, day as i64 * 1440 + 615)));
        assert_eq!(parse_instant("2026-03-02T13:15+03:00"), Some((day, day as i64 * 1440 + 615)));
        assert_eq!(parse_instant("2026-03-02T01:00:00+03:00"), Some((day - 1, day as i64 * 1440 - 120)));
        assert_eq!(parse_instant("2026-03-02T25:00Z"), None);
        assert_eq!(parse_instant("2026-03-02"), None);
    }
}
