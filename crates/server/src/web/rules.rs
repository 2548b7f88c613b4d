//! The rule builder (issue #17 §1): the scheme as roles, ordered rules per role, territories with
//! their owners per role — and its TOML beside it, one form holding both. A rule is built from the
//! data's own columns and values (regions by their Russian names), a comparison, "all of" or "any
//! of", and a target (an employee, a pool with its strategy and weights, the territory's owner);
//! rules move up and down and go away; roles are added with a name (S4.3: a role is not a job
//! title); a territory's owner is set per role. Every edit of either view is made to the TOML
//! (`allot_io::scheme_edit`, comments and order kept) and both are drawn again from it.
//!
//! The check runs as the person edits: a short script posts the form to `/rules/check` a moment
//! after the last keystroke and puts the answer in place (without the script, the Check button
//! does the same). It says where the text is wrong (line and column), which rules never fire or
//! are shadowed, how many clients each role covers, and who would gain and lose how many clients
//! and how much potential. "Make the plan" keeps the draft's plan for approval (`/plans`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use allot_app::stored::{AppError, BuilderColumn, DraftCheck, RoleTitles};
use allot_i18n::{format, Arg, Lang, Message};
use allot_io::scheme_edit::{self, Edit, EditError, NewRule, NewTarget, Outline, Test};
use allot_store::{Actor, PlanKind, Session};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::{actor_of, head_of_sales, layout, page, plan_after, revisions, still_current, trouble};
use crate::error::ApiError;
use crate::AppState;

/// What the builder (and the territory form) offers: the data's columns and values, the
/// employees, the teams, the roles' titles.
pub(super) struct Palette {
    pub(super) columns: Arc<Vec<BuilderColumn>>,
    employees: Vec<String>,
    pub(super) teams: Vec<String>,
    pub(super) titles: RoleTitles,
}

/// The data's columns and values as the builder offers them, read from a sample of the clients
/// (at a revision, when): kept while the store has not moved, or only routing moved it for less
/// than [`BASE_FRESH`] — a check of each keystroke does not sample the store again.
pub type BuilderColumns = (Instant, i64, Arc<Vec<BuilderColumn>>);

pub(super) async fn palette(state: &Arc<AppState>, lang: Lang) -> Result<Palette, ApiError> {
    let (revision, made) = revisions(state).await?;
    let kept = state.builder_columns.lock().ok().and_then(|c| c.clone());
    // A sample stands like a slow read while routing alone moves the book.
    let kept = kept.filter(|(at, rev, _)| still_current(*rev, *at, Duration::MAX, (revision, made))).map(|c| c.2);
    let (columns, fresh) = state
        .with_store(move |st| {
            let columns = match &kept {
                Some(c) => c.clone(),
                None => Arc::new(allot_app::stored::builder_columns(st).map_err(crate::api::book_error)?),
            };
            let people = st.people().map_err(ApiError::store)?;
            let teams = allot_app::stored::teams(&people);
            let employees = people.employees.iter().map(|e| e.id.clone()).collect();
            let titles = allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)?;
            Ok((Palette { columns, employees, teams, titles }, kept.is_none()))
        })
        .await?;
    if fresh {
        if let Ok(mut c) = state.builder_columns.lock() {
            *c = Some((Instant::now(), revision, columns.columns.clone()));
        }
    }
    Ok(columns)
}

/// The draft's file name in located errors.
fn draft_name(lang: Lang) -> String {
    lang.t("rules-draft-file")
}

/// `GET /rules`: the active scheme in the builder, checked.
pub async fn rules(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The read for its checks is made while the page travels.
    wanted(&state);
    let text = match state.read(|st| st.active_scheme()).await {
        Ok(v) => v.map(|v| v.text).unwrap_or_default(),
        Err(e) => return trouble(lang, &e),
    };
    let p = match palette(&state, lang).await {
        Ok(p) => p,
        Err(e) => return trouble(lang, &e),
    };
    // The page comes at once; its check follows (the script asks for it as the page opens).
    shown_checked(&state, lang, &s, p, text, None, false).await
}

