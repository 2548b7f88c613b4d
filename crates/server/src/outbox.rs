//! Webhooks (issue #18 §3): the book's changes told to other systems — 1C, a messenger's bot, a
//! company's own service — signed, in order, each delivery tried again until it is taken.
//!
//! The change log is the outbox. Every change is written in the same transaction as the links it
//! opens and closes; a webhook keeps the last change delivered to it (`webhooks.delivered`). The
//! worker here reads the changes after it, makes each one's deliveries (an event and up to
//! [`PAGE`] links each), sends them one after another and, when every one was taken (a 2xx
//! answer), moves the webhook on past that change. A delivery's id is made of the webhook, the
//! change, the event and the page: a crash between a send and the mark sends the same deliveries
//! again, never different ones, and the receiver drops what it already has. A receiver that is
//! down holds nothing up but itself: its changes wait in the log, tried again after 1 s, 2 s, 4 s …
//! up to [`MAX_BACKOFF`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use allot_store::{Change, Delivery, LinkEntry, Store, Webhook};
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

/// The events a webhook may subscribe to.
pub const EVENTS: &[(&str, &str)] = &[
    ("link.opened", "a client got an owner in a role (any cause: a rule, routing, a pin, a cover)"),
    ("link.closed", "a client's owner in a role let go of it (with the cause of the change)"),
    ("lead.routed", "a routing batch gave new leads their owners"),
    ("lead.unassigned", "a routed lead was left with nobody in a role (the team's manager should see to it)"),
    ("plan.applied", "a plan was applied (a scheme, a rebalance, a leaver, an absence, an import)"),
    ("absence.started", "an absence was registered: the employee, their first and last day away, their cover"),
    ("absence.ended", "an absence was ended early: the employee and their new last day away"),
];

/// Links per delivery.
pub const PAGE: u64 = 500;
/// Changes read per look.
const CHANGES_PER_LOOK: u64 = 20;
/// The longest wait between two tries of one webhook.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// How long one receiver may take to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the worker looks for new changes.
const EVERY: Duration = Duration::from_secs(1);
/// How long a worker holds a webhook (two servers on one store: each webhook is sent by one),
/// renewed before each delivery; a server killed while holding one delays it by this at most.
const LEASE: Duration = Duration::from_secs(30);

/// The events of `list` that allot does not know.
pub fn unknown_events(list: &[String]) -> Vec<String> {
    list.iter().filter(|e| !EVENTS.iter().any(|(k, _)| k == e)).cloned().collect()
}

/// One delivery: its id, event and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub event: String,
    pub body: String,
}

fn link_json(l: &LinkEntry) -> Value {
    json!({
        "client": l.client,
        "role": l.role,
        "employee": l.employee,
        "from": l.from.to_string(),
        "to": l.to.map(|d| d.to_string()),
        "cause": l.cause.as_str(),
        "rule": l.rule,
    })
}

fn change_json(c: &Change) -> Value {
    json!({ "id": c.id, "kind": c.kind, "by": c.by, "at": c.at, "file": c.file, "summary": c.summary })
}

/// Delivery `page` of `event` for `change`, with `items` under their name (`links`, `leads`,
/// `absence`).
fn message(hook: i64, change: &Change, event: &str, page: usize, items: Option<(&str, Value)>) -> Message {
    let id = format!("wh{hook}-c{}-{event}-{page}", change.id);
    let mut body = json!({ "delivery": id, "event": event, "change": change_json(change) });
    if let Some((name, items)) = items {
        body[name] = items;
    }
    Message { id, event: event.to_string(), body: body.to_string() }
}

