//! The head of sales' Routing screen (issue #17 §5): each pool's fairness state — who is below
//! their share, by how much, the caps' counters, who cannot take items today and why — and the
//! API tokens that integrations route with (made with their secret shown once, listed, revoked).

use std::sync::Arc;

use allot_app::tokens::{TokenRequest, TokenState, SCOPES};
use allot_i18n::{format, Arg, Lang};
use allot_store::Day;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::{actor_of, head_of_sales, layout, not_done, page, redirect, trouble};
use crate::error::ApiError;
use crate::AppState;

/// Routed leads the page lists, and how far back it looks for those nobody took.
const LATEST: u64 = 30;
const WINDOW: u64 = 10_000;

/// What the page reads, in one go.
struct Seen {
    pools: Vec<Pool>,
    tokens: Vec<(allot_store::TokenInfo, TokenState)>,
    titles: allot_app::stored::RoleTitles,
    /// (client, when routed, who holds it now in each role, with why).
    recent: Vec<(String, String, Vec<allot_store::LinkEntry>)>,
    /// (client, when routed, the roles nobody holds).
    waiting: Vec<(String, String, Vec<String>)>,
}

/// One pool as the page shows it.
struct Pool {
    rule: String,
    strategy: &'static str,
    caps: allot_core::model::Caps,
    view: crate::api::PoolView,
    /// Members who cannot take an item today, with why (a catalogue key).
    away: Vec<(String, &'static str)>,
}

/// `GET /routing`.
pub async fn routing(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let today = allot_app::clock::today();
    let read = state.with_store(move |st| {
        let people = st.people().map_err(ApiError::store)?;
        let tokens = allot_app::tokens::list(st, Day(today)).map_err(ApiError::store)?;
        let titles = allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?;
        // The latest routed leads with who holds them now and why.
        let latest = st.latest_routed(LATEST).map_err(ApiError::store)?;
        let mut recent = Vec::with_capacity(latest.len());
        for (client, at) in latest {
            let owners = st.owners_at(Day(today), Some(&client)).map_err(ApiError::store)?;
            recent.push((client, at, owners));
        }
        // No scheme yet: no pools and no roles to route.
        let Ok(parts) = allot_app::stored::routing_parts(&people) else {
            return Ok(Seen { pools: Vec::new(), tokens, titles, recent, waiting: Vec::new() });
        };
        let scheme = &parts.scheme;
        let roles: Vec<String> = allot_core::route::routed_roles(scheme).into_iter().map(|r| scheme.roles[r].id.clone()).collect();
        let waiting = st.unassigned_routed(&roles, Day(today), WINDOW, LATEST).map_err(ApiError::store)?;
        let mut pools = Vec::new();
        for def in &scheme.rules {
            let allot_core::Target::Pool { members, strategy } = &def.target else { continue };
            let stored = st.pool_state(&def.id).map_err(ApiError::store)?;
            let view = crate::api::pool_view(&def.id, scheme, def, members, stored.as_deref())?;
            let away = members
                .iter()
                .filter_map(|m| {
                    let e = &scheme.employees[m.employee as usize];
                    let why = if !e.active {
                        "routing-inactive"
                    } else if e.absent_on(today) {
                        "routing-absent"
                    } else {
                        return None;
                    };
                    Some((e.id.clone(), why))
                })
                .collect();
            pools.push(Pool { rule: def.id.clone(), strategy: strategy.as_str(), caps: def.caps, view, away });
        }
        Ok(Seen { pools, tokens, titles, recent, waiting })
    });
    let Seen { pools, tokens, titles, recent, waiting } = match read.await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    let num = |x: f64| format::number(lang, x, 2);
    let title = lang.t("routing-title");
    let body = html! {
        h1 { (title) }
        h2 { (lang.t("routing-pools")) }
        @if pools.is_empty() { p { (lang.t("routing-no-pools")) } }
        @for p in &pools {
            h3 { (lang.text("routing-pool", &[
                ("rule", Arg::Text(&p.rule)), ("role", Arg::Text(titles.of(&p.view.role))),
                ("strategy", Arg::Text(&lang.t(&format!("strategy-{}", p.strategy)))),
                ("count", Arg::Count(p.view.items as i64)), ("items", Arg::Text(&format::integer(lang, p.view.items as i64))),
            ])) }
            p {
                @match (p.caps.day, p.caps.week, p.caps.month) {
                    (None, None, None) => (lang.t("routing-no-caps")),
                    (d, w, m) => (lang.text("routing-caps", &[
                        ("day", Arg::Text(&d.map_or("—".into(), |x| format::integer(lang, i64::from(x))))),
                        ("week", Arg::Text(&w.map_or("—".into(), |x| format::integer(lang, i64::from(x))))),
                        ("month", Arg::Text(&m.map_or("—".into(), |x| format::integer(lang, i64::from(x))))),
                    ])),
                }
                @if let Some(f) = &p.view.fallback { " " (lang.text("routing-fallback", &[("rule", Arg::Text(f))])) }
            }
            table {
                thead { tr {
                    th scope="col" { (lang.t("column-employee")) } th scope="col" { (lang.t("routing-weight")) }
                    th scope="col" { (lang.t("routing-share")) } th scope="col" { (lang.t("routing-items")) }
                    th scope="col" { (lang.t("routing-received")) } th scope="col" { (lang.t("routing-entitled")) }
                    th scope="col" { (lang.t("routing-below")) } th scope="col" { (lang.t("routing-today")) }
                    th scope="col" { (lang.t("routing-now")) }
                } }
                tbody { @for (m, (weight, share)) in &p.view.members { tr {
                    td { (m.employee) } td.num { (num(*weight)) } td.num { (format::number(lang, share * 100.0, 1)) " %" }
                    td.num { (format::integer(lang, m.items as i64)) } td.num { (num(m.received)) } td.num { (num(m.entitled)) }
                    td.num { (num(m.deficit())) }
                    td.num { (format::integer(lang, if m.day == today { i64::from(m.day_items) } else { 0 })) }
                    td { @match p.away.iter().find(|(e, _)| *e == m.employee) {
                        Some((_, why)) => (lang.t(why)),
                        None => (lang.t("routing-available")),
                    } }
                } } }
            }
        }
        p { (lang.t("routing-pools-meaning")) }
        h2 { (lang.t("routing-waiting")) }
        @if waiting.is_empty() { p { (lang.t("routing-none-waiting")) } } @else {
            p { (lang.t("routing-waiting-how")) }
            table {
                thead { tr { th scope="col" { (lang.t("column-client")) } th scope="col" { (lang.t("routing-when")) } th scope="col" { (lang.t("routing-nobody-in")) } } }
                tbody { @for (client, at, roles) in &waiting { tr {
                    td { a href={ "/clients/" (super::url_encode(client)) } { (client) } }
                    td { (super::moment(lang, at)) }
                    td { (roles.iter().map(|r| titles.of(r).to_string()).collect::<Vec<_>>().join(", ")) }
                } } }
            }
        }
        h2 { (lang.t("routing-recent")) }
        @if recent.is_empty() { p { (lang.t("routing-none-recent")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("column-client")) } th scope="col" { (lang.t("routing-when")) }
                    th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("column-employee")) } th scope="col" { (lang.t("column-why")) }
                } }
                tbody { @for (client, at, owners) in &recent {
                    @if owners.is_empty() { tr {
                        td { a href={ "/clients/" (super::url_encode(client)) } { (client) } } td { (super::moment(lang, at)) }
                        td {} td { (lang.t("why-nobody")) } td {}
                    } }
                    @for o in owners { tr {
                        td { a href={ "/clients/" (super::url_encode(client)) } { (client) } } td { (super::moment(lang, at)) }
                        td { (titles.of(&o.role)) } td { (o.employee) } td { (o.note_in(lang)) }
                    } }
                } }
            }
        }
        h2 { (lang.t("routing-tokens")) }
        @if tokens.is_empty() { p { (lang.t("routing-no-tokens")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("routing-token-label")) } th scope="col" { (lang.t("routing-token-scope")) }
                    th scope="col" { (lang.t("column-employee")) } th scope="col" { (lang.t("routing-token-made")) }
                    th scope="col" { (lang.t("routing-token-state")) } th scope="col" { "" }
                } }
                tbody { @for (t, state) in &tokens { tr {
                    td { (t.token.label) } td { (lang.t(&format!("routing-scope-{}", t.token.scope))) }
                    td { (t.token.employee.as_deref().unwrap_or("")) }
                    td { (t.created_by) }
                    td { (token_state(lang, state)) }
                    td { @if !matches!(state, TokenState::Revoked { .. }) {
                        form method="post" action={ "/routing/tokens/" (t.token.id) "/revoke" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" aria-label=(lang.text("routing-revoke-label", &[("label", Arg::Text(&t.token.label))])) { (lang.t("routing-revoke")) }
                        }
                    } }
                } } }
            }
        }
        h3 { (lang.t("routing-token-new")) }
        form method="post" action="/routing/tokens" {
            input type="hidden" name="csrf" value=(s.csrf);
            label for="t-label" { (lang.t("routing-token-label")) }
            input #t-label name="label" required;
            label for="t-scope" { (lang.t("routing-token-scope")) }
            select #t-scope name="scope" { @for scope in SCOPES { option value=(scope) selected[scope == "router"] { (lang.t(&format!("routing-scope-{scope}"))) } } }
            label for="t-employee" { (lang.t("routing-token-employee")) }
            input #t-employee name="employee";
            label for="t-expires" { (lang.t("routing-token-expires")) }
            input #t-expires type="date" name="expires";
            p { button type="submit" { (lang.t("routing-token-create")) } }
        }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