#[derive(Deserialize, Default)]
pub struct RulesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    toml: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    rule_id: String,
    #[serde(default)]
    rule_role: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    join: String,
    #[serde(default)]
    a1: String,
    #[serde(default)]
    o1: String,
    #[serde(default)]
    v1: String,
    #[serde(default)]
    a2: String,
    #[serde(default)]
    o2: String,
    #[serde(default)]
    v2: String,
    #[serde(default)]
    a3: String,
    #[serde(default)]
    o3: String,
    #[serde(default)]
    v3: String,
    #[serde(default)]
    n1: String,
    #[serde(default)]
    n2: String,
    #[serde(default)]
    n3: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    employee: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    strategy: String,
    #[serde(default)]
    weights: String,
    #[serde(default)]
    role_id: String,
    #[serde(default)]
    role_name: String,
    #[serde(default)]
    territory: String,
    #[serde(default)]
    owner_role: String,
    #[serde(default)]
    owner_employee: String,
    #[serde(default)]
    t_id: String,
    #[serde(default)]
    t_name: String,
    #[serde(default)]
    t_parent: String,
    #[serde(default)]
    t_attr: String,
    #[serde(default)]
    t_values: String,
    #[serde(default)]
    t_role: String,
    #[serde(default)]
    t_owner: String,
}

/// The largest draft the builder takes (a scheme is a few kilobytes; generated territories make
/// it tens).
const DRAFT_LIMIT: usize = 1 << 20;

/// `POST /rules`: one edit of the draft (or the check, or the plan), and the page again.
pub async fn edit(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<RulesForm>) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text = f.toml.replace("\r\n", "\n");
    if text.len() > DRAFT_LIMIT {
        let p = match palette(&state, lang).await {
            Ok(p) => p,
            Err(e) => return trouble(lang, &e),
        };
        return shown(
            &state,
            lang,
            &s,
            p,
            String::new(),
            Some(Err(lang.text("rules-too-long", &[("limit", Arg::Count(DRAFT_LIMIT as i64 / 1024))]))),
        )
        .await;
    }
    if f.action == "plan" {
        let (actor, file, today) = (actor_of(&s), draft_name(lang), allot_app::clock::today());
        return plan_after(&state, lang, &s, PlanKind::Scheme, Message::new("plan-for-scheme"), move |st| {
            let req = allot_app::stored::PlanRequest { date: today, scheme: Some((text.clone(), file.clone())), rebalance: false };
            allot_app::stored::plan(st, &req, &actor)
        })
        .await;
    }
    // What the builder offers is read once, for the edit and for the page that follows it.
    let p = match palette(&state, lang).await {
        Ok(p) => p,
        Err(e) => return trouble(lang, &e),
    };
    let edit = match edit_of(&f, &p.columns) {
        Ok(e) => e,
        Err(why) => return shown(&state, lang, &s, p, text, Some(Err(why.say(lang)))).await,
    };
    // A rule on a column the store does not type yet declares it in `[columns]` first.
    let mut text = text;
    if let Some(Edit::AddRule { .. }) = &edit {
        for a in [&f.a1, &f.a2, &f.a3].into_iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            if let Some(c) = p.columns.iter().find(|c| c.name == a && !c.declared) {
                match scheme_edit::apply(&text, &Edit::Declare { name: c.name.clone(), ty: c.ty }) {
                    Ok(t) => text = t,
                    Err(why) => return shown(&state, lang, &s, p, text, Some(Err(edit_error(&why).say(lang)))).await,
                }
            }
        }
    }
    match edit {
        None => shown(&state, lang, &s, p, text, None).await,
        Some(e) => match scheme_edit::apply(&text, &e) {
            Ok(new) => {
                let done = match &e {
                    Edit::AddRule { rule, .. } => Message::new("rules-added").text("id", &rule.id),
                    Edit::RemoveRule { id } => Message::new("rules-removed").text("id", id),
                    Edit::MoveRule { id, .. } => Message::new("rules-moved").text("id", id),
                    Edit::AddRole { id, .. } => Message::new("rules-role-added").text("id", id),
                    Edit::SetOwner { territory, .. } => Message::new("rules-owner-set").text("territory", territory),
                    Edit::Declare { name, .. } => Message::new("rules-declared").text("column", name),
                    Edit::Territories { .. } => Message::new("rules-territories-set"),
                    Edit::AddTerritory { id, .. } => Message::new("rules-territory-added").text("id", id),
                };
                shown(&state, lang, &s, p, new, Some(Ok(done.say(lang)))).await
            }
            Err(why) => shown(&state, lang, &s, p, text, Some(Err(edit_error(&why).say(lang)))).await,
        },
    }
}

fn edit_error(e: &EditError) -> Message {
    match e {
        EditError::NotToml(why) => Message::new("rules-not-toml").text("why", why),
        EditError::UnknownRule(id) => Message::new("rules-unknown-rule").text("id", id),
        EditError::DuplicateRule(id) => Message::new("rules-duplicate-rule").text("id", id),
        EditError::DuplicateRole(id) => Message::new("rules-duplicate-role").text("id", id),
        EditError::UnknownTerritory(id) => Message::new("rules-unknown-territory").text("id", id),
        EditError::DuplicateTerritory(id) => Message::new("rules-duplicate-territory").text("id", id),
        EditError::BadId(id) => Message::new("rules-bad-id").text("id", id),
        EditError::NoTarget => Message::new("rules-no-target"),
        EditError::Shape(why) => Message::new("rules-not-toml").text("why", why),
    }
}

