//! Territories (issue #17 §3): a territory design or a re-balance of the stored clients, run with
//! its options (owners or a number of territories, the unit that stays whole, what to balance and
//! how close, contiguity, how much may move), watched as it goes (restart n of m; the page renews
//! itself each second, no script) and stopped on request, keeping the best design found. Its map
//! (clients coloured by territory, the centres named, each centre's totals on hover) and the
//! per-territory table (clients, totals, deviation, distance, pieces); against today's territories
//! what moves; then "Make the plan": the active scheme with these territories in place of those
//! it re-cuts, kept as a plan of kind `territories` for approval.
//!
//! One run at a time on the server (the design uses the cores routing needs), in a thread of its
//! own with its own store connection; the last few runs are kept in memory for their pages.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use allot_app::balance::{BalanceError, BalanceRequest, Clients};
use allot_app::territory::{Design, Owners};
use allot_i18n::{format, Arg, Lang, Message};
use allot_io::scheme_edit::{self, Edit};
use allot_store::{PlanKind, Session};
use axum::extract::{Form, Path as UrlPath, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::{actor_of, head_of_sales, layout, moment, not_done, page, plan_after, redirect, refused, trouble, url_encode};
use crate::AppState;

/// Runs kept for their pages.
const KEPT: usize = 5;

/// The options of a run, as the form gave them.
#[derive(Deserialize, Default, Clone)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    k: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    tolerance: String,
    /// A second criterion, kept within its own tolerance.
    #[serde(default)]
    by2: String,
    #[serde(default)]
    tolerance2: String,
    #[serde(default)]
    contiguous: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    max_moved: String,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    seconds: String,
    #[serde(default)]
    parent: String,
}

/// A design that finished (or was stopped): its pictures are drawn per language on first view.
struct Finished {
    design: Design,
    notes: Vec<Message>,
    maps: Mutex<HashMap<Lang, Arc<Vec<u8>>>>,
}

/// A run: its options, progress, stop flag and outcome.
pub struct Run {
    id: String,
    by: String,
    at: String,
    form: RunForm,
    done: AtomicUsize,
    of: AtomicUsize,
    stop: AtomicBool,
    outcome: Mutex<Option<Result<Arc<Finished>, Vec<String>>>>,
}

