//! Plans and their approval (issue #17 §2). Every change a person starts in the workspace — an
//! absence, a leaver, an import, a new scheme version, new territories — makes a plan kept by id
//! (`plan_after`). Its page shows it as the CLI does: per employee and role, clients and potential
//! gained and lost (with the clients behind each number), moves by cause and by rule, what stays
//! unassigned and why, the scheme's changes and its text diff. Then, as the server's
//! [`Approval`](allot_app::approval::Approval) says for its kind: applied by its maker at once, or
//! proposed with a comment and approved (applied, in the same transaction as the decision) or
//! rejected with a comment by an admin — another admin, when so configured. A stale plan is
//! refused saying why; it can be rejected and made again.

use std::collections::HashMap;
use std::sync::Arc;

use allot_app::approval::{Approver, Person};
use allot_app::stored::{AppError, Plan, RoleTitles, Summary};
use allot_i18n::{format, kept, Arg, Lang, Message};
use allot_store::{ClientKey, EmployeeKey, LinkId, PlanKind, PlanRecord, PlanState, Session, Store};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::{actor_of, lang, layout, leader, moment, not_done, page, redirect, refused, trouble, url_encode};
use crate::error::ApiError;
use crate::AppState;

/// Plans a list shows per state.
const LISTED: u64 = 50;
/// Clients a drill-down shows per side.
const DRILLED: usize = 500;

/// Runs `make` (a registration and its plan) in one go on the whole store, keeps the plan by a new
/// id with its kind and title, and sends the person to it; or says why not.
pub(super) async fn plan_after(
    state: &Arc<AppState>,
    lang: Lang,
    s: &Session,
    kind: PlanKind,
    title: Message,
    make: impl Fn(&mut dyn Store) -> Result<Plan, AppError> + Send + 'static,
) -> Response {
    let id = match allot_app::tokens::new_secret("plan") {
        Ok(id) => id[..21].to_string(),
        Err(e) => return trouble(lang, &ApiError::unavailable(e.to_string())),
    };
    let (plan_id, actor, title) = (id.clone(), actor_of(s), kept::encode(&[title]));
    let done = state
        .with_whole_store(move |st| {
            let made = make(st).and_then(|plan| {
                let text = serde_json::to_string(&plan).map_err(|e| AppError::Refused(e.to_string()))?;
                Ok(st.save_plan(&plan_id, &text, kind, &title, &actor)?)
            });
            Ok(made.map_err(|e| e.say(lang)))
        })
        .await;
    match done {
        Ok(Ok(())) => redirect(&format!("/plans/{id}")),
        Ok(Err(why)) => not_done(lang, s, &why),
        Err(e) => trouble(lang, &e),
    }
}

fn person(s: &Session) -> (String, String) {
    (actor_of(s).by, s.user.role.clone())
}

fn state_text(lang: Lang, st: PlanState) -> String {
    lang.t(&format!("plan-state-{}", st.as_str()))
}

fn kind_text(lang: Lang, k: PlanKind) -> String {
    lang.t(&format!("plan-kind-{}", k.as_str()))
}

/// `GET /plans`: those waiting for a decision, then the latest applied and rejected (an admin
/// sees every plan; a manager the plans they made).
pub async fn plans(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let read = state.read(|st| {
        let mut all = Vec::new();
        for state in [PlanState::Proposed, PlanState::Made, PlanState::Applied, PlanState::Rejected] {
            all.push((state, st.plans(state, LISTED)?));
        }
        Ok(all)
    });
    let all = match read.await {
        Ok(a) => a,
        Err(e) => return trouble(lang, &e),
    };
    let (by, role) = person(&s);
    let who = Person { by: &by, role: &role };
    let title = lang.t("plans-title");
    let body = html! {
        h1 { (title) }
        p { (lang.t("plans-how")) }
        @for (st, list) in &all {
            @let mine: Vec<&PlanRecord> = list.iter().filter(|p| state.approval.may_see(p, &who)).collect();
            h2 { (lang.t(&format!("plans-{}", st.as_str()))) }
            @if mine.is_empty() { p { (lang.t("plans-none")) } } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("plans-what")) } th scope="col" { (lang.t("plans-kind")) }
                        th scope="col" { (lang.t("plans-made-by")) } th scope="col" { (lang.t("plans-comment")) }
                    } }
                    tbody { @for p in &mine { tr {
                        td { a href={ "/plans/" (url_encode(&p.id)) } { (plan_title(lang, p)) } }
                        td { (kind_text(lang, p.kind)) }
                        td { (who_when(&p.made_by, &p.made_at, lang)) }
                        td { (p.comment) }
                    } } }
                }
            }
        }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