/// The edit a form's button asks for (`None`: only check).
fn edit_of(f: &RulesForm, columns: &[BuilderColumn]) -> Result<Option<Edit>, Message> {
    let (verb, arg) = f.action.split_once(':').unwrap_or((f.action.as_str(), ""));
    Ok(Some(match verb {
        "add-rule" => {
            let type_of = |a: &str| columns.iter().find(|c| c.name == a).map(|c| c.ty);
            let tests: Vec<Test> = [(&f.a1, &f.o1, &f.v1, &f.n1), (&f.a2, &f.o2, &f.v2, &f.n2), (&f.a3, &f.o3, &f.v3, &f.n3)]
                .into_iter()
                .map(|(a, o, v, n)| Test { attr: a.trim().to_string(), op: o.clone(), value: v.clone(), not: n == "on" })
                .collect();
            let when = scheme_edit::condition(&tests, f.join == "any", &type_of)
                .map_err(|why| Message::new("rules-bad-condition").text("why", &why))?;
            let target = match f.target.as_str() {
                "employee" if !f.employee.is_empty() => NewTarget::Employee(f.employee.clone()),
                "owner" => NewTarget::TerritoryOwner,
                "pool" if !f.team.is_empty() => {
                    let mut weights = Vec::new();
                    for part in f.weights.split([',', ';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
                        let (who, w) = part.split_once(['=', ':']).ok_or_else(|| Message::new("rules-bad-weight").text("part", part))?;
                        let w: f64 = w.trim().replace(',', ".").parse().map_err(|_| Message::new("rules-bad-weight").text("part", part))?;
                        weights.push((who.trim().to_string(), w));
                    }
                    let strategy = if f.strategy.is_empty() { "balance-count".to_string() } else { f.strategy.clone() };
                    NewTarget::Pool { team: Some(f.team.clone()), employees: vec![], strategy, weights }
                }
                _ => return Err(Message::new("rules-no-target")),
            };
            let role = f.rule_role.trim().to_string();
            let id = if f.rule_id.trim().is_empty() {
                format!("{role}-{}", tests.iter().filter(|t| !t.attr.is_empty()).count() + 1)
            } else {
                f.rule_id.trim().to_string()
            };
            Edit::AddRule {
                rule: NewRule { id, role, when: Some(when).filter(|w| !w.is_empty()), target },
                before: Some(f.before.clone()).filter(|b| !b.is_empty()),
            }
        }
        "remove" => Edit::RemoveRule { id: arg.to_string() },
        "up" => Edit::MoveRule { id: arg.to_string(), up: true },
        "down" => Edit::MoveRule { id: arg.to_string(), up: false },
        "add-role" => Edit::AddRole { id: f.role_id.trim().to_string(), name: f.role_name.trim().to_string() },
        "add-territory" => {
            let attribute = if f.t_attr.trim().is_empty() { "region".to_string() } else { f.t_attr.trim().to_string() };
            let mut values = Vec::new();
            for part in f.t_values.split([';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
                if attribute == "region" {
                    let regions = allot_io::values::regions();
                    match regions.get(part) {
                        Some(code) => values.push(code.to_string()),
                        None => {
                            let near = regions.nearest(part).join(", ");
                            return Err(Message::new("rules-unknown-region").text("value", part).text("near", &near));
                        }
                    }
                } else {
                    values.push(part.to_string());
                }
            }
            let owners = if f.t_owner.is_empty() { vec![] } else { vec![(f.t_role.trim().to_string(), f.t_owner.clone())] };
            Edit::AddTerritory {
                id: f.t_id.trim().to_string(),
                name: f.t_name.trim().to_string(),
                parent: Some(f.t_parent.clone()).filter(|p| !p.is_empty()),
                attribute,
                values,
                owners,
            }
        }
        "owner" => Edit::SetOwner {
            territory: f.territory.clone(),
            role: f.owner_role.trim().to_string(),
            employee: Some(f.owner_employee.clone()).filter(|e| !e.is_empty()),
        },
        _ => return Ok(None),
    }))
}

/// `POST /rules/check`: the live part of the page (the builder's lists and the check) for the
/// draft in the form, as the script puts it in place.
pub async fn check(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<RulesForm>) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, Some(&f.csrf)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if f.toml.len() > DRAFT_LIMIT {
        let text = lang.text("rules-too-long", &[("limit", Arg::Count(DRAFT_LIMIT as i64 / 1024))]);
        return fragment(StatusCode::UNPROCESSABLE_ENTITY, html! { p.error role="alert" { (text) } });
    }
    let text = f.toml.replace("\r\n", "\n");
    let p = match palette(&state, lang).await {
        Ok(p) => p,
        Err(e) => return trouble(lang, &e),
    };
    let checked = run_check(&state, lang, &s, &text).await;
    fragment(StatusCode::OK, live(lang, &p, &text, Some(&checked)))
}

fn fragment(status: StatusCode, m: Markup) -> Response {
    use axum::response::IntoResponse;
    (status, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], m.into_string()).into_response()
}