impl allot_app::balance::Observer for Run {
    fn restart(&self, done: usize, of: usize) {
        self.done.store(done, Ordering::Relaxed);
        self.of.store(of, Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Run {
    fn outcome(&self) -> Option<Result<Arc<Finished>, Vec<String>>> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }
}

/// The server's runs, newest last.
#[derive(Default)]
pub struct Runs(Mutex<Vec<Arc<Run>>>);

impl Runs {
    fn find(&self, id: &str) -> Option<Arc<Run>> {
        self.0.lock().ok()?.iter().find(|r| r.id == id).cloned()
    }
    fn list(&self) -> Vec<Arc<Run>> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
    /// Adds a run unless one is under way (that one is returned instead); drops the oldest
    /// finished ones beyond [`KEPT`].
    fn start(&self, run: Arc<Run>) -> Result<(), Arc<Run>> {
        let Ok(mut l) = self.0.lock() else { return Err(run) };
        if let Some(busy) = l.iter().find(|r| r.outcome().is_none()) {
            return Err(busy.clone());
        }
        l.push(run);
        while l.len() > KEPT {
            l.remove(0);
        }
        Ok(())
    }
}

/// The stored client columns that are numbers (what a design can balance) and the text ones (a
/// unit), with the teams and the roles in use.
/// What the form offers: the palette's numeric columns (what a design balances) and text ones (a
/// unit), its teams and roles, and the active scheme's territories (a parent).
async fn choices(
    state: &Arc<AppState>,
    lang: Lang,
) -> Result<(Vec<String>, Vec<String>, Vec<String>, allot_app::stored::RoleTitles, Vec<String>), crate::error::ApiError> {
    let p = super::rules::palette(state, lang).await?;
    let named = |ty: allot_rules::Type, skip: &[&str]| -> Vec<String> {
        p.columns.iter().filter(|c| c.ty == ty && !skip.contains(&c.name.as_str())).map(|c| c.name.clone()).collect()
    };
    let (numbers, texts) = (named(allot_rules::Type::Number, &["lat", "lon"]), named(allot_rules::Type::Text, &["name"]));
    let active = state.read(|st| st.active_scheme()).await?;
    let parents = active
        .and_then(|v| scheme_edit::outline(&v.text).ok())
        .map(|o| o.territories.into_iter().map(|t| t.id).collect())
        .unwrap_or_default();
    Ok((numbers, texts, p.teams, p.titles, parents))
}

/// `GET /territories`: the form and the latest runs.
pub async fn territories(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (numbers, texts, teams, titles, parents) = match choices(&state, lang).await {
        Ok(c) => c,
        Err(e) => return trouble(lang, &e),
    };
    let title = lang.t("territories-title");
    let runs = state.runs.list();
    let body = html! {
        h1 { (title) }
        p { (lang.t("territories-how")) }
        form method="post" action="/territories/runs" {
            input type="hidden" name="csrf" value=(s.csrf);
            fieldset {
                legend { (lang.t("territories-who")) }
                label for="role" { (lang.t("column-role")) }
                select #role name="role" { @for (id, _) in allot_core::model::STANDARD_ROLES { option value=(id) selected[id == "sales"] { (titles.of(id)) } } }
                label for="team" { (lang.t("territories-team")) }
                select #team name="team" { option value="" { "—" } @for t in &teams { option value=(t) { (t) } } }
                label for="k" { (lang.t("territories-k")) }
                input #k name="k" type="number" min="2" max="1000" size="6";
                label for="parent" { (lang.t("territories-parent")) }
                select #parent name="parent" { option value="" { "—" } @for p in &parents { option value=(p) { (p) } } }
            }
            fieldset {
                legend { (lang.t("territories-what")) }
                label for="by" { (lang.t("territories-by")) }
                select #by name="by" { @for n in &numbers { option value=(n) selected[n == "potential"] { (n) } } option value="count" { (lang.t("territories-count")) } }
                label for="tolerance" { (lang.t("territories-tolerance")) }
                input #tolerance name="tolerance" value="5" size="5" inputmode="decimal";
                label for="by2" { (lang.t("territories-by2")) }
                select #by2 name="by2" { option value="" { "—" } @for n in &numbers { option value=(n) { (n) } } option value="count" { (lang.t("territories-count")) } }
                label for="tolerance2" { (lang.t("territories-tolerance")) }
                input #tolerance2 name="tolerance2" value="10" size="5" inputmode="decimal";
                label for="unit" { (lang.t("territories-unit")) }
                select #unit name="unit" { option value="" { (lang.t("territories-unit-client")) } @for t in &texts { option value=(t) selected[t == "region"] { (t) } } }
                label.inline { input type="checkbox" name="contiguous" value="on" checked; " " (lang.t("territories-contiguous")) }
                label for="filter" { (lang.t("territories-filter")) }
                input #filter name="filter" size="60" placeholder="significance != &quot;vip&quot;";
            }
            fieldset {
                legend { (lang.t("territories-mode")) }
                label.inline { input type="radio" name="mode" value="design" checked; " " (lang.t("territories-mode-design")) }
                label.inline { input type="radio" name="mode" value="rebalance"; " " (lang.t("territories-mode-rebalance")) }
                label for="max_moved" { (lang.t("territories-max-moved")) }
                input #max_moved name="max_moved" size="5" inputmode="decimal";
                label for="seconds" { (lang.t("territories-seconds")) }
                input #seconds name="seconds" value="30" size="5" inputmode="numeric";
            }
            p { button type="submit" { (lang.t("territories-run")) } }
        }
        @if !runs.is_empty() {
            h2 { (lang.t("territories-runs")) }
            ul { @for r in runs.iter().rev() { li { a href={ "/territories/runs/" (r.id) } { (r.at) " · " (r.by) } " — " (state_of(lang, r)) } } }
        }
        p.note { (lang.t("territories-credit")) }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

fn state_of(lang: Lang, r: &Run) -> String {
    match r.outcome() {
        None => lang.text(
            "territories-running",
            &[("done", Arg::Count(r.done.load(Ordering::Relaxed) as i64)), ("of", Arg::Count(r.of.load(Ordering::Relaxed) as i64))],
        ),
        Some(Ok(_)) if r.stop.load(Ordering::Relaxed) => lang.t("territories-stopped"),
        Some(Ok(_)) => lang.t("territories-finished"),
        Some(Err(_)) => lang.t("territories-failed"),
    }
}

/// A share in percent as typed (`5`, `2,5`), or none when empty.
fn percent(text: &str) -> Result<Option<f64>, ()> {
    let t = text.trim().trim_end_matches('%').replace(',', ".");
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>().ok().filter(|x| (0.0..=100.0).contains(x)).map(|x| Some(x / 100.0)).ok_or(())
}

/// `POST /territories/runs`: starts a run and shows its page.
pub async fn start(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<RunForm>) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let bad = |key: &str, value: &str| not_done(lang, &s, &lang.text(key, &[("value", Arg::Text(value))]));
    let Ok(tolerance) = percent(&f.tolerance) else { return bad("territories-bad-percent", &f.tolerance) };
    let Ok(max_moved) = percent(&f.max_moved) else { return bad("territories-bad-percent", &f.max_moved) };
    let Ok(tolerance2) = percent(&f.tolerance2) else { return bad("territories-bad-percent", &f.tolerance2) };
    let k = match f.k.trim() {
        "" => None,
        t => match t.parse::<usize>() {
            Ok(k) if (2..=1000).contains(&k) => Some(k),
            _ => return bad("territories-bad-k", t),
        },
    };
    let seconds = match f.seconds.trim() {
        "" => 30.0,
        t => match t.replace(',', ".").parse::<f64>() {
            Ok(x) if (1.0..=600.0).contains(&x) => x,
            _ => return bad("territories-bad-seconds", t),
        },
    };
    if k.is_none() && f.team.is_empty() {
        return not_done(lang, &s, &lang.t("territories-need-owners"));
    }
    let id = match allot_app::tokens::new_secret("run") {
        Ok(x) => x[..16].to_string(),
        Err(e) => return trouble(lang, &crate::error::ApiError::unavailable(e.to_string())),
    };
    let run = Arc::new(Run {
        id: id.clone(),
        by: s.user.login.clone(),
        at: moment(lang, &allot_app::clock::now_utc()),
        form: f.clone(),
        done: AtomicUsize::new(0),
        of: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        outcome: Mutex::new(None),
    });
    if let Err(busy) = state.runs.start(run.clone()) {
        let text = lang.t("territories-busy");
        let body =
            html! { p.error role="alert" { (text) } p { a href={ "/territories/runs/" (busy.id) } { (lang.t("territories-see-run")) } } };
        return page(StatusCode::CONFLICT, layout(lang, &text, Some(&s), body));
    }
    let location = state.store.clone();
    let today = allot_app::clock::today();
    let watched = run.clone();
    let work = tokio::task::spawn_blocking(move || {
        let result = design(&location, &run, today, [tolerance, tolerance2], max_moved, k, seconds, lang);
        if let Ok(mut o) = run.outcome.lock() {
            *o = Some(result.map(Arc::new));
        }
    });
    // A run that fails outright still ends (else no other run could start).
    tokio::spawn(async move {
        if let Err(e) = work.await {
            if let Ok(mut o) = watched.outcome.lock() {
                *o = Some(Err(vec![e.to_string()]));
            }
        }
    });
    redirect(&format!("/territories/runs/{id}"))
}

#[allow(clippy::too_many_arguments)]
fn design(
    location: &allot_store::Location,
    run: &Run,
    today: i32,
    [tolerance, tolerance2]: [Option<f64>; 2],
    max_moved: Option<f64>,
    k: Option<usize>,
    seconds: f64,
    lang: Lang,
) -> Result<Finished, Vec<String>> {
    let f = &run.form;
    let mut store = allot_store::open(location).map_err(|e| vec![e.to_string()])?;
    let owners = if f.team.is_empty() {
        None
    } else {
        let people = store.people().map_err(|e| vec![e.to_string()])?;
        let ids: Vec<String> =
            people.employees.iter().filter(|e| allot_app::stored::teams_of(&e.attrs).contains(&f.team)).map(|e| e.id.clone()).collect();
        if ids.is_empty() {
            return Err(vec![lang.text("territories-empty-team", &[("team", Arg::Text(&f.team))])]);
        }
        Some(Owners { weights: vec![1.0; ids.len()], homes: vec![None; ids.len()], ids })
    };
    // The first criterion within `tolerance`, a second one (if chosen) within its own.
    let mut by: Vec<String> = vec![f.by.clone()].into_iter().filter(|b| !b.is_empty()).collect();
    if !f.by2.is_empty() && !by.is_empty() && f.by2 != f.by {
        by.push(format!("{}:{}", f.by2, tolerance2.unwrap_or(0.1) * 100.0));
    }
    let role = if f.role.is_empty() { "sales".to_string() } else { f.role.clone() };
    let req = BalanceRequest {
        clients: Clients::Store { store: store.as_mut(), role: &role, date: today },
        filter: Some(f.filter.trim()).filter(|x| !x.is_empty()),
        owners,
        territories: k,
        unit: Some(f.unit.clone()).filter(|u| !u.is_empty()),
        by: &by,
        tolerance: tolerance.unwrap_or(0.05),
        current: None,
        rebalance: f.mode == "rebalance",
        adjacency: None,
        contiguous: f.contiguous == "on",
        seed: 1,
        restarts: None,
        time_limit: Duration::from_secs_f64(seconds),
        max_moved_share: max_moved,
        max_moved_units: None,
        keep_clients: false,
    };
    let done = allot_app::balance::balance(req, run).map_err(|e| match e {
        BalanceError::Input(d) => d.iter().map(ToString::to_string).collect(),
        BalanceError::App(e) => vec![e.say(lang)],
        BalanceError::Refused(m) => vec![m],
    })?;
    Ok(Finished { design: done.design, notes: done.notes, maps: Mutex::new(HashMap::new()) })
}

/// The head of sales' session (with the form's token checked when there is a form) and the run
/// of `id`, or the page that refuses.
async fn run_of(state: &Arc<AppState>, headers: &HeaderMap, id: &str, csrf: Option<&str>) -> Result<(Lang, Session, Arc<Run>), Response> {
    let (lang, s) = head_of_sales(state, headers, csrf).await?;
    match state.runs.find(id) {
        Some(run) => Ok((lang, s, run)),
        None => Err(refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found")),
    }
}

/// `GET /territories/runs/{id}`: its progress (renewed each second) with the stop button, or its
/// design.
pub async fn run_page(State(state): State<Arc<AppState>>, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    let (lang, s, run) = match run_of(&state, &headers, &id, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let title = lang.t("territories-run-title");
    let body = match run.outcome() {
        None => {
            let (done, of) = (run.done.load(Ordering::Relaxed), run.of.load(Ordering::Relaxed));
            html! {
                meta http-equiv="refresh" content="1";
                h1 { (title) }
                p role="status" { (state_of(lang, &run)) }
                progress max=(of.max(1)) value=(done) { (done) " / " (of) }
                form method="post" action={ "/territories/runs/" (run.id) "/stop" } {
                    input type="hidden" name="csrf" value=(s.csrf);
                    button type="submit" { (lang.t("territories-stop")) }
                }
            }
        }
        Some(Err(lines)) => html! {
            h1 { (title) }
            p.error role="alert" { (lang.t("territories-failed")) }
            @for l in &lines { pre.diag { (l) } }
            p { a href="/territories" { (lang.t("territories-again")) } }
        },
        Some(Ok(done)) => finished(lang, &s, &run, &done),
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

fn finished(lang: Lang, s: &Session, run: &Run, done: &Finished) -> Markup {
    let d = &done.design;
    let f = &d.figures;
    let (width, height, centres) = allot_render::map_centres(d);
    let names: Vec<String> = f.per_territory.iter().map(|t| t.owner.clone().unwrap_or_else(|| t.id.clone())).collect();
    let criteria: Vec<String> = f.criteria.iter().map(|c| c.name.clone()).collect();
    let pct = |x: f64| format!("{} %", format::number(lang, x * 100.0, 1));
    let hover = |t: usize| {
        let x = &f.per_territory[t];
        let mut parts = vec![
            names[t].clone(),
            lang.text(
                "territories-hover-clients",
                &[("count", Arg::Count(x.clients as i64)), ("shown", Arg::Text(&format::integer(lang, x.clients as i64)))],
            ),
        ];
        for (i, c) in criteria.iter().enumerate() {
            parts.push(format!(
                "{c}: {} ({})",
                format::number(lang, x.totals.get(i).copied().unwrap_or(0.0), 0),
                pct(x.deviations.get(i).copied().unwrap_or(0.0))
            ));
        }
        parts.join("; ")
    };
    html! {
        h1 { (lang.t("territories-run-title")) }
        p role="status" { (state_of(lang, run)) " · " (lang.text("territories-summary", &[
            ("territories", Arg::Count(f.territories as i64)), ("units", Arg::Text(&format::integer(lang, f.units as i64))),
            ("clients", Arg::Text(&format::integer(lang, f.clients as i64))), ("seconds", Arg::Text(&format::number(lang, f.seconds, 1)))])) }
        @for c in &f.criteria {
            p { (lang.text("territories-spread", &[("criterion", Arg::Text(&c.name)), ("spread", Arg::Text(&pct(c.deviation))),
                ("tolerance", Arg::Text(&c.tolerance.map(pct).unwrap_or_default())), ("bound", Arg::Text(&pct(c.lower_bound)))])) }
        }
        @if let Some(m) = &f.moves {
            p { (lang.text("territories-moves", &[("clients", Arg::Text(&format::integer(lang, m.clients as i64))), ("share", Arg::Text(&pct(m.potential_share)))])) }
        }
        @for n in &done.notes { p.note { (n.say(lang)) } }
        figure.map {
            div style="position:relative" {
                img src={ "/territories/runs/" (run.id) "/map.png" } width=(width) height=(height) alt=(lang.t("territories-map-alt")) style="width:100%;height:auto;display:block";
                svg viewBox={ "0 0 " (width) " " (height) } style="position:absolute;inset:0;width:100%;height:100%" role="img" aria-label=(lang.t("territories-centres")) {
                    @for (t, (x, y)) in centres.iter().enumerate() {
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="14" fill="transparent" stroke="none" tabindex="0" { title { (hover(t)) } }
                    }
                }
            }
            figcaption { (lang.t("territories-map-caption")) }
        }
        table {
            thead { tr {
                th scope="col" { (lang.t("rules-territory")) } th scope="col" { (lang.t("column-employee")) }
                th scope="col" { (lang.t("territories-units")) } th scope="col" { (lang.t("column-clients")) }
                @for c in &criteria { th scope="col" { (c) } th scope="col" { (lang.t("territories-deviation")) } }
                th scope="col" { (lang.t("territories-km")) } th scope="col" { (lang.t("territories-pieces")) }
            } }
            tbody { @for t in &f.per_territory { tr {
                td { (t.id) } td { (t.owner.as_deref().unwrap_or("")) }
                td.num { (format::integer(lang, t.units as i64)) } td.num { (format::integer(lang, t.clients as i64)) }
                @for i in 0..criteria.len() {
                    td.num { (format::number(lang, t.totals.get(i).copied().unwrap_or(0.0), 0)) }
                    td.num { (pct(t.deviations.get(i).copied().unwrap_or(0.0))) }
                }
                td.num { (format::number(lang, t.mean_distance_km, 0)) } td.num { (t.pieces) }
            } } }
        }
        p { (lang.text("territories-compactness", &[("km", Arg::Text(&format::number(lang, f.mean_distance_km, 0))), ("pieces", Arg::Count(f.pieces as i64))])) }
        @if d.unit_column.is_some() && d.owners.is_some() {
            form method="post" action={ "/territories/runs/" (run.id) "/plan" } {
                input type="hidden" name="csrf" value=(s.csrf);
                p { button type="submit" { (lang.t("territories-to-plan")) } " " (lang.t("territories-to-plan-how")) }
            }
        } @else {
            p.note { (lang.t("territories-no-plan")) }
        }
        p { a href="/territories" { (lang.t("territories-again")) } }
    }
}

/// `GET /territories/runs/{id}/map.png`: the design's map in the reader's language.
pub async fn map_png(State(state): State<Arc<AppState>>, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    let (lang, s, run) = match run_of(&state, &headers, &id, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(Ok(done)) = run.outcome() else { return refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found") };
    let cached = done.maps.lock().ok().and_then(|m| m.get(&lang).cloned());
    let png = match cached {
        Some(p) => p,
        None => {
            let d = done.clone();
            let drawn = tokio::task::spawn_blocking(move || allot_render::map(&d.design, Path::new("map.png"), lang)).await;
            match drawn {
                Ok(Ok(bytes)) => {
                    let bytes = Arc::new(bytes);
                    if let Ok(mut m) = done.maps.lock() {
                        m.insert(lang, bytes.clone());
                    }
                    bytes
                }
                _ => return refused(lang, &s, StatusCode::UNPROCESSABLE_ENTITY, "territories-no-map"),
            }
        }
    };
    ([(CONTENT_TYPE, HeaderValue::from_static("image/png"))], png.as_ref().clone()).into_response()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /territories/runs/{id}/stop`: the run stops at its next step and keeps its best design.
pub async fn stop(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (_, _, run) = match run_of(&state, &headers, &id, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    run.stop.store(true, Ordering::Relaxed);
    redirect(&format!("/territories/runs/{}", url_encode(&id)))
}

/// `POST /territories/runs/{id}/plan`: the active scheme with the design's territories in place
/// of those it re-cuts, kept as a plan for approval.
pub async fn to_plan(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (lang, s, run) = match run_of(&state, &headers, &id, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(Ok(done)) = run.outcome() else { return refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found") };
    let role = if run.form.role.is_empty() { "sales".to_string() } else { run.form.role.clone() };
    let parent = Some(run.form.parent.clone()).filter(|p| !p.is_empty());
    let fragment = allot_app::territory::scheme_toml(&done.design, &role, parent.as_deref(), &|_| None);
    let (actor, today) = (actor_of(&s), allot_app::clock::today());
    let file = lang.t("rules-draft-file");
    plan_after(
        &state,
        lang,
        &s,
        PlanKind::Territories,
        Message::new("plan-for-territories").count("count", done.design.figures.territories as i64),
        move |st| {
            let active = st.active_scheme()?.map(|v| v.text).unwrap_or_default();
            let text =
                scheme_edit::apply(&active, &Edit::Territories { parent: parent.clone(), role: role.clone(), fragment: fragment.clone() })
                    .map_err(|e| allot_app::stored::AppError::Refused(format!("{e:?}")))?;
            let req = allot_app::stored::PlanRequest { date: today, scheme: Some((text, file.clone())), rebalance: false };
            allot_app::stored::plan(st, &req, &actor)
        },
    )
    .await
}
