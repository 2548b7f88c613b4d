//! The head of sales' Contribution screen (issue #17 §4): for a period, per employee, team,
//! territory or segment — holdings, credited revenue and overlay, realisation; the balance per
//! role with what each figure means; the charts; the workbook in the reader's language. Reads
//! through `allot_app::contribution` as `allot report` and `GET /v1/report` do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use allot_app::contribution::{report, Group, HeaderFor, Report, ReportRequest};
use allot_core::stats::Spread;
use allot_i18n::{format, Arg, Lang};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::{download, head_of_sales, layout, not_done, page, revisions, still_current, trouble, url_encode};
use crate::error::ApiError;
use crate::AppState;
use allot_store::Session;

/// A chart of the report, as `allot-render` draws it (`allot report --load-chart`, `--revenue-chart`).
type Draw = fn(&Report, &str, &std::path::Path, Lang) -> Result<Vec<u8>, allot_render::RenderError>;

#[derive(Deserialize, Default)]
pub struct ContributionQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    per: String,
    #[serde(default)]
    role: String,
}

/// The period and grouping asked for: the first of January to today unless given.
struct Asked {
    first: i32,
    last: i32,
    per: String,
    role: String,
}

/// The head of sales only; the period read from the query, or the refusal to show.
async fn asked(state: &Arc<AppState>, headers: &HeaderMap, q: &ContributionQuery) -> Result<(Lang, Session, Asked), Response> {
    let (lang, s) = head_of_sales(state, headers, None).await?;
    let today = allot_app::clock::today();
    let day = |text: &str, default: i32| match text.trim() {
        "" => Ok(default),
        t => allot_rules::parse_iso_date(t).ok_or_else(|| lang.text("error-date", &[("value", Arg::Text(t))])),
    };
    let year_start = allot_rules::parse_iso_date(&format!("{}-01-01", &allot_rules::civil_from_days(today)[..4])).unwrap_or(today);
    let (first, last) = match (day(&q.from, year_start), day(&q.to, today)) {
        (Ok(f), Ok(l)) => (f, l),
        (Err(why), _) | (_, Err(why)) => return Err(not_done(lang, &s, &why)),
    };
    let per = if q.per.trim().is_empty() { "employee".to_string() } else { q.per.trim().to_string() };
    let role = if q.role.trim().is_empty() { "sales".to_string() } else { q.role.trim().to_string() };
    Ok((lang, s, Asked { first, last, per, role }))
}

/// A report's period and grouping.
pub type ReportKey = (i32, i32, String);
/// A report as computed: the report, or why it cannot be made (said in Russian and in English).
type Made = Result<Arc<Report>, Arc<(String, String)>>;
/// Reports made for the screen, the newest last: what was asked, the store's revision, when, how
/// long it took.
pub type Reports = Vec<(ReportKey, i64, Instant, Duration, Made)>;
/// Reports kept.
const KEPT: usize = 8;
/// How long the screen waits for a report before it answers "being computed" (and renews itself).
const WAIT: Duration = Duration::from_millis(150);

/// Makes the report `key` now (under the whole-book gate) and keeps it at `revision`.
async fn make(state: &Arc<AppState>, key: &ReportKey, revision: i64) -> Made {
    let req = ReportRequest {
        period: allot_app::credit::CreditRequest { first: key.0, last: key.1, scheme: None },
        group: Group::parse(&key.2),
        currency: None,
    };
    let started = Instant::now();
    let made: Made = match state.with_whole_store(move |st| Ok(report(st, &req).map_err(|e| (e.say(Lang::Ru), e.say(Lang::En))))).await {
        Ok(Ok(r)) => Ok(Arc::new(r)),
        Ok(Err(why)) => Err(Arc::new(why)),
        Err(e) => Err(Arc::new((e.message.clone(), e.message))),
    };
    if let Ok(mut reports) = state.reports.lock() {
        reports.retain(|(k, ..)| k != key);
        reports.push((key.clone(), revision, Instant::now(), started.elapsed(), made.clone()));
        let extra = reports.len().saturating_sub(KEPT);
        reports.drain(..extra);
    }
    made
}

/// Makes the report `key` in the background unless it is being made.
fn start(state: &Arc<AppState>, key: ReportKey, revision: i64) {
    if let Ok(mut under_way) = state.reporting.lock() {
        if !under_way.insert(key.clone()) {
            return;
        }
    }
    let state = state.clone();
    tokio::spawn(async move {
        // Kept by `make` for the screen that asked.
        let _kept = make(&state, &key, revision).await;
        if let Ok(mut under_way) = state.reporting.lock() {
            under_way.remove(&key);
        }
    });
}