/// How long after the last check the read is kept fresh in the background.
const KEEP_WARM: Duration = Duration::from_secs(3600);
/// How often the keeper looks whether the read went stale.
const KEEPER_EVERY: Duration = Duration::from_secs(5);

/// A read of the store for the checks: when, at which revision, how long it took.
pub type DraftBase = (Instant, i64, Arc<allot_app::stored::Base>, Duration);

/// Whether the read `cached` still serves the checks on `today` ([`still_current`]).
fn serves(cached: &DraftBase, revs: (i64, i64), today: i32) -> bool {
    let (at, rev, base, took) = cached;
    base.date == today && still_current(*rev, *at, *took, revs)
}

/// Reads the store whole (under the whole-book gate) for checks of drafts that type the data as
/// `text` does, and keeps the read; with the check of `draft` (text, file, actor) on it.
async fn read_base(
    state: &Arc<AppState>,
    revision: i64,
    today: i32,
    text: String,
    file: String,
    draft: Option<(String, String, Actor)>,
) -> Result<Option<Result<DraftCheck, AppError>>, ApiError> {
    let ahead = draft.is_none();
    let read = move |st: &mut dyn allot_store::Store| {
        let started = Instant::now();
        let base = match allot_app::stored::Base::read(st, today, (&text, &file)) {
            Ok(b) => (Arc::new(b), started.elapsed()),
            Err(e) => return Ok((None, Some(Err(e)))),
        };
        let checked = draft.as_ref().map(|(text, file, actor)| allot_app::stored::check_draft_on(&base.0, text, file, actor));
        Ok((Some(base), checked))
    };
    // A person waiting for a check reads like any whole-book read; the read ahead leaves no pause.
    let (base, checked) = if ahead { state.with_whole_store_unpaced(read).await? } else { state.with_whole_store(read).await? };
    state.metrics.draft_reads.inc();
    if let (Some((base, took)), Ok(mut c)) = (base, state.draft_base.lock()) {
        *c = Some((Instant::now(), revision, base, took));
    }
    Ok(checked)
}

/// The rule builder is in use: the store's read for its checks is made ahead and kept fresh for
/// an hour from now ([`spawn_draft_keeper`]).
pub(super) fn wanted(state: &AppState) {
    if let Ok(mut w) = state.draft_wanted.lock() {
        *w = Some(Instant::now());
    }
}

/// The draft checked against the store today, or what stops it, said in the reader's language.
/// The store is read whole only when the last read no longer serves ([`serves`]) or the draft
/// types the data otherwise; else the draft is checked against that read
/// ([`allot_app::stored::Base`]), which [`spawn_draft_keeper`] keeps ready.
async fn run_check(state: &Arc<AppState>, lang: Lang, s: &Session, text: &str) -> Result<DraftCheck, Vec<String>> {
    if text.trim().is_empty() {
        return Err(vec![lang.t("rules-empty")]);
    }
    wanted(state);
    let _one = state.checking.lock().await;
    let said = |r: Result<Result<DraftCheck, AppError>, ApiError>| match r {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(AppError::Input(d))) => Err(d.iter().map(ToString::to_string).collect()),
        Ok(Err(other)) => Err(vec![other.say(lang)]),
        Err(e) => Err(vec![e.message]),
    };
    let (text, actor, file, today) = (text.to_string(), actor_of(s), draft_name(lang), allot_app::clock::today());
    let revs = match revisions(state).await {
        Ok(r) => r,
        Err(e) => return Err(vec![e.message]),
    };
    let cached = state.draft_base.lock().ok().and_then(|c| c.clone());
    if let Some(cached) = cached.filter(|c| serves(c, revs, today) && c.2.fits(&text)) {
        let base = cached.2;
        let done = tokio::task::spawn_blocking(move || allot_app::stored::check_draft_on(&base, &text, &file, &actor)).await;
        return said(done.map_err(|e| ApiError::unavailable(e.to_string())));
    }
    let done = read_base(state, revs.0, today, text.clone(), file.clone(), Some((text, file, actor))).await;
    said(done.map(|c| c.unwrap_or_else(|| Err(AppError::Input(vec![])))))
}

