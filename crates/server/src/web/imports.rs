//! The head of sales' Imports screen (issue #17 §6): a clients, employees or deals file uploaded
//! as a user has it (CSV from Excel with `;`, Windows-1251 from 1C, XLSX, JSON Lines); every error
//! listed with its line and column and nothing imported, or the file imported and the plan of
//! what it changes shown, applied on confirmation.

use std::sync::Arc;

use allot_i18n::{format, Arg, Lang};
use allot_store::{Session, Subject};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

use super::{actor_of, head_of_sales, lang, layout, page, plan_after, refused, signed_in};
use crate::AppState;

/// Where the form posts (the server lets a request to it be as large as `Config::upload_limit`).
pub const UPLOAD_PATH: &str = "/imports";

/// `GET /imports`: the form.
pub async fn imports(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, s) = match head_of_sales(&state, &headers, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    page(StatusCode::OK, layout(lang, &lang.t("imports-title"), Some(&s), form(lang, &s)))
}

fn form(lang: Lang, s: &Session) -> maud::Markup {
    html! {
        h1 { (lang.t("imports-title")) }
        p { (lang.t("imports-intro")) }
        form method="post" action=(UPLOAD_PATH) enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(s.csrf);
            label for="i-kind" { (lang.t("imports-kind")) }
            select #i-kind name="kind" {
                @for (value, key) in [("clients", "imports-clients"), ("employees", "imports-employees"), ("deals", "imports-deals")] {
                    option value=(value) { (lang.t(key)) }
                }
            }
            label for="i-encoding" { (lang.t("imports-encoding")) }
            select #i-encoding name="encoding" {
                option value="" { (lang.t("imports-encoding-auto")) }
                option value="cp1251" { (lang.t("imports-encoding-1251")) }
            }
            label for="i-file" { (lang.t("imports-file")) }
            input #i-file type="file" name="file" required accept=".csv,.txt,.xlsx,.xls,.jsonl";
            p { button type="submit" { (lang.t("imports-submit")) } }
        }
    }
}

/// What the form sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    kind: String,
    encoding: String,
    /// The file's own name (its last part only) and bytes.
    file: Option<(String, Vec<u8>)>,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, String> {
    let mut u = Upload::default();
    while let Some(field) = m.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file = field.file_name().unwrap_or("upload.csv").rsplit(['/', '\\']).next().unwrap_or("upload.csv").to_string();
                let bytes = field.bytes().await.map_err(|e| e.to_string())?;
                u.file = Some((file, bytes.to_vec()));
            }
            "csrf" | "kind" | "encoding" => {
                let text = field.text().await.map_err(|e| e.to_string())?;
                match name.as_str() {
                    "csrf" => u.csrf = text,
                    "kind" => u.kind = text,
                    _ => u.encoding = text,
                }
            }
            _ => {}
        }
    }
    Ok(u)
}

