//! The workspace (issue #16, in progress): server-rendered pages beside the JSON API, in Russian
//! first and English (`allot-i18n`), for the people `allot user add` makes. So far: sign-in and
//! sign-out, and "My clients". No script, no font and nothing from another host: the pages work
//! offline.
//!
//! Sessions: the cookie `allot_session` holds a random secret (HttpOnly, SameSite=Lax, Secure when
//! the request came over HTTPS as a proxy says with `X-Forwarded-Proto`); the store keeps only its
//! hash. Every form that changes something carries the session's CSRF token; the sign-in form,
//! which has no session yet, carries a token that must match the `allot_csrf` cookie (double
//! submit), so that no other site can sign a browser in.

use std::sync::Arc;

use allot_app::users::{self, UserError};
use allot_i18n::format;
use allot_i18n::{Arg, Lang};
use allot_store::Session;
use axum::extract::{Form, Query, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

mod changes;
mod contribution;
mod imports;
mod plans;
mod routing;
mod rules;
mod territories;

pub use contribution::{ReportKey, Reports};
pub use rules::{spawn_draft_keeper, BuilderColumns, DraftBase};
pub use territories::Runs;

use plans::plan_after;

pub use imports::UPLOAD_PATH;

use crate::api::Scope;
use crate::error::ApiError;
use crate::AppState;

const SESSION_COOKIE: &str = "allot_session";
const CSRF_COOKIE: &str = "allot_csrf";
const LANG_COOKIE: &str = "allot_lang";
/// Rows of a table page.
pub const PAGE: usize = 50;

/// The workspace's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(root))
        .route("/home", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/my-clients", get(my_clients))
        .route("/my-clients.csv", get(my_clients_csv))
        .route("/my-clients.xlsx", get(my_clients_xlsx))
        .route("/clients/{id}", get(client_card))
        .route("/clients/{id}/pin", post(pin))
        .route("/clients/{id}/unpin", post(unpin))
        .route("/lang/{code}", get(switch_language))
        .route("/team", get(team))
        .route("/contribution", get(contribution::contribution))
        .route("/contribution.xlsx", get(contribution::contribution_xlsx))
        .route("/routing", get(routing::routing))
        .route(UPLOAD_PATH, get(imports::imports).post(imports::upload))
        .route("/changes", get(changes::changes))
        .route("/schemes", get(changes::schemes))
        .route("/routing/tokens", post(routing::create_token))
        .route("/routing/tokens/{id}/revoke", post(routing::revoke_token))
        .route("/team/absence", post(absence))
        .route("/team/absences/{id}/end", post(end_absence))
        .route("/team/leaver", post(leaver))
        .route("/team/plans/{id}", get(old_plan_path))
        .route("/rules", get(rules::rules).post(rules::edit))
        .route("/rules/check", post(rules::check))
        .route("/territories", get(territories::territories))
        .route("/territories/runs", post(territories::start))
        .route("/territories/runs/{id}", get(territories::run_page))
        .route("/territories/runs/{id}/map.png", get(territories::map_png))
        .route("/territories/runs/{id}/stop", post(territories::stop))
        .route("/territories/runs/{id}/plan", post(territories::to_plan))
        .route("/plans", get(plans::plans))
        .route("/plans/{id}", get(plans::plan_page))
        .route("/plans/{id}/clients", get(plans::plan_clients))
        .route("/plans/{id}/propose", post(plans::propose))
        .route("/plans/{id}/apply", post(plans::apply))
        .route("/plans/{id}/reject", post(plans::reject))
}

/// A cookie of the request.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The reader's language: the switch's cookie, else Accept-Language (Russian when neither says).
fn lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_else(|| Lang::from_accept_language(headers.get("accept-language").and_then(|v| v.to_str().ok()).unwrap_or("")))
}

fn https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS; `max_age` 0 deletes.
fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("allot_invalid=; Max-Age=0"))
}