fn plan_title(lang: Lang, p: &PlanRecord) -> String {
    if p.title.is_empty() {
        kind_text(lang, p.kind)
    } else {
        kept::say(&p.title, lang)
    }
}

fn who_when(by: &str, at: &str, lang: Lang) -> String {
    format!("{} · {}", by.strip_prefix("user:").unwrap_or(by), moment(lang, at))
}

/// A kept plan's record and body, and the active scheme's text when the plan brings a new one;
/// `None` when there is no such plan or the person may not see it.
async fn read_plan(state: &Arc<AppState>, s: &Session, id: &str) -> Result<Option<(PlanRecord, Plan, Option<String>)>, ApiError> {
    let id = id.to_string();
    let found = state
        .with_store(move |st| {
            let Some(rec) = st.plan_record(&id).map_err(ApiError::store)? else { return Ok(None) };
            let Some(text) = st.plan_body(&id).map_err(ApiError::store)? else { return Ok(None) };
            let plan: Plan = serde_json::from_str(&text).map_err(|e| ApiError::unavailable(format!("plan {id} cannot be read: {e}")))?;
            let active = match plan.new_scheme {
                Some(_) => st.active_scheme().map_err(ApiError::store)?.map(|v| v.text),
                None => None,
            };
            Ok(Some((rec, plan, active)))
        })
        .await?;
    let (by, role) = person(s);
    Ok(found.filter(|(rec, _, _)| state.approval.may_see(rec, &Person { by: &by, role: &role })))
}

/// `GET /plans/{id}`.
pub async fn plan_page(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (rec, plan, active) = match read_plan(&state, &s, &id).await {
        Ok(Some(x)) => x,
        Ok(None) => return refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return trouble(lang, &e),
    };
    let titles = match state.with_store(move |st| allot_app::stored::role_titles(st, lang).map_err(crate::api::book_error)).await {
        Ok(t) => t,
        Err(e) => return trouble(lang, &e),
    };
    let date = allot_rules::parse_iso_date(&plan.date).map_or_else(|| plan.date.clone(), |d| format::date(lang, d));
    let title = lang.text("plan-title", &[("date", Arg::Text(&date))]);
    let sum = &plan.summary;
    let drill = |employee: &str, role: &str| {
        format!("/plans/{}/clients?employee={}&role={}", url_encode(&id), url_encode(employee), url_encode(role))
    };
    let body = html! {
        h1 { (title) }
        @let named = plan_title(lang, &rec);
        p.status {
            strong { (named) }
            @if named != kind_text(lang, rec.kind) { " · " (kind_text(lang, rec.kind)) }
            " · " (state_text(lang, rec.state))
        }
        (record(lang, &rec))
        (summary(lang, &titles, sum, Some(&drill)))
        @if let (Some(new), Some(old)) = (&plan.new_scheme, &active) {
            details { summary { (lang.t("plan-scheme-diff")) }
                pre.diff { (allot_app::stored::scheme_text_diff(old, new, &lang.t("plan-scheme-active"), &lang.t("plan-scheme-new"))) } }
        }
        (actions(&state, lang, &s, &rec))
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

/// The address of the clients behind an employee's number in a role.
pub(super) type Drill<'a> = dyn Fn(&str, &str) -> String + 'a;

/// What a plan changes, as the CLI says it: the scheme's changes; per employee and role the
/// clients before and after, gained and handed over (each number the clients behind it when
/// `drill` gives their address), potential gained and lost; moves by cause and by rule; what stays
/// unassigned and why, with examples; the notes. The plan's page and the rule builder's check.
pub(super) fn summary(lang: Lang, titles: &RoleTitles, sum: &Summary, drill: Option<&Drill<'_>>) -> Markup {
    let moving: Vec<_> = sum.employees.iter().filter(|d| d.gained > 0 || d.lost > 0).collect();
    let n = |x: u64| format::integer(lang, x as i64);
    let number = |x: u64, sign: &str, employee: &str, role: &str| match drill {
        Some(to) if x > 0 => html! { a href=(to(employee, role)) { (sign) (n(x)) } },
        _ if x > 0 => html! { (sign) (n(x)) },
        _ => html! {},
    };
    html! {
        @if !sum.scheme_changes.is_empty() {
            h2 { (lang.t("plan-scheme-changes")) }
            ul { @for l in &sum.scheme_changes { li { (allot_app::report::scheme_change_text(l, lang)) } } }
        }
        h2 { (lang.t("plan-by-employee")) }
        @if moving.is_empty() { p { (lang.t("plan-nothing")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("column-employee")) } th scope="col" { (lang.t("column-role")) }
                    th scope="col" { (lang.t("column-before")) } th scope="col" { (lang.t("column-after")) }
                    th scope="col" { (lang.t("column-gained")) } th scope="col" { (lang.t("column-lost")) }
                    th scope="col" { (lang.t("plan-potential-gained")) } th scope="col" { (lang.t("plan-potential-lost")) }
                } }
                tbody { @for d in &moving { tr {
                    td { (d.employee) } td { (titles.of(&d.role)) }
                    td.num { (n(d.clients_before)) } td.num { (n(d.clients_after)) }
                    td.num { (number(d.gained, "+", &d.employee, &d.role)) }
                    td.num { (number(d.lost, "−", &d.employee, &d.role)) }
                    td.num { (format::number(lang, d.potential_gained, 0)) } td.num { (format::number(lang, d.potential_lost, 0)) }
                } } }
            }
        }
        @if !sum.moves_by_cause.is_empty() {
            h2 { (lang.t("plan-by-cause")) }
            table { tbody { @for (cause, k) in &sum.moves_by_cause { tr {
                td { (lang.t(&format!("cause-{cause}"))) } td.num { (n(*k)) }
            } } } }
        }
        @if !sum.moves_by_rule.is_empty() {
            h2 { (lang.t("plan-by-rule")) }
            table { tbody { @for (rule, _, k) in &sum.moves_by_rule { tr { td { code { (rule) } } td.num { (n(*k)) } } } } }
        }
        @if !sum.unassigned.is_empty() || sum.closed_unassigned > 0 {
            h2 { (lang.t("plan-unassigned")) }
            @if sum.closed_unassigned > 0 {
                p { (lang.text("plan-closed-unassigned", &[("count", Arg::Count(sum.closed_unassigned as i64)), ("shown", Arg::Text(&n(sum.closed_unassigned)))])) }
            }
            table {
                thead { tr { th scope="col" { (lang.t("column-role")) } th scope="col" { (lang.t("plan-why")) } th scope="col" { (lang.t("column-clients")) } th scope="col" { (lang.t("plan-examples")) } } }
                tbody { @for u in &sum.unassigned { tr {
                    td { (titles.of(&u.role)) }
                    td { (u.why.as_ref().map_or_else(|| u.reason.clone(), |w| w.text(lang))) }
                    td.num { (n(u.count)) }
                    td { @for (i, c) in u.examples.iter().enumerate() { @if i > 0 { ", " } a href={ "/clients/" (url_encode(c)) } { (c) } } }
                } } }
            }
        }
        @for note in &sum.notes { p { (note.text(lang)) } }
    }
}