/// The report `key` as kept: whether it is current ([`still_current`]), when it was made, and it.
fn kept(state: &AppState, key: &ReportKey, revs: (i64, i64)) -> Option<(bool, Instant, Made)> {
    let reports = state.reports.lock().ok()?;
    let (_, rev, at, took, r) = reports.iter().rev().find(|(k, ..)| k == key)?;
    Some((still_current(*rev, *at, *took, revs), *at, r.clone()))
}

/// The report asked for: a current one kept, or one made now if that takes less than [`WAIT`];
/// else `None` (being made: the page says so and renews itself), with an older one to show
/// meanwhile when there is one.
async fn current_report(state: &Arc<AppState>, key: &ReportKey) -> Result<(Option<Made>, Option<Instant>), ApiError> {
    let revs = revisions(state).await?;
    match kept(state, key, revs) {
        Some((true, _, r)) => return Ok((Some(r), None)),
        Some((false, at, r)) => {
            start(state, key.clone(), revs.0);
            return Ok((Some(r), Some(at)));
        }
        None => start(state, key.clone(), revs.0),
    }
    let waited = Instant::now();
    while waited.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Some((_, _, r)) = kept(state, key, revs) {
            return Ok((Some(r), None));
        }
    }
    Ok((None, None))
}

/// The report as `lang` is told it: the report, or the page that says why not.
fn told(lang: Lang, s: &Session, made: Made) -> Result<Arc<Report>, Response> {
    made.map_err(|why| not_done(lang, s, if lang == Lang::Ru { &why.0 } else { &why.1 }))
}