/// A query value, percent-encoded (UTF-8).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")))]).into_response()
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], markup.into_string()).into_response()
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}\
header{display:flex;gap:1.2em;align-items:center;padding:.6em 1.2em;background:#1d2430;color:#fff}\
header a{color:#fff}header form{margin-left:auto}main{max-width:72em;margin:1.5em auto;padding:0 1.2em}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4em .6em;border-bottom:1px solid #dde}\
th{background:#eef1f5}.error{color:#a00;font-weight:600}label{display:block;margin:.6em 0 .2em}\
input{font:inherit;padding:.35em .5em}button{font:inherit;padding:.35em .9em}form.sign-in{max-width:22em}\
select{font:inherit;padding:.3em}textarea{font:13px/1.4 ui-monospace,monospace;width:100%;box-sizing:border-box}\
.split{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.5em}fieldset{margin:1em 0;border:1px solid #ccd;background:#fff}\
fieldset.inline{border:0;margin:.4em 0;padding:0;background:none}label.inline{display:inline;margin:0 .6em 0 0}.test{margin:.3em 0}\
.hint,.note{color:#556}pre.diag{white-space:pre-wrap;background:#fff6f6;border-left:3px solid #a00;padding:.4em}\
ol.rules li{margin:.3em 0}ol.rules button{padding:.1em .5em;margin-left:.2em}td.num{text-align:right}\
:focus-visible{outline:3px solid #e69f00;outline-offset:2px}button.default{position:absolute;left:-9999px}\
dl.record{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.record dd{margin:0}\
blockquote{margin:0;padding:.2em .6em;border-left:3px solid #99a;background:#fff}main.wide{max-width:none}";

/// The frame of every page: the language, the header with navigation, the user and sign-out.
fn layout(lang: Lang, title: &str, session: Option<&Session>, body: Markup) -> Markup {
    let other = match lang {
        Lang::Ru => Lang::En,
        Lang::En => Lang::Ru,
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("app-name")) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { (lang.t("app-name")) }
                    @if session.is_some() {
                        a href="/home" { (lang.t("nav-home")) }
                        a href="/my-clients" { (lang.t("nav-my-clients")) }
                    }
                    @if session.is_some_and(|s| matches!(s.user.role.as_str(), "admin" | "manager")) {
                        a href="/team" { (lang.t("nav-team")) }
                        a href="/plans" { (lang.t("nav-plans")) }
                    }
                    @if session.is_some_and(|s| s.user.role == "admin") {
                        a href="/rules" { (lang.t("nav-rules")) }
                        a href="/territories" { (lang.t("nav-territories")) }
                        a href="/contribution" { (lang.t("nav-contribution")) }
                        a href="/routing" { (lang.t("nav-routing")) }
                        a href="/imports" { (lang.t("nav-imports")) }
                        a href="/changes" { (lang.t("nav-changes")) }
                    }
                    a href={ "/lang/" (other.code()) } lang=(other.code()) { (lang.t("lang-switch")) }
                    @if let Some(s) = session {
                        form method="post" action="/sign-out" {
                            span { (lang.text("signed-in-as", &[("login", Arg::Text(&s.user.login))])) " " }
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { (lang.t("sign-out")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The head of sales only, with the form's token checked when there is a form.
async fn head_of_sales(state: &Arc<AppState>, headers: &HeaderMap, csrf: Option<&str>) -> Result<(Lang, Session), Response> {
    let lang = lang(headers);
    let s = signed_in(state, headers).await?;
    if csrf.is_some_and(|c| c != s.csrf) {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-csrf"));
    }
    if s.user.role != "admin" {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"));
    }
    Ok((lang, s))
}

/// The session of the request's cookie, if live.
async fn session(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).map(str::to_string) else { return Ok(None) };
    let now = allot_app::clock::now_seconds();
    state.read(move |s| users::session(s, &secret, now)).await
}

/// The session a page needs: the live one, or the response that sends the person to sign in (or
/// says the store is out of reach).
async fn signed_in(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Session, Response> {
    match session(state, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(redirect("/sign-in")),
        Err(e) => Err(trouble(lang(headers), &e)),
    }
}

/// A page a person cannot be given (the store is down, …): said in their language, never the
/// database's words.
fn trouble(lang: Lang, e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = html! { p.error { (e.message) } };
    page(status, layout(lang, &lang.t("error-not-found"), None, body))
}

async fn root(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match session(&state, &headers).await {
        Ok(Some(_)) => redirect("/home"),
        Ok(None) => redirect("/sign-in"),
        Err(e) => trouble(lang(&headers), &e),
    }
}

fn sign_in_form(lang: Lang, csrf: &str, login: &str, error: Option<&str>) -> Markup {
    let body = html! {
        h1 { (lang.t("sign-in-title")) }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.sign-in method="post" action="/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label for="login" { (lang.t("sign-in-login")) }
            input #login name="login" autocomplete="username" required value=(login) autofocus;
            label for="password" { (lang.t("sign-in-password")) }
            input #password name="password" type="password" autocomplete="current-password" required;
            p { button type="submit" { (lang.t("sign-in-submit")) } }
        }
    };
    layout(lang, &lang.t("sign-in-title"), None, body)
}

/// The sign-in form, with a fresh double-submit token (or the one the browser has).
async fn sign_in_page(headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let csrf = match cookie(&headers, CSRF_COOKIE) {
        Some(c) if c.strip_prefix("login_").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())) => c.to_string(),
        _ => match allot_app::tokens::new_secret("login") {
            Ok(c) => c,
            Err(e) => return trouble(lang, &ApiError::unavailable(e.to_string())),
        },
    };
    let mut r = page(StatusCode::OK, sign_in_form(lang, &csrf, "", None));
    r.headers_mut().append(SET_COOKIE, set_cookie(&headers, CSRF_COOKIE, &csrf, 3600));
    r
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<SignInForm>) -> Response {
    let lang = lang(&headers);
    let expected = cookie(&headers, CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || f.csrf != expected {
        return page(StatusCode::FORBIDDEN, sign_in_form(lang, expected, &f.login, Some(&lang.t("error-csrf"))));
    }
    let (login, password) = (f.login.clone(), f.password.clone());
    let now = allot_app::clock::now_seconds();
    let done = state
        .with_store(move |s| match users::sign_in(s, &login, &password, now) {
            Ok(signed) => Ok(Ok(signed)),
            Err(UserError::Store(e)) => Err(ApiError::store(e)),
            Err(e) => Ok(Err(e)),
        })
        .await;
    match done {
        Ok(Ok(signed)) => {
            let mut r = redirect("/home");
            r.headers_mut().append(SET_COOKIE, set_cookie(&headers, SESSION_COOKIE, &signed.secret, users::SESSION_SECONDS));
            r
        }
        Ok(Err(UserError::Locked { until })) => {
            let message = lang.text("sign-in-locked", &[("until", Arg::Text(&until))]);
            page(StatusCode::TOO_MANY_REQUESTS, sign_in_form(lang, expected, &f.login, Some(&message)))
        }
        Ok(Err(_)) => page(StatusCode::UNAUTHORIZED, sign_in_form(lang, expected, &f.login, Some(&lang.t("sign-in-wrong")))),
        Err(e) => trouble(lang, &e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let lang = lang(&headers);
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if f.csrf != s.csrf {
        return page(StatusCode::FORBIDDEN, layout(lang, &lang.t("error-csrf"), Some(&s), html! { p.error { (lang.t("error-csrf")) } }));
    }
    let secret = cookie(&headers, SESSION_COOKIE).unwrap_or("").to_string();
    let now = allot_app::clock::now_seconds();
    if let Err(e) = state.read(move |st| users::sign_out(st, &secret, now)).await {
        return trouble(lang, &e);
    }
    let mut r = redirect("/sign-in");
    r.headers_mut().append(SET_COOKIE, set_cookie(&headers, SESSION_COOKIE, "", 0));
    r
}

async fn switch_language(headers: HeaderMap, axum::extract::Path(code): axum::extract::Path<String>) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let back = headers
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]).and_then(|rest| rest.find('/').map(|j| rest[j..].to_string())))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let mut r = redirect(&back);
    r.headers_mut().append(SET_COOKIE, set_cookie(&headers, LANG_COOKIE, lang.code(), 365 * 86_400));
    r
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
    /// `client` (the default), `since` (newest first) or `role`.
    #[serde(default)]
    sort: String,
}

fn order_of(sort: &str) -> allot_store::BookOrder {
    match sort {
        "since" => allot_store::BookOrder::Since,
        "role" => allot_store::BookOrder::Role,
        _ => allot_store::BookOrder::Client,
    }
}

/// The clients the signed-in person holds today, per role: search by id or name, pages of
/// [`PAGE`].
async fn my_clients(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let lang = lang(&headers);
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let today = allot_app::clock::today();
    let search = q.q.clone();
    let page_no = q.page;
    let order = order_of(&q.sort);
    let employee = s.user.employee.clone();
    let read = state.with_store(move |st| {
        let titles = allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?;
        let page = match &employee {
            None => allot_app::stored::BookPage::default(),
            Some(e) => allot_app::stored::book_page(st, e, today, Some(&search), order, page_no as u64, PAGE as u64)
                .map_err(crate::api::book_error)?,
        };
        Ok((page, titles))
    });
    let (rows, total, titles) = match read.await {
        Ok((p, titles)) => (p.rows, p.total as usize, titles),
        Err(e) => return trouble(lang, &e),
    };
    let pages = total.div_ceil(PAGE).max(1);
    let count =
        lang.text("my-clients-count", &[("count", Arg::Count(total as i64)), ("shown", Arg::Text(&format::integer(lang, total as i64)))]);
    let body = html! {
        h1 { (lang.t("my-clients-title")) }
        p {
            (count) ", " (lang.text("as-of", &[("date", Arg::Text(&format::date(lang, today)))]))
            @if total > 0 {
                " · " a href="/my-clients.xlsx" download { (lang.t("my-clients-download-xlsx")) }
                " · " a href="/my-clients.csv" download { (lang.t("my-clients-download")) }
            }
        }
        form method="get" action="/my-clients" role="search" {
            label for="q" { (lang.t("column-client")) }
            input #q type="search" name="q" value=(q.q);
        }
        @if total == 0 {
            p { (lang.t("my-clients-none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { a href={ "/my-clients?sort=client&q=" (url_encode(&q.q)) } { (lang.t("column-client")) } }
                    th scope="col" { (lang.t("column-name")) }
                    th scope="col" { (lang.t("column-region")) }
                    th scope="col" { (lang.t("column-potential")) }
                    th scope="col" { a href={ "/my-clients?sort=role&q=" (url_encode(&q.q)) } { (lang.t("column-role")) } }
                    th scope="col" { a href={ "/my-clients?sort=since&q=" (url_encode(&q.q)) } { (lang.t("column-since")) } }
                    th scope="col" { (lang.t("column-why")) }
                } }
                tbody {
                    @for (l, c) in &rows {
                        tr {
                            td { a href={ "/clients/" (url_encode(&l.client)) } { (l.client) } }
                            td { (c.name.as_deref().unwrap_or("")) }
                            td { (c.attribute("region").unwrap_or("")) }
                            td.num { (potential(lang, c.attribute("potential"))) }
                            td { (titles.of(&l.role)) }
                            td { (format::date(lang, l.from.0)) }
                            td { a href={ "/clients/" (url_encode(&l.client)) "#why" } { (why_of(lang, l)) } }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav aria-label=(lang.t("page-of")) {
                    @if page_no > 0 { a href={ "/my-clients?page=" (page_no - 1) "&sort=" (url_encode(&q.sort)) "&q=" (url_encode(&q.q)) } { (lang.t("page-prev")) } " " }
                    (lang.text("page-of", &[("page", Arg::Text(&format::integer(lang, page_no as i64 + 1))), ("pages", Arg::Text(&format::integer(lang, pages as i64)))]))
                    @if page_no + 1 < pages { " " a href={ "/my-clients?page=" (page_no + 1) "&sort=" (url_encode(&q.sort)) "&q=" (url_encode(&q.q)) } { (lang.t("page-next")) } }
                }
            }
        }
    };
    page(StatusCode::OK, layout(lang, &lang.t("my-clients-title"), Some(&s), body))
}

/// A client's potential as the language writes an amount (`12 500 000`); as stored when it is not a
/// number.
fn potential(lang: Lang, stored: Option<&str>) -> String {
    match stored {
        Some(v) => v.parse::<f64>().map_or_else(|_| v.to_string(), |x| format::number(lang, x, 0)),
        None => String::new(),
    }
}

/// A stored attribute as the reader's language writes it: numbers grouped (`1 200 000`, `0,5`),
/// lists joined, text as it is.
fn value_text(lang: Lang, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format::number(lang, x, 0),
            Some(x) => format::number(lang, x, 2),
            None => n.to_string(),
        },
        serde_json::Value::Array(items) => items.iter().map(|i| value_text(lang, i)).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// Why a link is there, in a word or two: the rule that decided it, or its cause.
fn why_of(lang: Lang, l: &allot_store::LinkEntry) -> String {
    l.rule.clone().unwrap_or_else(|| lang.t(&format!("cause-{}", l.cause.as_str())))
}

/// A recorded moment (RFC 3339, UTC) as the language writes a date, with the time (UTC).
fn moment(lang: Lang, at: &str) -> String {
    match (at.get(..10).and_then(allot_rules::parse_iso_date), at.get(11..16)) {
        (Some(d), Some(hm)) => format!("{} {hm} UTC", format::date(lang, d)),
        _ => at.to_string(),
    }
}

/// What a signed-in person may see: the API's scope of the same name.
fn scope_of(s: &Session) -> Scope {
    match (s.user.role.as_str(), s.user.employee.clone()) {
        ("manager", Some(employee)) => Scope::Manager { employee },
        ("employee", Some(employee)) => Scope::Employee { employee },
        ("admin", _) => Scope::Admin,
        // A manager or employee without an employee sees nobody's clients.
        _ => Scope::Employee { employee: String::new() },
    }
}

fn refused(lang: Lang, s: &Session, status: StatusCode, key: &str) -> Response {
    page(status, layout(lang, &lang.t(key), Some(s), html! { p.error role="alert" { (lang.t(key)) } }))
}

/// A client's card: its data, who is responsible now, the whole history with causes and who made
/// each change, and why. Only for those who may see the client (as the API's scopes): anybody
/// else gets 403 and nothing of the client.
async fn client_card(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let lang = lang(&headers);
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let c = id.clone();
    let history = match state.read(move |st| st.history(&c)).await {
        Ok(h) => h,
        Err(e) if e.status == 404 => return refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return trouble(lang, &e),
    };
    match crate::api::may_see_client(&state, &scope_of(&s), &id, &history).await {
        Ok(()) => {}
        Err(e) if e.status == 403 => return refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"),
        Err(e) => return trouble(lang, &e),
    }
    let today = allot_app::clock::today();
    let (c1, c2, c3) = (id.clone(), id.clone(), id.clone());
    let owners = match state.read(move |st| st.owners_at(allot_store::Day(today), Some(&c1))).await {
        Ok(o) => o,
        Err(e) => return trouble(lang, &e),
    };
    let (attrs, deals) =
        match state.read(move |st| Ok((st.client_attributes(std::slice::from_ref(&c2))?, st.client_deals(&c2, 100)?))).await {
            Ok((mut a, d)) => (a.pop().map(|(_, json)| json).unwrap_or_default(), d),
            Err(e) => return trouble(lang, &e),
        };
    // Each deal's attributes as "name: value" texts, in the stored order.
    let deals: Vec<(String, String)> = deals
        .into_iter()
        .map(|(id, json)| {
            let text = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json)
                .map(|m| {
                    m.into_iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            (id, text)
        })
        .collect();
    let attributes: Vec<(String, String)> = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&attrs) {
        Ok(m) => m.into_iter().map(|(k, v)| (k, value_text(lang, &v))).collect(),
        Err(_) => Vec::new(),
    };
    // One client's explanation reads the scheme, the people and that client: no whole-book gate
    // (a plan or a check under way does not hold the card up).
    let explanation = state
        .with_store(move |st| allot_app::stored::explain_stored(st, &c3, today, lang).map_err(crate::api::book_error))
        .await
        .unwrap_or_default();
    let may_pin = matches!(s.user.role.as_str(), "admin" | "manager");
    let c4 = id.clone();
    let read = state.with_store(move |st| {
        let pins = if may_pin { st.client_pins(&c4).map_err(ApiError::store)? } else { Vec::new() };
        Ok((pins, allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?))
    });
    let (pins, titles) = match read.await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    let day = |d: Option<allot_store::Day>| d.map_or_else(|| "…".to_string(), |d| format::date(lang, d.0));
    let title = lang.text("client-title", &[("id", Arg::Text(&id))]);
    let body = html! {
        h1 { (title) }
        h2 { (lang.t("client-attributes")) }
        table {
            thead { tr { th scope="col" { (lang.t("column-attribute")) } th scope="col" { (lang.t("column-value")) } } }
            tbody { @for (k, v) in &attributes { tr { td { (k) } td { (v) } } } }
        }
        h2 { (lang.t("client-owners-now")) }
        @if owners.is_empty() {
            p { (lang.t("client-no-owners")) }
        } @else {
            table {
                thead { tr { th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("column-employee")) } th scope="col" { (lang.t("column-since")) } th scope="col" { (lang.t("column-why")) } } }
                tbody { @for o in &owners { tr {
                    td { (titles.of(&o.role)) } td { (o.employee) } td { (format::date(lang, o.from.0)) } td { (why_of(lang, o)) }
                } } }
            }
        }
        h2 { (lang.t("client-deals")) }
        @if deals.is_empty() { p { (lang.t("client-no-deals")) } } @else {
            table {
                thead { tr { th scope="col" { (lang.t("column-deal")) } th scope="col" { (lang.t("client-attributes")) } } }
                tbody { @for (id, text) in &deals { tr { td { (id) } td { (text) } } } }
            }
        }
        h2 { (lang.t("client-history")) }
        table {
            thead { tr {
                th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("column-employee")) }
                th scope="col" { (lang.t("column-since")) } th scope="col" { (lang.t("column-to")) }
                th scope="col" { (lang.t("column-cause")) } th scope="col" { (lang.t("column-by")) }
            } }
            tbody { @for h in &history { tr {
                td { (titles.of(&h.role)) } td { (h.employee) } td { (day(Some(h.from))) } td { (day(h.to)) }
                td { (lang.t(&format!("cause-{}", h.cause.as_str()))) @if let Some(r) = &h.rule { " (" (r) ")" } @if !h.note.is_empty() { ": " (h.note_in(lang)) } }
                td { (h.opened_by) " · " (moment(lang, &h.opened_at)) }
            } } }
        }
        @if may_pin {
            h2 { (lang.t("pins-title")) }
            @for (role, employee, reason) in &pins {
                form method="post" action={ "/clients/" (url_encode(&id)) "/unpin" } {
                    (titles.of(role)) " → " (employee) ": " (reason) " "
                    input type="hidden" name="csrf" value=(s.csrf);
                    input type="hidden" name="role" value=(role);
                    button type="submit" { (lang.t("unpin-submit")) }
                }
            }
            form method="post" action={ "/clients/" (url_encode(&id)) "/pin" } {
                input type="hidden" name="csrf" value=(s.csrf);
                label for="pin-role" { (lang.t("pin-role")) }
                select #pin-role name="role" { @for (r, t) in &titles.0 { option value=(r) { (t) } } }
                label for="pin-employee" { (lang.t("pin-employee")) }
                input #pin-employee name="employee" required;
                label for="pin-reason" { (lang.t("pin-reason")) }
                input #pin-reason name="reason" required;
                p { button type="submit" { (lang.t("pin-submit")) } }
            }
        }
        @if !explanation.is_empty() {
            h2 #why { (lang.t("client-explanation")) }
            pre { (explanation) }
        }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    employee: String,
    #[serde(default)]
    reason: String,
}

/// The checks of every change made from a client's card: a session, a role that may change
/// responsibility (admin, manager), the session's CSRF token, and a client (and, for a manager,
/// an employee) within reach. The session, or the page that refuses.
async fn may_change(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    client: &str,
    csrf: &str,
    employee: Option<&str>,
) -> Result<Session, Response> {
    let lang = lang(headers);
    let s = signed_in(state, headers).await?;
    if csrf != s.csrf {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-csrf"));
    }
    if !matches!(s.user.role.as_str(), "admin" | "manager") {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"));
    }
    let c = client.to_string();
    let history = match state.read(move |st| st.history(&c)).await {
        Ok(h) => h,
        Err(e) if e.status == 404 => return Err(refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found")),
        Err(e) => return Err(trouble(lang, &e)),
    };
    let scope = scope_of(&s);
    if crate::api::may_see_client(state, &scope, client, &history).await.is_err() {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"));
    }
    if let (Some(e), Ok(Some(allowed))) = (employee, crate::api::visible_employees(state, &scope).await) {
        if !allowed.iter().any(|a| a == e) {
            return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"));
        }
    }
    Ok(s)
}

/// The store's revision, and the newest change a person made (an import, a plan, a pin…): what
/// decides whether something read from the store earlier still stands ([`still_current`]).
async fn revisions(state: &Arc<AppState>) -> Result<(i64, i64), crate::error::ApiError> {
    state.read(|st| Ok((st.revision()?, st.change_page(None, 1, false)?.first().map_or(0, |c| c.id)))).await
}

/// While only routing's batches move the book, a slow read (at least this long) stands for
/// [`ROUTING_GRACE`]; a quicker one is made again, to be exact.
const SLOW_READ: std::time::Duration = std::time::Duration::from_millis(500);
const ROUTING_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a read of the store made at revision `rev`, at `at`, taking `took`, still stands
/// against `(revision, made)` ([`revisions`]): nothing moved since; or only routing moved it,
/// less than a minute ago, and the read was slow — the rule builder's read, its columns, the
/// Contribution reports are previews (a plan reads the store afresh).
fn still_current(rev: i64, at: std::time::Instant, took: std::time::Duration, (revision, made): (i64, i64)) -> bool {
    rev == revision || (made <= rev && took >= SLOW_READ && at.elapsed() < ROUTING_GRACE)
}

/// Who did it, for the history: the signed-in user.
fn actor_of(s: &Session) -> allot_store::Actor {
    allot_store::Actor { by: format!("user:{}", s.user.login), at: allot_app::clock::now_utc() }
}

fn not_done(lang: Lang, s: &Session, why: &str) -> Response {
    let text = lang.text("pin-refused", &[("why", Arg::Text(why))]);
    page(StatusCode::UNPROCESSABLE_ENTITY, layout(lang, &text, Some(s), html! { p.error role="alert" { (text) } }))
}

/// Pins the client in a role to an employee, with a reason, from today (S1.1: rules never move it).
async fn pin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(f): Form<PinForm>,
) -> Response {
    let s = match may_change(&state, &headers, &id, &f.csrf, Some(&f.employee)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (actor, client, lang) = (actor_of(&s), id.clone(), lang(&headers));
    let today = allot_store::Day(allot_app::clock::today());
    let done = state
        .with_store(move |st| {
            let req = allot_store::PinRequest { client: &client, role: &f.role, employee: &f.employee, reason: &f.reason, date: today };
            Ok(allot_app::stored::pin(st, &req, &actor).map(|_| ()).map_err(|e| e.say(lang)))
        })
        .await;
    match done {
        Ok(Ok(())) => redirect(&format!("/clients/{}", url_encode(&id))),
        Ok(Err(why)) => not_done(lang, &s, &why),
        Err(e) => trouble(lang, &e),
    }
}

/// Ends the client's pin in a role; the next plan may move it by the rules.
async fn unpin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(f): Form<PinForm>,
) -> Response {
    let s = match may_change(&state, &headers, &id, &f.csrf, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (actor, client, lang) = (actor_of(&s), id.clone(), lang(&headers));
    let done =
        state.with_store(move |st| Ok(allot_app::stored::unpin(st, &client, &f.role, &actor).map(|_| ()).map_err(|e| e.say(lang)))).await;
    match done {
        Ok(Ok(())) => redirect(&format!("/clients/{}", url_encode(&id))),
        Ok(Err(why)) => not_done(lang, &s, &why),
        Err(e) => trouble(lang, &e),
    }
}

/// Home: what changed for me since my last visit — clients gained and handed over, with why.
async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(employee) = s.user.employee.clone() else {
        let body = html! { h1 { (lang.t("home-title")) } p { (lang.t("home-no-employee")) } };
        return page(StatusCode::OK, layout(lang, &lang.t("home-title"), Some(&s), body));
    };
    let (user, current) = (s.user.id, allot_app::tokens::hash(cookie(&headers, SESSION_COOKIE).unwrap_or("")));
    let read = state.read(move |st| {
        let since = st.previous_visit(user, &current)?;
        // A first visit shows the latest changes of the last 30 days.
        let from = since.clone().unwrap_or_else(|| allot_app::clock::rfc3339(allot_app::clock::now_seconds().saturating_sub(30 * 86_400)));
        Ok((since, st.link_changes(&employee, &from, 200)?))
    });
    let titles = state.with_store(move |st| allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error));
    let ((since, changes), titles) = match tokio::try_join!(read, titles) {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    let after = |at: &str| since.as_deref().is_none_or(|s| at > s);
    let gained = changes.iter().filter(|c| after(&c.opened_at)).count() as i64;
    let lost = changes.iter().filter(|c| c.closed_at.as_deref().is_some_and(after)).count() as i64;
    let count = |key: &str, n: i64| lang.text(key, &[("count", Arg::Count(n)), ("shown", Arg::Text(&format::integer(lang, n)))]);
    let body = html! {
        h1 { (lang.t("home-title")) }
        p {
            @match &since {
                Some(at) => (lang.text("home-since", &[("date", Arg::Text(&moment(lang, at)))])),
                None => (lang.t("home-first")),
            }
            " " (count("home-gained", gained)) ", " (count("home-lost", lost)) "."
        }
        @if changes.is_empty() {
            p { (lang.t("home-nothing")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("column-change")) } th scope="col" { (lang.t("column-client")) }
                    th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("column-since")) }
                    th scope="col" { (lang.t("column-cause")) } th scope="col" { (lang.t("column-by")) }
                } }
                tbody { @for c in &changes {
                    @let lost_it = c.closed_at.as_deref().is_some_and(after);
                    tr {
                        td { (lang.t(if lost_it { "change-lost" } else { "change-gained" })) }
                        td { a href={ "/clients/" (url_encode(&c.client)) } { (c.client) } }
                        td { (titles.of(&c.role)) }
                        td { (format::date(lang, if lost_it { c.to.unwrap_or(c.from).0 } else { c.from.0 })) }
                        td { (lang.t(&format!("cause-{}", c.cause.as_str()))) @if let Some(r) = &c.rule { " (" (r) ")" } }
                        td { @if lost_it { (c.closed_by.as_deref().unwrap_or("")) } @else { (c.opened_by) } }
                    }
                } }
            }
        }
    };
    page(StatusCode::OK, layout(lang, &lang.t("home-title"), Some(&s), body))
}

/// My clients as rows of text for a file: the reader's headers, then every client of the
/// signed-in person (their whole book: bounded by one employee).
async fn my_clients_rows(state: &Arc<AppState>, headers: &HeaderMap) -> Result<(Lang, Vec<String>, Vec<Vec<String>>), Response> {
    let lang = lang(headers);
    let s = signed_in(state, headers).await?;
    let today = allot_app::clock::today();
    let employee = s.user.employee.clone();
    let read = state.with_store(move |st| {
        let titles = allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?;
        let book = match &employee {
            None => Default::default(),
            Some(e) => allot_app::stored::book_with_clients(st, e, today).map_err(crate::api::book_error)?,
        };
        Ok((book, titles))
    });
    let ((links, clients), titles) = match read.await {
        Ok(x) => x,
        Err(e) => return Err(trouble(lang, &e)),
    };
    let head = ["column-client", "column-name", "column-region", "column-potential", "column-role", "column-since", "column-why"]
        .map(|k| lang.t(k))
        .to_vec();
    let rows = links
        .into_iter()
        .map(|l| {
            let c = clients.get(&l.client);
            let attr = |k: &str| c.and_then(|c| c.attribute(k)).unwrap_or("").to_string();
            let name = c.and_then(|c| c.name.clone()).unwrap_or_default();
            let why = why_of(lang, &l);
            // The potential as a plain number, so that a spreadsheet can add it up.
            vec![
                l.client.clone(),
                name,
                attr("region"),
                attr("potential"),
                titles.of(&l.role).to_string(),
                format::date(lang, l.from.0),
                why,
            ]
        })
        .collect();
    Ok((lang, head, rows))
}

fn download(content_type: &'static str, file: &'static str, bytes: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).unwrap_or(HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type)), (axum::http::header::CONTENT_DISPOSITION, disposition)],
        bytes,
    )
        .into_response()
}