/// Who made, proposed and decided the plan, with their comments, and the change that applied it.
fn record(lang: Lang, rec: &PlanRecord) -> Markup {
    html! {
        dl.record {
            dt { (lang.t("plan-made-by")) } dd { (who_when(&rec.made_by, &rec.made_at, lang)) }
            @if let (Some(by), Some(at)) = (&rec.proposed_by, &rec.proposed_at) {
                dt { (lang.t("plan-proposed-by")) } dd { (who_when(by, at, lang)) }
                @if !rec.comment.is_empty() { dt { (lang.t("plans-comment")) } dd { blockquote { (rec.comment) } } }
            }
            @if let (Some(by), Some(at)) = (&rec.decided_by, &rec.decided_at) {
                dt { (lang.t(if rec.state == PlanState::Rejected { "plan-rejected-by" } else { "plan-approved-by" })) }
                dd { (who_when(by, at, lang)) }
                @if !rec.decision.is_empty() { dt { (lang.t("plan-decision")) } dd { blockquote { (rec.decision) } } }
            }
            @if let Some(c) = rec.change {
                dt { (lang.t("plan-change")) } dd { a href={ "/changes?before=" (c + 1) } { "№ " (c) } }
            }
        }
    }
}

/// The forms this person may use on the plan now, or why there are none.
fn actions(state: &AppState, lang: Lang, s: &Session, rec: &PlanRecord) -> Markup {
    let (by, role) = person(s);
    let who = Person { by: &by, role: &role };
    let a = &state.approval;
    let base = format!("/plans/{}", url_encode(&rec.id));
    let apply = a.may_apply(rec, &who);
    let propose = if a.needs_proposal(rec.kind) { a.may_propose(rec, &who) } else { Err(Message::new("refused-plan-made")) };
    let reject = a.may_reject(rec, &who);
    let direct = a.of(rec.kind) == Approver::Maker;
    html! {
        @if matches!(rec.state, PlanState::Made | PlanState::Proposed) {
            h2 { (lang.t("plan-decide")) }
            p { (lang.t(&format!("plan-policy-{}", a.of(rec.kind).as_str()))) }
            @if propose.is_ok() || apply.is_ok() || reject.is_ok() {
                form method="post" action={ (base) (if propose.is_ok() { "/propose" } else { "/apply" }) } {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="comment" { (lang.t("plan-comment-label")) }
                    textarea id="comment" name="comment" rows="3" cols="60" {}
                    p {
                        @if propose.is_ok() { button type="submit" formaction={ (base) "/propose" } { (lang.t("plan-propose")) } " " }
                        @if apply.is_ok() { button type="submit" formaction={ (base) "/apply" } { (lang.t(if direct { "plan-apply" } else { "plan-approve" })) } " " }
                        @if reject.is_ok() { button type="submit" formaction={ (base) "/reject" } { (lang.t(if rec.state == PlanState::Made { "plan-discard" } else { "plan-reject" })) } }
                    }
                }
            }
            @if let (Err(why), false) = (&apply, rec.state == PlanState::Made && propose.is_ok()) { p.note { (why.say(lang)) } }
        }
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    comment: String,
}

/// The longest comment kept.
const COMMENT_LIMIT: usize = 2_000;

/// `POST /plans/{id}/propose`, `/apply`, `/reject`.
pub async fn propose(state: State<Arc<AppState>>, headers: HeaderMap, id: Path<String>, f: Form<DecisionForm>) -> Response {
    decide(state, headers, id, f, Step::Propose).await
}
pub async fn apply(state: State<Arc<AppState>>, headers: HeaderMap, id: Path<String>, f: Form<DecisionForm>) -> Response {
    decide(state, headers, id, f, Step::Apply).await
}
pub async fn reject(state: State<Arc<AppState>>, headers: HeaderMap, id: Path<String>, f: Form<DecisionForm>) -> Response {
    decide(state, headers, id, f, Step::Reject).await
}

#[derive(Clone, Copy, PartialEq)]
enum Step {
    Propose,
    Apply,
    Reject,
}

async fn decide(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
    step: Step,
) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let comment = f.comment.trim().to_string();
    if comment.chars().count() > COMMENT_LIMIT {
        return not_done(lang, &s, &lang.text("plan-comment-long", &[("limit", Arg::Count(COMMENT_LIMIT as i64))]));
    }
    let (by, role) = person(&s);
    let (approval, actor, plan_id) = (state.approval.clone(), actor_of(&s), id.clone());
    let done = state
        .with_whole_store(move |st| {
            let Some(rec) = st.plan_record(&plan_id).map_err(ApiError::store)? else { return Ok(Err(lang.t("error-not-found"))) };
            let who = Person { by: &by, role: &role };
            if !approval.may_see(&rec, &who) {
                return Ok(Err(lang.t("error-not-found")));
            }
            let allowed = match step {
                Step::Propose => approval.may_propose(&rec, &who),
                Step::Apply => approval.may_apply(&rec, &who),
                Step::Reject => approval.may_reject(&rec, &who),
            };
            if let Err(m) = allowed {
                return Ok(Err(m.say(lang)));
            }
            if step == Step::Propose && approval.needs_proposal(rec.kind) && comment.is_empty() {
                return Ok(Err(lang.t("plan-comment-needed")));
            }
            let result = match step {
                Step::Propose => st.propose_plan(&plan_id, &comment, &actor).map(|_| None).map_err(AppError::from),
                Step::Reject => st.reject_plan(&plan_id, &comment, &actor).map(|_| None).map_err(AppError::from),
                Step::Apply => {
                    let Some(text) = st.plan_body(&plan_id).map_err(ApiError::store)? else { return Ok(Err(lang.t("error-not-found"))) };
                    let plan: Plan = serde_json::from_str(&text).map_err(|e| ApiError::unavailable(e.to_string()))?;
                    let decided = allot_store::Decision { plan: plan_id.clone(), comment: comment.clone() };
                    allot_app::stored::apply_decided(st, &plan, Some(decided), &actor).map(|a| Some(a.change))
                }
            };
            Ok(result.map_err(|e| e.say(lang)))
        })
        .await;
    match done {
        Ok(Ok(Some(change))) => {
            let text = lang.text("plan-done", &[("change", Arg::Text(&change.to_string()))]);
            let body = html! { p role="status" { (text) } p { a href={ "/plans/" (url_encode(&id)) } { (lang.t("plan-back")) } " · " a href="/plans" { (lang.t("plans-title")) } } };
            page(StatusCode::OK, layout(lang, &text, Some(&s), body))
        }
        Ok(Ok(None)) => redirect(&format!("/plans/{}", url_encode(&id))),
        Ok(Err(why)) => not_done(lang, &s, &why),
        Err(e) => trouble(lang, &e),
    }
}