/// The deliveries of `change` to webhook `hook` subscribed to `events`, in the order they are
/// sent: the plan first, then what it closed, then what it opened.
pub fn messages(store: &mut dyn Store, hook: i64, events: &[String], change: &Change) -> allot_store::Result<Vec<Message>> {
    let wants = |e: &str| events.iter().any(|x| x == e);
    let mut out = Vec::new();
    if change.kind == "apply" && wants("plan.applied") {
        out.push(message(hook, change, "plan.applied", 1, None));
    }
    if change.kind == "absence" && (wants("absence.started") || wants("absence.ended")) {
        for a in store.absences_of_change(change.id)? {
            let event = if a.ended { "absence.ended" } else { "absence.started" };
            if wants(event) {
                let absence = json!({
                    "employee": a.employee,
                    "first": a.first.to_string(),
                    "last": a.last.to_string(),
                    "cover": a.cover,
                });
                out.push(message(hook, change, event, 1, Some(("absence", absence))));
            }
        }
    }
    if change.kind == "route" && wants("lead.unassigned") {
        // The batch's answers name, per role, who took the lead: none, and it waits for a person.
        let left: Vec<Value> = store
            .routed_in(change.id)?
            .into_iter()
            .filter_map(|(client, answer)| {
                let answer: Value = serde_json::from_str(&answer).ok()?;
                let roles: Vec<Value> = answer["roles"]
                    .as_array()?
                    .iter()
                    .filter(|r| r["employee"].is_null())
                    .map(|r| json!({ "role": r["role"], "why": r["why"] }))
                    .collect();
                (!roles.is_empty()).then(|| json!({ "client": client, "roles": roles }))
            })
            .collect();
        for (page, chunk) in left.chunks(PAGE as usize).enumerate() {
            out.push(message(hook, change, "lead.unassigned", page + 1, Some(("leads", Value::Array(chunk.to_vec())))));
        }
    }
    let routed = change.kind == "route" && wants("lead.routed");
    for (event, opened) in [("link.closed", false), ("link.opened", true)] {
        let told = wants(event);
        let routes_here = opened && routed;
        if !told && !routes_here {
            continue;
        }
        let (mut after, mut page) = (0, 0);
        loop {
            let links = store.change_links(change.id, opened, after, PAGE)?;
            let Some(&(last, _)) = links.last() else { break };
            after = last;
            page += 1;
            let body: Vec<Value> = links.iter().map(|(_, l)| link_json(l)).collect();
            if routes_here {
                out.push(message(hook, change, "lead.routed", page, Some(("links", Value::Array(body.clone())))));
            }
            if told {
                out.push(message(hook, change, event, page, Some(("links", Value::Array(body)))));
            }
            if (links.len() as u64) < PAGE {
                break;
            }
        }
    }
    Ok(out)
}

/// A `ping` delivery (`allot webhook test`): the same headers and signature as the others.
pub fn ping(hook: &Webhook) -> Message {
    let id = format!("wh{}-ping-{}", hook.id, allot_app::clock::now_seconds());
    let body = json!({ "delivery": id, "event": "ping", "webhook": hook.id, "events": hook.events }).to_string();
    Message { id, event: "ping".into(), body }
}

/// Whether `url` can be a webhook's address: http or https, with a host; said otherwise.
pub fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(format!("the address must be http:// or https:// with a host, not `{}:`", u.scheme())),
        Err(e) => Err(format!("`{}` is not an address: {e}", bare_url(url))),
    }
}

/// The signature header's value: `t=<unix seconds>,sha256=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},sha256={}", allot_app::tokens::hex(&mac.finalize().into_bytes()))
}

/// An address as it may be shown: without its query string (where a key may sit).
pub fn bare_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(bare, _)| bare)
}