/// My clients as a CSV file: in Russian with `;` between fields and a BOM (what Excel opens as it
/// is in a Russian locale), in English with `,`.
async fn my_clients_csv(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, head, rows) = match my_clients_rows(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (sep, bom) = match lang {
        Lang::Ru => (b';', "\u{feff}"),
        Lang::En => (b',', ""),
    };
    let mut out = csv::WriterBuilder::new().delimiter(sep).from_writer(bom.as_bytes().to_vec());
    let mut written = out.write_record(&head).is_ok();
    for row in &rows {
        written &= out.write_record(row).is_ok();
    }
    match out.into_inner() {
        Ok(bytes) if written => download("text/csv; charset=utf-8", "my-clients.csv", bytes),
        _ => trouble(lang, &ApiError::unavailable("the file could not be made".into())),
    }
}

/// My clients as an XLSX workbook.
async fn my_clients_xlsx(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, head, rows) = match my_clients_rows(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match allot_render::table::xlsx(&lang.t("my-clients-title"), &head, &rows) {
        Ok(bytes) => download("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "my-clients.xlsx", bytes),
        Err(e) => trouble(lang, &ApiError::unavailable(e.to_string())),
    }
}

/// A manager's or the head of sales' session, or the page that refuses (and, for a form, its
/// CSRF token checked).
async fn leader(state: &Arc<AppState>, headers: &HeaderMap, csrf: Option<&str>) -> Result<Session, Response> {
    let lang = lang(headers);
    let s = signed_in(state, headers).await?;
    if csrf.is_some_and(|c| c != s.csrf) {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-csrf"));
    }
    if !matches!(s.user.role.as_str(), "admin" | "manager") {
        return Err(refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"));
    }
    Ok(s)
}

/// The employees a leader may act for: their teams (a manager), everyone (the head of sales).
async fn team_of(state: &Arc<AppState>, s: &Session) -> Result<Vec<String>, ApiError> {
    let people = state.read(|st| st.people()).await?;
    Ok(members_in(s, &people))
}

/// [`team_of`] from the people snapshot a page has read already.
fn members_in(s: &Session, people: &allot_store::Snapshot) -> Vec<String> {
    crate::api::visible_in(&scope_of(s), people).unwrap_or_else(|| people.employees.iter().map(|e| e.id.clone()).collect())
}

/// Horizontal bars of clients per employee, one colour per role, with the values written at the
/// bars, the scale's end and a legend (SVG in the page: no script, no image to fetch).
fn load_chart(lang: Lang, loads: &[(String, String, u64)]) -> Markup {
    const COLOURS: [&str; 6] = ["#3b6fb6", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"];
    let mut roles: Vec<&str> = loads.iter().map(|l| l.1.as_str()).collect();
    roles.sort_unstable();
    roles.dedup();
    let colour = |r: &str| COLOURS[roles.iter().position(|x| *x == r).unwrap_or(0) % COLOURS.len()];
    let max = loads.iter().map(|l| l.2).max().unwrap_or(1).max(1);
    let (left, width, bar, gap) = (180.0, 420.0, 18.0, 6.0);
    let height = 30.0 + loads.len() as f64 * (bar + gap) + 40.0;
    html! {
        svg role="img" aria-label=(lang.t("team-chart")) width=(left + width + 90.0) height=(height) viewBox={ "0 0 " (left + width + 90.0) " " (height) } {
            text x="0" y="16" font-size="13" font-weight="600" { (lang.t("team-chart")) }
            @for (i, (employee, role, n)) in loads.iter().enumerate() {
                @let y = 30.0 + i as f64 * (bar + gap);
                @let w = (*n as f64 / max as f64 * width).max(1.0);
                text x=(left - 6.0) y=(y + 13.0) font-size="12" text-anchor="end" { (employee) " · " (role) }
                rect x=(left) y=(y) width=(w) height=(bar) fill=(colour(role)) {}
                text x=(left + w + 4.0) y=(y + 13.0) font-size="12" { (format::integer(lang, *n as i64)) }
            }
            @let axis = 30.0 + loads.len() as f64 * (bar + gap) + 4.0;
            line x1=(left) y1=(axis) x2=(left + width) y2=(axis) stroke="#555" {}
            text x=(left) y=(axis + 14.0) font-size="11" { "0" }
            text x=(left + width) y=(axis + 14.0) font-size="11" text-anchor="end" { (format::integer(lang, max as i64)) " " (lang.t("column-clients").to_lowercase()) }
            @for (i, r) in roles.iter().enumerate() {
                rect x=(left + i as f64 * 110.0) y=(axis + 22.0) width="10" height="10" fill=(colour(r)) {}
                text x=(left + 14.0 + i as f64 * 110.0) y=(axis + 31.0) font-size="11" { (r) }
            }
        }
    }
}

/// The team: each one's load per role (a table and bars), the absences, and a form that registers
/// an absence and shows its plan before anything lands.
async fn team(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let today = allot_app::clock::today();
    let people = match state.read(|st| st.people()).await {
        Ok(p) => p,
        Err(e) => return trouble(lang, &e),
    };
    let members = members_in(&s, &people);
    // The head of sales counts everyone's; a manager only their teams' (ranges of the index).
    let team = (s.user.role != "admin").then(|| members.clone());
    let read = state.with_store(move |st| {
        let titles = allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?;
        Ok((st.loads(allot_store::Day(today), team.as_deref()).map_err(ApiError::store)?, titles))
    });
    let (loads, titles) = match read.await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    // Already the team's only (or everyone's, for the head of sales): the store counted them so.
    let loads: Vec<_> = loads.into_iter().map(|(e, r, n)| (e, titles.of(&r).to_string(), n)).collect();
    let id_of = |k: allot_store::EmployeeKey| people.employees.iter().find(|e| e.key == k).map(|e| e.id.clone()).unwrap_or_default();
    let leavers: Vec<_> = people.leavers.iter().map(|l| (id_of(l.employee), l.on, l.applied)).filter(|l| members.contains(&l.0)).collect();
    let absences: Vec<_> = people
        .absences
        .iter()
        .map(|a| (id_of(a.employee), a.first, a.last, a.cover.map(id_of), a.applied, a.id))
        .filter(|a| members.contains(&a.0))
        .collect();
    let body = html! {
        h1 { (lang.t("team-title")) }
        h2 { (lang.t("team-loads")) }
        (load_chart(lang, &loads))
        table {
            thead { tr { th scope="col" { (lang.t("column-employee")) } th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("column-clients")) } } }
            tbody { @for (e, r, n) in &loads { tr { td { (e) } td { (r) } td { (format::integer(lang, *n as i64)) } } } }
        }
        h2 { (lang.t("team-absences")) }
        @if absences.is_empty() { p { (lang.t("team-no-absences")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("absence-employee")) } th scope="col" { (lang.t("absence-first")) }
                    th scope="col" { (lang.t("absence-last")) } th scope="col" { (lang.t("absence-cover")) } th scope="col" { "" }
                    th scope="col" { (lang.t("absence-end")) }
                } }
                tbody { @for (e, f, l, c, applied, id) in &absences { tr {
                    td { (e) } td { (format::date(lang, f.0)) } td { (format::date(lang, l.0)) }
                    td { (c.clone().unwrap_or_else(|| lang.t("absence-cover-peers"))) }
                    td { (lang.t(if *applied { "absence-applied" } else { "absence-planned" })) }
                    td { @if l.0 >= today {
                        // Ends it early: the last day (today by default), then its plan to confirm.
                        form method="post" action={ "/team/absences/" (id) "/end" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            label for={ "end-last-" (id) } { (lang.t("absence-end-last")) } " "
                            input id={ "end-last-" (id) } type="date" name="last" required value=(allot_rules::civil_from_days(today.max(f.0)));
                            " " button type="submit" { (lang.t("absence-end-submit")) }
                        }
                    } }
                } } }
            }
        }
        h2 { (lang.t("team-leavers")) }
        @if leavers.is_empty() { p { (lang.t("team-no-leavers")) } } @else {
            table {
                thead { tr { th scope="col" { (lang.t("leaver-employee")) } th scope="col" { (lang.t("leaver-on")) } th scope="col" { "" } } }
                tbody { @for (e, on, applied) in &leavers { tr {
                    td { (e) } td { (format::date(lang, on.0)) } td { (lang.t(if *applied { "absence-applied" } else { "absence-planned" })) }
                } } }
            }
        }
        h2 { (lang.t("team-leaver-new")) }
        form method="post" action="/team/leaver" {
            input type="hidden" name="csrf" value=(s.csrf);
            label for="leaver-employee" { (lang.t("leaver-employee")) }
            select #leaver-employee name="employee" { @for m in &members { option value=(m) { (m) } } }
            label for="leaver-on" { (lang.t("leaver-on")) }
            input #leaver-on type="date" name="on" required value=(allot_rules::civil_from_days(today));
            p { button type="submit" { (lang.t("leaver-submit")) } }
        }
        h2 { (lang.t("team-absence-new")) }
        form method="post" action="/team/absence" {
            input type="hidden" name="csrf" value=(s.csrf);
            label for="absence-employee" { (lang.t("absence-employee")) }
            select #absence-employee name="employee" { @for m in &members { option value=(m) { (m) } } }
            label for="absence-first" { (lang.t("absence-first")) }
            input #absence-first type="date" name="first" required value=(allot_rules::civil_from_days(today));
            label for="absence-last" { (lang.t("absence-last")) }
            input #absence-last type="date" name="last" required value=(allot_rules::civil_from_days(today + 6));
            label for="absence-cover" { (lang.t("absence-cover")) }
            select #absence-cover name="cover" {
                option value="" { (lang.t("absence-cover-peers")) }
                @for m in &members { option value=(m) { (m) } }
            }
            p { button type="submit" { (lang.t("absence-submit")) } }
        }
    };
    page(StatusCode::OK, layout(lang, &lang.t("team-title"), Some(&s), body))
}