fn token_state(lang: Lang, state: &TokenState) -> String {
    match state {
        TokenState::Revoked { by, at } => {
            lang.text("routing-token-revoked", &[("by", Arg::Text(by)), ("at", Arg::Text(at.get(..10).unwrap_or(at)))])
        }
        TokenState::Expired(d) => lang.text("routing-token-expired", &[("date", Arg::Text(&format::date(lang, d.0)))]),
        TokenState::WorksUntil(d) => lang.text("routing-token-until", &[("date", Arg::Text(&format::date(lang, d.0)))]),
        TokenState::Works => lang.t("routing-token-works"),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    employee: String,
    #[serde(default)]
    expires: String,
}

/// `POST /routing/tokens`: makes a token and shows its secret, once.
pub async fn create_token(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let label = f.label.trim().to_string();
    if label.is_empty() {
        return not_done(lang, &s, &lang.t("routing-token-needs-label"));
    }
    let expires = match f.expires.trim() {
        "" => None,
        t => match allot_rules::parse_iso_date(t) {
            Some(d) => Some(Day(d)),
            None => return not_done(lang, &s, &lang.text("error-date", &[("value", Arg::Text(t))])),
        },
    };
    let (scope, employee, actor) =
        (f.scope.trim().to_string(), Some(f.employee.trim().to_string()).filter(|e| !e.is_empty()), actor_of(&s));
    let today = Day(allot_app::clock::today());
    let made = state
        .with_store(move |st| {
            let req = TokenRequest { scope: &scope, employee: employee.as_deref(), label: &label, expires, today };
            Ok(allot_app::tokens::create(st, &req, &actor).map_err(|e| token_error(lang, e)))
        })
        .await;
    let secret = match made {
        Ok(Ok(secret)) => secret,
        Ok(Err(why)) => return not_done(lang, &s, &why),
        Err(e) => return trouble(lang, &e),
    };
    let title = lang.t("routing-token-made-title");
    let body = html! {
        h1 { (title) }
        p { (lang.t("routing-token-once")) }
        p { code #secret { (secret) } }
        p { a href="/routing" { (lang.t("routing-back")) } }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

/// A token refused, in the reader's words.
fn token_error(lang: Lang, e: allot_app::tokens::TokenError) -> String {
    use allot_app::tokens::TokenError as T;
    match e {
        T::UnknownScope(scope) => lang.text("routing-token-bad-scope", &[("scope", Arg::Text(&scope))]),
        T::NeedsEmployee(_) => lang.t("routing-token-needs-employee"),
        T::ExpiresBeforeUse(d) => lang.text("routing-token-expires-past", &[("date", Arg::Text(&format::date(lang, d.0)))]),
        T::Store(s) => allot_app::stored::AppError::Store(s).say(lang),
        e @ T::Randomness(_) => e.to_string(),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /routing/tokens/{id}/revoke`: the token stops working (within a second on every server).
pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let actor = actor_of(&s);
    match state
        .with_store(move |st| Ok(allot_app::tokens::revoke(st, id, &actor).map_err(|e| allot_app::stored::AppError::Store(e).say(lang))))
        .await
    {
        Ok(Ok(_)) => redirect("/routing"),
        Ok(Err(why)) => not_done(lang, &s, &why),
        Err(e) => trouble(lang, &e),
    }
}