/// Keeps the rule builder's read of the store ready (issue #17 §7: a check of an edit within a
/// second on a million clients): from the moment the builder is opened, and for an hour after it
/// was last used, whenever the read no longer serves ([`serves`]: a person changed the store, the
/// day turned), the store is read again with the active scheme, so that the next check finds it.
/// A check waits for a read under way instead of making its own. Nothing is read for a store
/// without a scheme or before anyone opens the builder; an hour after its last use the read is
/// let go.
pub fn spawn_draft_keeper(state: std::sync::Weak<AppState>) {
    tokio::spawn(async move {
        // A read that failed (a scheme the data does not fit) is not tried again until the store
        // or the day moves on.
        let mut failed: Option<(i64, i32)> = None;
        // The first look at once, the next ones a pause after the last one ended.
        let mut every = tokio::time::interval(KEEPER_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pause = Duration::ZERO;
        loop {
            every.tick().await;
            tokio::time::sleep(std::mem::take(&mut pause)).await;
            // Only while the server lives: the reference is let go before the next sleep.
            let Some(state) = state.upgrade() else { break };
            let since = state.draft_wanted.lock().map(|w| w.map(|t| t.elapsed())).unwrap_or(None);
            match since {
                None => continue,
                Some(idle) if idle >= KEEP_WARM => {
                    // Nobody has used the builder for an hour: its read (a gigabyte on a million
                    // clients) is let go.
                    if let Ok(mut c) = state.draft_base.lock() {
                        *c = None;
                    }
                    if let Ok(mut w) = state.draft_wanted.lock() {
                        *w = None;
                    }
                    continue;
                }
                Some(_) => {}
            }
            let _one = state.checking.lock().await;
            let today = allot_app::clock::today();
            let Ok(revs) = revisions(&state).await else { continue };
            let cached = state.draft_base.lock().ok().and_then(|c| c.clone());
            if cached.is_some_and(|c| serves(&c, revs, today)) || failed == Some((revs.0, today)) {
                continue;
            }
            let Ok(Some(active)) = state.read(|st| st.active_scheme()).await else { continue };
            let file = format!("scheme v{}", active.version);
            let started = Instant::now();
            let read = read_base(&state, revs.0, today, active.text, file, None).await;
            // Paced as other whole-book reads are: a pause twice as long as the read before the next.
            pause = started.elapsed() * 2;
            match read {
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %e, "the store cannot be read ahead of the rule builder's checks");
                    failed = Some((revs.0, today));
                }
                Err(e) => tracing::warn!(error = %e.message, "reading the store ahead of the rule builder's checks"),
                _ => {}
            }
        }
    });
}

async fn shown(state: &Arc<AppState>, lang: Lang, s: &Session, p: Palette, text: String, said: Option<Result<String, String>>) -> Response {
    shown_checked(state, lang, s, p, text, said, true).await
}

/// The page, with the draft's check when `check` (else the script asks for it as the page opens).
async fn shown_checked(
    state: &Arc<AppState>,
    lang: Lang,
    s: &Session,
    p: Palette,
    text: String,
    said: Option<Result<String, String>>,
    check: bool,
) -> Response {
    let checked = if check { Some(run_check(state, lang, s, &text).await) } else { None };
    let title = lang.t("rules-title");
    let body = html! {
        h1 { (title) }
        p { (lang.t("rules-how")) }
        @match &said {
            Some(Ok(done)) => p role="status" { (done) },
            Some(Err(why)) => p.error role="alert" { (why) },
            None => {},
        }
        form #rules method="post" action="/rules" {
            input type="hidden" name="csrf" value=(s.csrf);
            // Enter in a field checks: the form's default button is the first, and harmless.
            button.default type="submit" name="action" value="check" tabindex="-1" aria-hidden="true" { (lang.t("rules-check")) }
            div.split {
                div {
                    div #live aria-live="polite" { (live(lang, &p, &text, checked.as_ref())) }
                    (builder(lang, &p, &text))
                }
                div {
                    h2 { label for="toml" { (lang.t("rules-toml")) } }
                    p.hint { (lang.t("rules-toml-how")) }
                    textarea #toml name="toml" rows="40" spellcheck="false" { (text) }
                    p {
                        button type="submit" name="action" value="check" { (lang.t("rules-check")) } " "
                        button type="submit" name="action" value="plan" { (lang.t("rules-plan")) }
                    }
                }
            }
        }
        script { (PreEscaped(SCRIPT)) }
    };
    page(StatusCode::OK, layout(lang, &title, Some(s), body))
}