#[derive(Deserialize)]
pub struct EndAbsenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    last: String,
    /// `yes` once the person has seen what it changes.
    #[serde(default)]
    confirm: String,
}

/// Ends an absence early: first what it changes (covers ending, clients coming back, on which
/// day), then, confirmed, the change itself; back to the Team page.
async fn end_absence(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Form(f): Form<EndAbsenceForm>,
) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Only an absence of someone within the manager's reach (the same refusal when there is none).
    let people = match state.read(|st| st.people()).await {
        Ok(p) => p,
        Err(e) => return trouble(lang, &e),
    };
    let members = members_in(&s, &people);
    let whose = people.absences.iter().find(|a| a.id == id).and_then(|a| people.employees.iter().find(|e| e.key == a.employee));
    if !whose.is_some_and(|e| members.contains(&e.id)) {
        return refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden");
    }
    let Some(last) = allot_rules::parse_iso_date(f.last.trim()) else {
        return not_done(lang, &s, &lang.text("error-date", &[("value", Arg::Text(&f.last))]));
    };
    let (apply, actor, today) = (f.confirm == "yes", actor_of(&s), allot_app::clock::today());
    let done =
        state.with_store(move |st| Ok(allot_app::stored::end_absence(st, id, last, today, apply, &actor).map_err(|e| e.say(lang)))).await;
    let end = match done {
        Ok(Ok(end)) => end,
        Ok(Err(why)) => return not_done(lang, &s, &why),
        Err(e) => return trouble(lang, &e),
    };
    if apply {
        return redirect("/team");
    }
    let date = |d: allot_store::Day| format::date(lang, d.0);
    let title = lang.text("absence-end-title", &[("employee", Arg::Text(&end.employee))]);
    let body = html! {
        h1 { (title) }
        p { (lang.text("absence-end-what", &[
            ("employee", Arg::Text(&end.employee)), ("first", Arg::Text(&date(end.first))),
            ("was", Arg::Text(&date(end.was_last))), ("last", Arg::Text(&date(end.last))),
            ("back", Arg::Text(&date(allot_store::Day(end.last.0 + 1)))),
        ])) }
        p { (lang.text("absence-end-links", &[
            ("count", Arg::Count(end.covers_ended as i64)), ("shown", Arg::Text(&format::integer(lang, end.covers_ended as i64))),
            ("employee", Arg::Text(&end.employee)),
        ])) }
        form method="post" action={ "/team/absences/" (id) "/end" } {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="last" value=(allot_rules::civil_from_days(end.last.0));
            input type="hidden" name="confirm" value="yes";
            button type="submit" { (lang.t("plan-apply")) } " "
            a href="/team" { (lang.t("plan-cancel")) }
        }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

#[derive(Deserialize)]
pub struct AbsenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    employee: String,
    #[serde(default)]
    first: String,
    #[serde(default)]
    last: String,
    #[serde(default)]
    cover: String,
}