/// `POST /imports`: checks the whole file; with an error, lists every one and imports nothing;
/// otherwise imports it and makes the plan of what it changes (shown, applied on confirmation).
pub async fn upload(State(state): State<Arc<AppState>>, headers: HeaderMap, m: Multipart) -> Response {
    let lang = lang(&headers);
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let u = match read_upload(m).await {
        Ok(u) => u,
        Err(why) => return shown(lang, &s, StatusCode::BAD_REQUEST, &lang.t("imports-broken"), &[why]),
    };
    if u.csrf != s.csrf {
        return refused(lang, &s, StatusCode::FORBIDDEN, "error-csrf");
    }
    if s.user.role != "admin" {
        return refused(lang, &s, StatusCode::FORBIDDEN, "error-forbidden");
    }
    let subject = match u.kind.as_str() {
        "clients" => Subject::Client,
        "employees" => Subject::Employee,
        "deals" => Subject::Deal,
        other => {
            return shown(lang, &s, StatusCode::UNPROCESSABLE_ENTITY, &lang.text("imports-bad-kind", &[("kind", Arg::Text(other))]), &[])
        }
    };
    let Some((name, bytes)) = u.file.filter(|(_, b)| !b.is_empty()) else {
        return shown(lang, &s, StatusCode::UNPROCESSABLE_ENTITY, &lang.t("imports-no-file"), &[]);
    };
    let encodings = match u.encoding.as_str() {
        "" => allot_io::Encodings::default(),
        e => match allot_io::Encodings::parse(&[e.to_string()]) {
            Ok(x) => x,
            Err(why) => return shown(lang, &s, StatusCode::UNPROCESSABLE_ENTITY, &why.to_string(), &[]),
        },
    };
    // The file under its own name (the errors name it), in a folder of its own, gone afterwards.
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return shown(lang, &s, StatusCode::SERVICE_UNAVAILABLE, &lang.t("imports-disk"), &[e.to_string()]),
    };
    let path = dir.path().join(&name);
    let shown_name = name.clone();
    if let Err(e) = std::fs::write(&path, &bytes) {
        return shown(lang, &s, StatusCode::SERVICE_UNAVAILABLE, &lang.t("imports-disk"), &[e.to_string()]);
    }
    let actor = actor_of(&s);
    let today = allot_app::clock::today();
    // Checked whole — an error anywhere lands nothing — and landed in one transaction: the file
    // is read once (a CSV of deals a chunk at a time, as `allot import` reads it).
    let imported = {
        let actor = actor.clone();
        state
            .with_whole_store(move |st| {
                // Each error at its place in the file as the user named it (not the server's copy).
                let copy = path.display().to_string();
                let said = |e: allot_app::stored::AppError| match e {
                    allot_app::stored::AppError::Input(d) => d.iter().map(|x| x.to_string().replace(&copy, &name)).collect::<Vec<_>>(),
                    other => vec![other.say(lang).replace(&copy, &name)],
                };
                let landed = allot_app::stored::import(st, subject, &path, &encodings, &actor);
                Ok(landed.map(|_| ()).map_err(said))
            })
            .await
    };
    drop(dir);
    match imported {
        Ok(Ok(())) => {}
        Ok(Err(errors)) => {
            let head = lang.text(
                "imports-errors",
                &[("count", Arg::Count(errors.len() as i64)), ("shown", Arg::Text(&format::integer(lang, errors.len() as i64)))],
            );
            return shown(lang, &s, StatusCode::UNPROCESSABLE_ENTITY, &head, &errors);
        }
        Err(e) => return super::trouble(lang, &e),
    }
    // Nothing to plan before there is a scheme: the data is in; the rules come next.
    match state.read(|st| st.active_scheme()).await {
        Ok(None) => {
            let text = lang.text("imports-done-no-scheme", &[("file", Arg::Text(&shown_name))]);
            let body = html! { p role="status" { (text) } p { a href="/rules" { (lang.t("nav-rules")) } " · " a href=(UPLOAD_PATH) { (lang.t("imports-title")) } } };
            return page(StatusCode::OK, layout(lang, &text, Some(&s), body));
        }
        Ok(Some(_)) => {}
        Err(e) => return super::trouble(lang, &e),
    }
    let title = allot_i18n::Message::new("plan-for-import").text("file", &shown_name);
    plan_after(&state, lang, &s, allot_store::PlanKind::Import, title, move |st| {
        allot_app::stored::plan(st, &allot_app::stored::PlanRequest { date: today, scheme: None, rebalance: false }, &actor)
    })
    .await
}

/// A refusal with its list (each error of a file, with its place), under the form again.
fn shown(lang: Lang, s: &Session, status: StatusCode, head: &str, lines: &[String]) -> Response {
    let body = html! {
        p.error role="alert" { (head) }
        @if !lines.is_empty() { ul.errors { @for l in lines { li { pre { (l) } } } } }
        p { (lang.t("imports-nothing")) }
        (form(lang, s))
    };
    page(status, layout(lang, &lang.t("imports-title"), Some(s), body))
}
