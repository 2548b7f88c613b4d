//! The head of sales' log of changes and the scheme's versions (issue #17 §2): every change —
//! who, when, what kind, from which file, what it did —, a page at a time, newest first; each
//! scheme version with what it changed against the one before, and its text.

use std::collections::HashMap;
use std::sync::Arc;

use allot_i18n::{format, Arg};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::{head_of_sales, layout, moment, page, refused, trouble};
use crate::error::ApiError;
use crate::AppState;

/// Changes a page shows.
const PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct ChangesQuery {
    /// The page before this change (the newest page without it).
    before: Option<i64>,
    /// `1`: routing's batches too.
    #[serde(default)]
    routing: String,
}

/// `GET /changes`.
pub async fn changes(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<ChangesQuery>) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let routing = q.routing == "1";
    let before = q.before;
    let read = state.read(move |st| {
        let list = st.change_page(before, PAGE, routing)?;
        let ids: Vec<i64> = list.iter().filter(|c| c.kind == "apply").map(|c| c.id).collect();
        let plans: HashMap<i64, allot_store::PlanRecord> =
            st.plans_applied_by(&ids)?.into_iter().filter_map(|p| Some((p.change?, p))).collect();
        Ok((list, plans))
    });
    let (list, plans) = match read.await {
        Ok(l) => l,
        Err(e) => return trouble(lang, &e),
    };
    let title = lang.t("changes-title");
    let flag = if routing { "&routing=1" } else { "" };
    let body = html! {
        h1 { (title) }
        p {
            @if routing { a href="/changes" { (lang.t("changes-hide-routing")) } } @else { a href="/changes?routing=1" { (lang.t("changes-show-routing")) } }
            " · " a href="/schemes" { (lang.t("schemes-title")) }
        }
        @if list.is_empty() { p { (lang.t("changes-none")) } } @else {
            table {
                thead { tr {
                    th scope="col" { "№" } th scope="col" { (lang.t("changes-kind")) } th scope="col" { (lang.t("column-by")) }
                    th scope="col" { (lang.t("changes-at")) } th scope="col" { (lang.t("changes-file")) } th scope="col" { (lang.t("changes-what")) }
                } }
                tbody { @for c in &list { tr {
                    td.num { (c.id) } td { (lang.t(&format!("change-kind-{}", c.kind))) } td { (c.by) }
                    td { (moment(lang, &c.at)) } td { (c.file.as_deref().unwrap_or("")) }
                    td {
                        (allot_i18n::kept::say(&c.summary, lang))
                        @if let Some(p) = plans.get(&c.id) {
                            br; a href={ "/plans/" (super::url_encode(&p.id)) } { (lang.t("changes-plan")) }
                            @if !p.comment.is_empty() { " · " (lang.t("changes-proposed")) " " (p.proposed_by.as_deref().unwrap_or("").trim_start_matches("user:")) ": «" (p.comment) "»" }
                            @if !p.decision.is_empty() { " · " (lang.t("changes-approved")) ": «" (p.decision) "»" }
                        }
                    }
                } } }
            }
            @if list.len() as u64 == PAGE {
                @if let Some(last) = list.last() {
                    p { a href={ "/changes?before=" (last.id) (flag) } { (lang.t("changes-earlier")) } }
                }
            }
        }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}

#[derive(Deserialize, Default)]
pub struct SchemesQuery {
    version: Option<i64>,
}

/// `GET /schemes`: every version, newest first, with what it changed; `?version=N`: its text.
pub async fn schemes(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<SchemesQuery>) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let read = state.with_store(|st| {
        let all = st.schemes().map_err(ApiError::store)?;
        let active = st.active_scheme().map_err(ApiError::store)?.map(|a| a.version);
        Ok((all, active))
    });
    let (all, active) = match read.await {
        Ok(x) => x,
        Err(e) => return trouble(lang, &e),
    };
    if let Some(v) = q.version {
        let Some(found) = all.iter().find(|x| x.version == v) else { return refused(lang, &s, StatusCode::NOT_FOUND, "error-not-found") };
        let title = lang.text("schemes-version", &[("version", Arg::Text(&v.to_string()))]);
        // What it changed against the version before it, line by line, then its whole text.
        let before = all.iter().filter(|x| x.version < v).max_by_key(|x| x.version);
        let body = html! {
            h1 { (title) }
            p { a href="/schemes" { (lang.t("schemes-title")) } }
            @if let Some(prev) = before {
                h2 { (lang.text("schemes-diff", &[("version", Arg::Text(&prev.version.to_string()))])) }
                pre.diff { (allot_app::stored::scheme_text_diff(&prev.text, &found.text, &lang.text("schemes-version", &[("version", Arg::Text(&prev.version.to_string()))]), &title)) }
            }
            h2 { (lang.t("schemes-text")) }
            pre { (found.text) }
        };
        return page(StatusCode::OK, layout(lang, &title, Some(&s), body));
    }
    let title = lang.t("schemes-title");
    let body = html! {
        h1 { (title) }
        @if all.is_empty() { p { (lang.t("schemes-none")) } }
        @for (i, v) in all.iter().enumerate().rev() {
            h2 {
                a href={ "/schemes?version=" (v.version) } { (lang.text("schemes-version", &[("version", Arg::Text(&v.version.to_string()))])) }
                @if Some(v.version) == active { " — " (lang.t("schemes-active")) }
            }
            @match i.checked_sub(1).map(|p| &all[p]) {
                None => p { (lang.t("schemes-first")) },
                Some(prev) => {
                    @let lines = allot_app::stored::scheme_diff_lines(&prev.text, &v.text);
                    @if lines.is_empty() { p { (lang.t("schemes-same")) } } @else {
                        p { (lang.text("schemes-against", &[("version", Arg::Text(&prev.version.to_string())), ("count", Arg::Count(lines.len() as i64)), ("shown", Arg::Text(&format::integer(lang, lines.len() as i64)))])) }
                        ul { @for l in &lines { li { (allot_app::report::scheme_change_text(l, lang)) } } }
                    }
                }
            }
        }
    };
    page(StatusCode::OK, layout(lang, &title, Some(&s), body))
}