/// Registers an absence and makes the plan that arranges its cover (on its first day, or today
/// if that is past), kept by id: shown, and applied only on confirmation.
async fn absence(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<AbsenceForm>) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let members = match team_of(&state, &s).await {
        Ok(m) => m,
        Err(e) => return trouble(lang, &e),
    };
    let cover = Some(f.cover.trim()).filter(|c| !c.is_empty()).map(str::to_string);
    if !members.contains(&f.employee) || cover.as_ref().is_some_and(|c| !members.contains(c)) {
        return refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden");
    }
    let (Some(first), Some(last)) = (allot_rules::parse_iso_date(f.first.trim()), allot_rules::parse_iso_date(f.last.trim())) else {
        let bad = if allot_rules::parse_iso_date(f.first.trim()).is_none() { &f.first } else { &f.last };
        return not_done(lang, &s, &lang.text("error-date", &[("value", Arg::Text(bad))]));
    };
    let (actor, employee) = (actor_of(&s), f.employee.clone());
    let today = allot_app::clock::today();
    let title = allot_i18n::Message::new("plan-for-absence").text("employee", &employee).day("first", first).day("last", last);
    plan_after(&state, lang, &s, allot_store::PlanKind::Team, title, move |st| {
        allot_app::stored::absent(st, &employee, first, last, cover.as_deref(), &actor)?;
        let req = allot_app::stored::PlanRequest { date: first.max(today), scheme: None, rebalance: false };
        allot_app::stored::plan(st, &req, &actor)
    })
    .await
}