/// Posts the form to `/rules/check` 0.4 s after the last edit of the text (an older check still
/// under way is dropped) and puts the answer in place; offers each value field the values of the
/// column chosen beside it.
const SCRIPT: &str = "(function(){var f=document.getElementById('rules'),t=document.getElementById('toml'),\
out=document.getElementById('live'),timer=null,ctl=null;if(!f||!t||!out||!window.fetch)return;\
function run(){if(ctl)ctl.abort();ctl=new AbortController();out.setAttribute('aria-busy','true');\
var body=new URLSearchParams(new FormData(f));body.delete('action');\
fetch('/rules/check',{method:'POST',body:body,signal:ctl.signal,credentials:'same-origin'})\
.then(function(r){return r.text();}).then(function(h){out.innerHTML=h;out.removeAttribute('aria-busy');})\
.catch(function(){});}\
t.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(run,400);});\
if(out.querySelector('[data-pending]'))run();\
[1,2,3].forEach(function(n){var a=document.getElementById('a'+n),v=document.getElementById('v'+n);if(!a||!v)return;\
function pick(){var l=document.querySelector('datalist[data-column=\"'+a.value.replace(/\"/g,'')+'\"]');\
if(l)v.setAttribute('list',l.id);else v.removeAttribute('list');}a.addEventListener('change',pick);pick();});})();";

/// The draft's roles, rules and territories as lists, and its check: what changes with each edit.
fn live(lang: Lang, p: &Palette, text: &str, checked: Option<&Result<DraftCheck, Vec<String>>>) -> Markup {
    let outline = scheme_edit::outline(text);
    html! {
        @match &outline {
            Ok(o) => (structure(lang, p, o)),
            Err(_) => p.note { (lang.t("rules-outline-wait")) },
        }
        h2 { (lang.t("rules-check-title")) }
        @match checked {
            Some(c) => (check_panel(lang, p, c)),
            None => p.note data-pending="1" { (lang.t("rules-checking")) },
        }
    }
}

fn target_text(lang: Lang, r: &scheme_edit::RuleLine) -> String {
    if r.territory_owner {
        return lang.t("rules-target-owner");
    }
    if let Some(e) = &r.employee {
        return lang.text("rules-target-employee", &[("employee", Arg::Text(e))]);
    }
    let who = r.team.clone().unwrap_or_else(|| r.employees.join(", "));
    let strategy = r.strategy.as_deref().map(|s| lang.t(&format!("strategy-{s}"))).unwrap_or_default();
    let weights = r.weights.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let key = if weights.is_empty() { "rules-target-pool" } else { "rules-target-pool-weights" };
    lang.text(key, &[("who", Arg::Text(&who)), ("strategy", Arg::Text(&strategy)), ("weights", Arg::Text(&weights))])
}

fn structure(lang: Lang, p: &Palette, o: &Outline) -> Markup {
    let mut roles: Vec<String> = o.rules.iter().map(|r| r.role.clone()).collect();
    roles.extend(o.roles.iter().map(|(id, _)| id.clone()));
    let mut seen = BTreeSet::new();
    roles.retain(|r| seen.insert(r.clone()));
    let title =
        |id: &str| o.roles.iter().find(|(r, n)| r == id && !n.is_empty()).map_or_else(|| p.titles.of(id).to_string(), |(_, n)| n.clone());
    html! {
        h2 { (lang.t("rules-roles")) }
        @if roles.is_empty() { p { (lang.t("rules-none")) } }
        @for role in &roles {
            h3 { (title(role)) " " code { (role) } }
            @let rules: Vec<&scheme_edit::RuleLine> = o.rules.iter().filter(|r| &r.role == role).collect();
            @if rules.is_empty() { p { (lang.t("rules-role-empty")) } } @else {
                ol.rules { @for r in &rules { li {
                    strong { code { (r.id) } } " — "
                    @if r.when.is_empty() { (lang.t("rules-every-client")) } @else { code { (r.when) } }
                    @if r.on == "deal" { " " em { (lang.t("rules-on-deal")) } }
                    " → " (target_text(lang, r)) " "
                    button type="submit" name="action" value={ "up:" (r.id) } aria-label=(lang.text("rules-up", &[("id", Arg::Text(&r.id))])) { "↑" }
                    button type="submit" name="action" value={ "down:" (r.id) } aria-label=(lang.text("rules-down", &[("id", Arg::Text(&r.id))])) { "↓" }
                    button type="submit" name="action" value={ "remove:" (r.id) } aria-label=(lang.text("rules-remove", &[("id", Arg::Text(&r.id))])) { "✕" }
                } } }
            }
        }
        @if !o.territories.is_empty() {
            h2 { (lang.t("rules-territories")) }
            table {
                thead { tr { th scope="col" { (lang.t("rules-territory")) } th scope="col" { (lang.t("rules-covers")) } th scope="col" { (lang.t("rules-owners")) } } }
                tbody { @for t in &o.territories { tr {
                    td { (if t.name.is_empty() { &t.id } else { &t.name }) " " code { (t.id) } }
                    td { code { (t.covers) } }
                    td { @for (i, (role, who)) in t.owners.iter().enumerate() { @if i > 0 { "; " } (title(role)) ": " (who) } }
                } } }
            }
        }
    }
}