/// `GET /contribution`: the screen.
/// A report over a big book takes seconds (it reads the period's whole book and sales): the screen
/// answers at once with the report kept for the period, or says it is being made and renews
/// itself each second until it is; a report kept from before the store last moved is shown,
/// dated, while the new one is made.
pub async fn contribution(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<ContributionQuery>) -> Response {
    let (lang, s, a) = match asked(&state, &headers, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let key = (a.first, a.last, a.per.clone());
    let (made, stale) = match current_report(&state, &key).await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    let r = match made.map(|m| told(lang, &s, m)) {
        Some(Ok(r)) => r,
        Some(Err(page)) => return page,
        None => {
            let title = lang.t("contribution-title");
            let body = html! {
                h1 { (title) }
                p role="status" { (lang.t("contribution-being-made")) }
            };
            let mut response = page(StatusCode::OK, layout(lang, &title, Some(&s), body));
            response.headers_mut().insert("refresh", axum::http::HeaderValue::from_static("1"));
            return response;
        }
    };
    // The segments a head of sales groups by: the clients' text columns (S2: significance,
    // industry, ownership, channel, region ...), except their names.
    let read = state.with_store(move |st| {
        let titles = allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?;
        // The columns the store and the active scheme declare (none before the first scheme).
        let columns = allot_app::routing::Model::load(st).map(|m| m.columns).unwrap_or_default();
        let segments: Vec<String> = columns
            .into_iter()
            .filter(|(name, ty)| matches!(ty, allot_rules::Type::Text | allot_rules::Type::List) && name != "name")
            .map(|(name, _)| name)
            .collect();
        Ok((titles, segments))
    });
    let (titles, segments) = match read.await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    let (from, to) = (allot_rules::civil_from_days(a.first), allot_rules::civil_from_days(a.last));
    let query = format!("from={from}&to={to}&per={}&role={}", url_encode(&a.per), url_encode(&a.role));
    let head = allot_app::contribution::headers(&r, lang, HeaderFor::Sheet);
    let money = |m: i64| format::money(lang, m, &r.currency);
    // Each chart of the role asked for, drawn as the CLI draws it (SVG in the page: no script).
    let chart = |draw: Draw| {
        draw(&r, &a.role, std::path::Path::new("chart.svg"), lang).ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default()
    };
    let (load, revenue) = (chart(allot_render::contribution::load_chart), chart(allot_render::contribution::revenue_chart));
    let title = lang.t("contribution-title");
    let body = html! {
        h1 { (title) }
        form method="get" action="/contribution" {
            label for="c-from" { (lang.t("contribution-from")) }
            input #c-from type="date" name="from" value=(from);
            label for="c-to" { (lang.t("contribution-to")) }
            input #c-to type="date" name="to" value=(to);
            label for="c-per" { (lang.t("contribution-per")) }
            select #c-per name="per" {
                @for (value, key) in [("employee", "contribution-per-employee"), ("team", "contribution-per-team"), ("territory", "contribution-per-territory")] {
                    option value=(value) selected[a.per == value] { (lang.t(key)) }
                }
                @for column in &segments {
                    option value=(column) selected[a.per == *column] { (lang.text("contribution-per-column", &[("column", Arg::Text(column))])) }
                }
            }
            label for="c-role" { (lang.t("contribution-role")) }
            select #c-role name="role" { @for (id, t) in &titles.0 { option value=(id) selected[a.role == *id] { (t) } } }
            p { button type="submit" { (lang.t("contribution-show")) } }
        }
        @if let Some(at) = stale {
            p role="status" { (lang.text("contribution-stale", &[("minutes", Arg::Count((at.elapsed().as_secs() / 60) as i64))])) }
        }
        p {
            (lang.text("contribution-period", &[("from", Arg::Text(&format::date(lang, a.first))), ("to", Arg::Text(&format::date(lang, a.last)))]))
            @if !r.currency.is_empty() { ", " (r.currency) }
            " · " a href={ "/contribution.xlsx?" (query) } download { (lang.t("contribution-download")) }
        }
        @if r.rows.is_empty() { p { (lang.t("contribution-none")) } } @else {
            table {
                thead { tr { @for h in &head { th scope="col" { (h) } } } }
                tbody { @for row in &r.rows { tr {
                    td { (titles.of(&row.role)) } td { (row.employee) } td { (row.name) }
                    td.num { (format::integer(lang, row.clients as i64)) }
                    td.num { (format::number(lang, row.potential, 0)) }
                    td.num { (format::number(lang, row.workload, 0)) }
                    td.num { (format::integer(lang, row.deals as i64)) }
                    td.num { (money(row.revenue)) }
                    td.num { (money(row.overlay)) }
                    td.num { (row.realisation.map_or(String::new(), |x| format::number(lang, x, 4))) }
                } } }
            }
        }
        h2 { (lang.t("contribution-balance")) }
        table {
            thead { tr {
                th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("contribution-measure")) }
                th scope="col" { (lang.t("contribution-ratio")) } th scope="col" { (lang.t("contribution-cv")) } th scope="col" { (lang.t("contribution-gini")) }
            } }
            tbody { @for b in &r.balance {
                @for (key, spread) in [("contribution-clients", &b.clients), ("contribution-potential", &b.potential), ("contribution-workload", &b.workload)] {
                    tr { td { (titles.of(&b.role)) } td { (lang.t(key)) } (spread_cells(lang, spread)) }
                }
            } }
        }
        p { (lang.t("contribution-meaning")) }
        @for (role, m) in &r.unassigned { @if *m != 0 {
            p { (lang.text("contribution-unassigned", &[("role", Arg::Text(titles.of(role))), ("amount", Arg::Text(&money(*m)))])) }
        } }
        @if !r.uncredited.is_empty() {
            p { (lang.text("contribution-uncredited", &[("count", Arg::Count(r.uncredited.len() as i64)), ("shown", Arg::Text(&format::integer(lang, r.uncredited.len() as i64)))])) }
        }
        h2 { (lang.text("contribution-charts", &[("role", Arg::Text(titles.of(&a.role)))])) }
        div.charts { (PreEscaped(load)) (PreEscaped(revenue)) }
    };
    let mut response = page(StatusCode::OK, layout(lang, &title, Some(&s), body));
    if stale.is_some() {
        // The new figures are being made: the page renews itself to show them.
        response.headers_mut().insert("refresh", axum::http::HeaderValue::from_static("2"));
    }
    response
}

/// Max/min, CV and Gini as the reader writes numbers; "∞" when someone holds nothing.
fn spread_cells(lang: Lang, s: &Spread) -> Markup {
    html! {
        td.num { @if s.ratio.is_finite() { (format::number(lang, s.ratio, 2)) } @else { "∞" } }
        td.num { (format::number(lang, s.cv, 3)) }
        td.num { (format::number(lang, s.gini, 3)) }
    }
}

/// `GET /contribution.xlsx`: the same report as a workbook in the reader's language.
pub async fn contribution_xlsx(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<ContributionQuery>) -> Response {
    let (lang, s, a) = match asked(&state, &headers, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The report the screen shows when it is current; else made now (a download waits for it).
    let key = (a.first, a.last, a.per);
    let revs = match revisions(&state).await {
        Ok(r) => r,
        Err(e) => return trouble(lang, &e),
    };
    let made = match kept(&state, &key, revs) {
        Some((true, _, r)) => r,
        _ => make(&state, &key, revs.0).await,
    };
    let r = match told(lang, &s, made) {
        Ok(r) => r,
        Err(page) => return page,
    };
    match allot_render::contribution::xlsx(&r, lang) {
        Ok(bytes) => download("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "contribution.xlsx", bytes),
        Err(e) => trouble(lang, &ApiError::unavailable(e.to_string())),
    }
}