/// The HTTP client of the deliveries: no redirects followed (a receiver answers where it was
/// asked), a time limit per request.
pub fn client() -> reqwest::Client {
    install_tls();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(SEND_TIMEOUT)
        .user_agent(concat!("allot/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Makes rustls's ring provider the process's TLS provider (for https receivers): before any HTTP
/// client is built; a second call changes nothing.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Sends one delivery; `Ok(status)` when taken (2xx), else the status (0: not reached) and why.
pub async fn send(http: &reqwest::Client, hook: &Webhook, m: &Message) -> Result<i64, (i64, String)> {
    let now = allot_app::clock::now_seconds() as i64;
    let r = http
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-allot-event", &m.event)
        .header("x-allot-delivery", &m.id)
        .header("x-allot-signature", signature(&hook.secret, now, &m.body))
        .body(m.body.clone())
        .send()
        .await;
    match r {
        Ok(r) if r.status().is_success() => Ok(i64::from(r.status().as_u16())),
        Ok(r) => {
            let status = i64::from(r.status().as_u16());
            let text = r.text().await.unwrap_or_default();
            Err((status, text.chars().take(500).collect()))
        }
        // The error names the address: said without its query string.
        Err(e) => Err((0, e.to_string().replace(&hook.url, bare_url(&hook.url)))),
    }
}

/// The moment `wait` from now, as RFC 3339.
fn after(wait: Duration) -> String {
    allot_app::clock::rfc3339(allot_app::clock::now_seconds() + wait.as_secs())
}

/// How long after `attempts` failures in a row the next try waits.
pub fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 10) as u32).min(MAX_BACKOFF)
}