/// The builder's forms: a rule, a role, a territory's owner. Every field has its label; the
/// buttons are the form's, so the keyboard alone does everything.
fn builder(lang: Lang, p: &Palette, text: &str) -> Markup {
    let o = scheme_edit::outline(text).unwrap_or_default();
    let mut roles: Vec<(String, String)> =
        allot_core::model::STANDARD_ROLES.iter().map(|(id, _)| (id.to_string(), p.titles.of(id).to_string())).collect();
    for (id, name) in &o.roles {
        if !roles.iter().any(|(r, _)| r == id) {
            roles.push((id.clone(), if name.is_empty() { id.clone() } else { name.clone() }));
        }
    }
    let ops = ["eq", "ne", "in", "not-in", "contains", "gt", "ge", "lt", "le", "missing", "present"];
    let test_row = |n: u8| {
        let (a, o, v, not) = (format!("a{n}"), format!("o{n}"), format!("v{n}"), format!("n{n}"));
        html! {
            div.test {
                label for=(a) { (lang.text("rules-test", &[("n", Arg::Count(i64::from(n)))])) }
                select id=(a) name=(a) {
                    option value="" { "—" }
                    @for c in p.columns.iter() { option value=(c.name) { (c.name) } }
                }
                label.inline for=(o) { (lang.t("rules-op")) }
                select id=(o) name=(o) { @for op in ops { option value=(op) { (lang.t(&format!("rules-op-{op}"))) } } }
                label.inline for=(v) { (lang.t("rules-value")) }
                input id=(v) name=(v) size="28" data-values="1";
                label.inline { " " input type="checkbox" id=(not) name=(not) value="on"; " " (lang.t("rules-not")) }
            }
        }
    };
    html! {
        @for (i, c) in p.columns.iter().enumerate() {
            @if !c.values.is_empty() { datalist id={ "values-" (i) } data-column=(c.name) { @for (value, label) in &c.values { option value=(value) { (label) } } } }
        }
        fieldset {
            legend { (lang.t("rules-add")) }
            label for="rule_role" { (lang.t("column-role")) }
            select #rule_role name="rule_role" { @for (id, t) in &roles { option value=(id) { (t) " (" (id) ")" } } }
            label for="rule_id" { (lang.t("rules-id")) }
            input #rule_id name="rule_id" size="24" pattern="[\\p{L}\\p{N}_\\-]+" placeholder="vip-moscow";
            p.hint { (lang.t("rules-tests-how")) }
            (test_row(1)) (test_row(2)) (test_row(3))
            fieldset.inline {
                legend { (lang.t("rules-join")) }
                label.inline { input type="radio" name="join" value="all" checked; " " (lang.t("rules-join-all")) }
                label.inline { input type="radio" name="join" value="any"; " " (lang.t("rules-join-any")) }
            }
            fieldset.inline {
                legend { (lang.t("rules-target")) }
                label.inline { input type="radio" name="target" value="employee" checked; " " (lang.t("rules-target-kind-employee")) }
                label.inline { input type="radio" name="target" value="pool"; " " (lang.t("rules-target-kind-pool")) }
                label.inline { input type="radio" name="target" value="owner"; " " (lang.t("rules-target-owner")) }
            }
            label for="employee" { (lang.t("column-employee")) }
            select #employee name="employee" { option value="" { "—" } @for e in &p.employees { option value=(e) { (e) } } }
            label for="team" { (lang.t("rules-team")) }
            select #team name="team" { option value="" { "—" } @for t in p.teams.iter().chain(o.teams.iter()) { option value=(t) { (t) } } }
            label for="strategy" { (lang.t("rules-strategy")) }
            select #strategy name="strategy" { @for (s, _) in allot_core::model::Strategy::ALL { option value=(s) { (lang.t(&format!("strategy-{s}"))) } } }
            label for="weights" { (lang.t("rules-weights")) }
            input #weights name="weights" size="40" placeholder="anna = 3, boris = 2";
            label for="before" { (lang.t("rules-before")) }
            select #before name="before" {
                option value="" { (lang.t("rules-at-end")) }
                @for r in &o.rules { option value=(r.id) { (r.id) } }
            }
            p { button type="submit" name="action" value="add-rule" { (lang.t("rules-add-button")) } }
        }
        fieldset {
            legend { (lang.t("rules-add-role")) }
            p.hint { (lang.t("rules-role-how")) }
            label for="role_id" { (lang.t("rules-id")) }
            input #role_id name="role_id" size="24" placeholder="phone-desk";
            label for="role_name" { (lang.t("rules-role-name")) }
            input #role_name name="role_name" size="32";
            p { button type="submit" name="action" value="add-role" { (lang.t("rules-add-role")) } }
        }
        fieldset {
            legend { (lang.t("rules-add-territory")) }
            p.hint { (lang.t("rules-territory-how")) }
            label for="t_id" { (lang.t("rules-id")) }
            input #t_id name="t_id" size="24" placeholder="north-west";
            label for="t_name" { (lang.t("rules-territory-name")) }
            input #t_name name="t_name" size="40";
            label for="t_parent" { (lang.t("rules-territory-parent")) }
            select #t_parent name="t_parent" { option value="" { "—" } @for t in &o.territories { option value=(t.id) { (t.id) } } }
            label for="t_attr" { (lang.t("rules-territory-attr")) }
            select #t_attr name="t_attr" {
                @for c in p.columns.iter().filter(|c| c.ty == allot_rules::Type::Text) { option value=(c.name) selected[c.name == "region"] { (c.name) } }
            }
            label for="t_values" { (lang.t("rules-territory-values")) }
            @let regions = p.columns.iter().position(|c| c.name == "region").map(|i| format!("values-{i}"));
            input #t_values name="t_values" size="60" list=[regions] placeholder="Архангельская область; Мурманская область";
            label for="t_role" { (lang.t("column-role")) }
            select #t_role name="t_role" { @for (id, t) in &roles { option value=(id) selected[id == "sales"] { (t) } } }
            label for="t_owner" { (lang.t("rules-territory-owner")) }
            select #t_owner name="t_owner" { option value="" { (lang.t("rules-no-owner")) } @for e in &p.employees { option value=(e) { (e) } } }
            p { button type="submit" name="action" value="add-territory" { (lang.t("rules-add-territory")) } }
        }
        @if !o.territories.is_empty() {
            fieldset {
                legend { (lang.t("rules-set-owner")) }
                label for="territory" { (lang.t("rules-territory")) }
                select #territory name="territory" { @for t in &o.territories { option value=(t.id) { (if t.name.is_empty() { &t.id } else { &t.name }) } } }
                label for="owner_role" { (lang.t("column-role")) }
                select #owner_role name="owner_role" { @for (id, t) in &roles { option value=(id) { (t) } } }
                label for="owner_employee" { (lang.t("column-employee")) }
                select #owner_employee name="owner_employee" { option value="" { (lang.t("rules-no-owner")) } @for e in &p.employees { option value=(e) { (e) } } }
                p { button type="submit" name="action" value="owner" { (lang.t("rules-set-owner")) } }
            }
        }
    }
}