#[derive(Deserialize)]
pub struct LeaverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    employee: String,
    #[serde(default)]
    on: String,
}

/// Registers a leaver and makes the plan that hands their clients over (on their day, or today
/// if that is past), kept by id: shown, and applied only on confirmation.
async fn leaver(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<LeaverForm>) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match team_of(&state, &s).await {
        Ok(m) if m.contains(&f.employee) => {}
        Ok(_) => return refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden"),
        Err(e) => return trouble(lang, &e),
    }
    let Some(on) = allot_rules::parse_iso_date(f.on.trim()) else {
        return not_done(lang, &s, &lang.text("error-date", &[("value", Arg::Text(&f.on))]));
    };
    let (actor, employee) = (actor_of(&s), f.employee.clone());
    let today = allot_app::clock::today();
    let title = allot_i18n::Message::new("plan-for-leaver").text("employee", &employee).day("on", on);
    plan_after(&state, lang, &s, allot_store::PlanKind::Team, title, move |st| {
        allot_app::stored::leave(st, &employee, on, &actor)?;
        let req = allot_app::stored::PlanRequest { date: on.max(today), scheme: None, rebalance: false };
        allot_app::stored::plan(st, &req, &actor)
    })
    .await
}

/// A plan's address before plans had their own pages.
async fn old_plan_path(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    redirect(&format!("/plans/{}", url_encode(&id)))
}