/// What a subscriber's deliveries go through: a webhook's HTTP client, or a CRM's portal.
pub enum Sink<'a> {
    Http(&'a reqwest::Client),
    Bitrix24(&'a crate::crm::Connection),
    Notify(crate::notify::Channels<'a>),
    Amo(&'a crate::crm::AmoConnection),
}

/// The deliveries of `change` to subscriber `hook`, by its kind.
fn deliveries(st: &mut dyn Store, hook: &Webhook, change: &Change) -> allot_store::Result<Result<Vec<Message>, String>> {
    if hook.kind == "notify" {
        return Ok(Ok(crate::notify::messages(st, hook.id, change)?));
    }
    if hook.kind == "bitrix24" || hook.kind == "amocrm" {
        let per = if hook.kind == "amocrm" { crate::crm::amocrm::WRITES_PER_REQUEST } else { crate::crm::bitrix24::WRITES_PER_BATCH };
        return Ok(match crate::crm::active_map(st, &hook.kind)? {
            Ok(map) => Ok(crate::crm::owner_messages(st, hook.id, &map, change, per)?),
            Err(why) => Err(why),
        });
    }
    Ok(Ok(messages(st, hook.id, &hook.events, change)?))
}

/// Sends one delivery through `sink`.
async fn send_to(sink: &Sink<'_>, hook: &Webhook, m: &Message) -> Result<i64, (i64, String)> {
    match sink {
        Sink::Http(http) => send(http, hook, m).await,
        Sink::Bitrix24(crm) => {
            let unknown: Vec<String> = serde_json::from_str::<Value>(&m.body)
                .ok()
                .and_then(|b| b["unknown"].as_array().map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect()))
                .unwrap_or_default();
            if !unknown.is_empty() {
                tracing::warn!(delivery = %m.id, employees = ?unknown, "employees who are not users of the portal (no crm_user) were not written back");
            }
            let mut portal = crm.portal.lock().await;
            crate::crm::bitrix24::write_owners(&mut portal, &m.body).await.map(|_| 200)
        }
        Sink::Notify(channels) => crate::notify::send(channels, m).await,
        Sink::Amo(amo) => {
            let mut account = amo.account.lock().await;
            crate::crm::amocrm::write_owners(&mut account, &m.body).await.map(|_| 200)
        }
    }
}

/// Tries subscriber `hook` once: the changes after its mark, each delivered whole or not at all.
/// Returns whether it delivered something (then it is looked at again at once).
pub async fn deliver(state: &Arc<AppState>, sink: &Sink<'_>, hook: &Webhook, holder: &str) -> Result<bool, ApiError> {
    let now = allot_app::clock::now_utc();
    if hook.next_at.as_deref().is_some_and(|due| due > now.as_str()) {
        return Ok(false);
    }
    let until = after(LEASE);
    let (id, holder_s) = (hook.id, holder.to_string());
    let leased = state.read(move |st| st.lease_webhook(id, &holder_s, &now, &until)).await?;
    if !leased {
        return Ok(false);
    }
    let mut renewed = std::time::Instant::now();
    let (mark, subscriber) = (hook.delivered, hook.clone());
    let batches = state
        .read(move |st| {
            let changes = st.changes_after(mark, CHANGES_PER_LOOK)?;
            changes.into_iter().map(|c| Ok((c.id, deliveries(st, &subscriber, &c)?))).collect::<allot_store::Result<Vec<_>>>()
        })
        .await?;
    let mut moved = false;
    for (change, messages) in batches {
        let mut status = 200;
        let messages = match messages {
            Ok(m) => m,
            Err(why) => {
                fail(state, hook, None, 0, why).await?;
                return Ok(moved);
            }
        };
        for m in &messages {
            // The lease renewed while a third of it is gone: it outlasts the delivery's time limit.
            if renewed.elapsed() > LEASE / 3 {
                let (until, holder_s, now) = (after(LEASE), holder.to_string(), allot_app::clock::now_utc());
                if !state.read(move |st| st.lease_webhook(id, &holder_s, &now, &until)).await? {
                    return Ok(moved);
                }
                renewed = std::time::Instant::now();
            }
            let sent = send_to(sink, hook, m).await;
            if let Sink::Amo(amo) = sink {
                // A refresh voided the old refresh token: the new pair is kept before anything else.
                amo.keep_tokens(state).await?;
            }
            match sent {
                Ok(s) => status = s,
                Err((status, error)) => {
                    fail(state, hook, Some(&m.id), status, error).await?;
                    return Ok(moved);
                }
            }
        }
        let at = allot_app::clock::now_utc();
        state.read(move |st| st.record_delivery(id, &Delivery::Done { change, status }, &at)).await?;
        moved = true;
    }
    Ok(moved)
}

/// Records a failed try of `hook` (delivery `delivery`, when one was sent) and when it is due again.
async fn fail(state: &Arc<AppState>, hook: &Webhook, delivery: Option<&str>, status: i64, error: String) -> Result<(), ApiError> {
    let (id, wait) = (hook.id, backoff(hook.attempts));
    tracing::warn!(webhook = id, kind = %hook.kind, delivery, status, %error, retry_in = ?wait, "a delivery failed");
    let (at, next) = (allot_app::clock::now_utc(), after(wait));
    state.read(move |st| st.record_delivery(id, &Delivery::Failed { status, error: &error, next_at: &next }, &at)).await
}

/// The worker: while the server lives, every webhook is sent its changes, and every CRM connector
/// this server has a portal for is written its owners — one look a second, or at once when woken
/// ([`AppState::outbox_wake`]) or while there is more.
pub fn spawn(state: Weak<AppState>, holder: String) {
    tokio::spawn(async move {
        let http = client();
        loop {
            let mut more = false;
            let wake = {
                let Some(state) = state.upgrade() else { break };
                match state.read(|st| st.webhooks()).await {
                    Ok(hooks) => {
                        for hook in hooks {
                            let sink = match (hook.kind.as_str(), state.bitrix24.as_ref()) {
                                ("http", _) => Sink::Http(&http),
                                ("bitrix24", Some(crm)) => Sink::Bitrix24(crm),
                                ("amocrm", _) if state.amocrm.is_some() => match state.amocrm.as_ref() {
                                    Some(amo) => Sink::Amo(amo),
                                    None => continue,
                                },
                                ("notify", portal) if portal.is_some() || state.mailer.is_some() => {
                                    Sink::Notify(crate::notify::Channels { mail: state.mailer.as_ref(), portal })
                                }
                                // A connector whose portal this server was not given: another
                                // server (or `allot crm push`) writes it.
                                _ => continue,
                            };
                            match deliver(&state, &sink, &hook, &holder).await {
                                Ok(moved) => more |= moved,
                                Err(e) => {
                                    tracing::warn!(webhook = hook.id, error = %e.message, "the outbox worker could not read the store")
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e.message, "the outbox worker could not read the store"),
                }
                state.outbox_wake.clone()
            };
            if !more {
                tokio::select! {
                    () = tokio::time::sleep(EVERY) => {}
                    () = wake.notified() => {}
                }
            }
        }
    });
}