fn check_panel(lang: Lang, p: &Palette, checked: &Result<DraftCheck, Vec<String>>) -> Markup {
    let n = |x: u64| format::integer(lang, x as i64);
    match checked {
        Err(lines) => html! {
            p.error role="alert" { (lang.text("rules-errors", &[("count", Arg::Count(lines.len() as i64)), ("shown", Arg::Text(&n(lines.len() as u64)))])) }
            @for l in lines { pre.diag { (l) } }
        },
        Ok(c) => {
            let sum = &c.plan.summary;
            html! {
                p role="status" { (lang.t("rules-valid")) }
                @if !c.findings.is_empty() {
                    h3 { (lang.text("rules-findings", &[("count", Arg::Count(c.findings.len() as i64)), ("shown", Arg::Text(&n(c.findings.len() as u64)))])) }
                    @for d in &c.findings { pre.diag { (d.to_string()) } }
                }
                h3 { (lang.t("rules-coverage")) }
                table {
                    thead { tr { th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("column-clients")) } th scope="col" { (lang.t("rules-assigned")) } th scope="col" { (lang.t("rules-unassigned")) } } }
                    tbody { @for (role, clients, assigned) in &c.coverage { tr {
                        td { (p.titles.of(role)) } td.num { (n(*clients)) } td.num { (n(*assigned)) } td.num { (n(clients - assigned)) }
                    } } }
                }
                (super::plans::summary(lang, &p.titles, sum, None))
            }
        }
    }
}