#[derive(Deserialize)]
pub struct DrillQuery {
    #[serde(default)]
    employee: String,
    #[serde(default)]
    role: String,
}

/// `GET /plans/{id}/clients?employee=…&role=…`: the clients behind an employee's gains and
/// losses in a role, each with the rule or cause that moves it.
pub async fn plan_clients(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DrillQuery>,
) -> Response {
    let lang = lang(&headers);
    let s = match leader(&state, &headers, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (_, plan, _) = match read_plan(&state, &s, &id).await {
        Ok(Some(x)) => x,
        Ok(None) => return refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return trouble(lang, &e),
    };
    let (employee, role) = (q.employee.clone(), q.role.clone());
    let opens: Vec<(i64, i64, String, Option<String>)> =
        plan.opens.iter().filter(|o| o.role == role).map(|o| (o.client, o.employee, o.cause.clone(), o.rule.clone())).collect();
    let closes: Vec<LinkId> = plan.closes.iter().map(|(l, _)| LinkId(*l)).collect();
    let read = state.read(move |st| {
        let employees: Vec<EmployeeKey> = {
            let mut k: Vec<i64> = opens.iter().map(|o| o.1).collect();
            k.sort_unstable();
            k.dedup();
            k.into_iter().map(EmployeeKey).collect()
        };
        let names = st.plan_names(&[], &employees, &closes)?;
        let key = names.employees.iter().find(|(_, e)| *e == employee).map(|(k, _)| k.0);
        let gained: Vec<&(i64, i64, String, Option<String>)> = opens.iter().filter(|o| Some(o.1) == key).take(DRILLED).collect();
        let clients: Vec<ClientKey> = gained.iter().map(|o| ClientKey(o.0)).collect();
        let ids: HashMap<i64, String> = st.plan_names(&clients, &[], &[])?.clients.into_iter().map(|(k, id)| (k.0, id)).collect();
        let gained: Vec<(String, String)> = gained
            .iter()
            .map(|o| {
                (ids.get(&o.0).cloned().unwrap_or_default(), o.3.clone().map_or_else(|| format!("cause-{}", o.2), |r| format!("rule:{r}")))
            })
            .collect();
        let count_gained = opens.iter().filter(|o| Some(o.1) == key).count();
        let lost: Vec<(String, String)> = names
            .links
            .into_iter()
            .filter(|(_, e)| e.employee == employee && e.role == role)
            .map(|(_, e)| (e.client, e.rule.unwrap_or_default()))
            .collect();
        Ok((gained, count_gained, lost))
    });
    let (gained, count_gained, lost) = match read.await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    let title = lang.text("plan-drill-title", &[("employee", Arg::Text(&q.employee)), ("role", Arg::Text(&q.role))]);
    let why = |w: &str| match w.strip_prefix("rule:") {
        Some(r) => lang.text("plan-by-this-rule", &[("rule", Arg::Text(r))]),
        None => lang.t(w),
    };
    let side = |head: &str, n: usize, rows: &[(String, String)]| {
        html! {
            h2 { (head) " — " (format::integer(lang, n as i64)) }
            @if n > rows.len() { p { (lang.text("plan-drill-first", &[("count", Arg::Count(rows.len() as i64)), ("shown", Arg::Text(&format::integer(lang, rows.len() as i64)))])) } }
            @if !rows.is_empty() {
                table { tbody { @for (c, w) in rows { tr { td { a href={ "/clients/" (url_encode(c)) } { (c) } } td { (w) } } } } }
            }
        }
    };
    let gained: Vec<(String, String)> = gained.into_iter().map(|(c, w)| (c, why(&w))).collect();
    let lost_rows: Vec<(String, String)> = lost
        .iter()
        .take(DRILLED)
        .map(|(c, r)| (c.clone(), if r.is_empty() { String::new() } else { lang.text("plan-held-by-rule", &[("rule", Arg::Text(r))]) }))
        .collect();
    let body = html! {
        h1 { (title) }
        p { a href={ "/plans/" (url_encode(&id)) } { (lang.t("plan-back")) } }
        (side(&lang.t("column-gained"), count_gained, &gained))
        (side(&lang.t("column-lost"), lost.len(), &lost_rows))
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}
