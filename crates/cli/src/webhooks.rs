//! `allot webhook` and `allot outbox` (issue #18 §3): other systems told of the book's changes.
//! `allot serve` sends the deliveries (`allot_server::outbox`); these commands subscribe, list,
//! remove, try an address, and show what waits.

use allot_server::outbox;
use clap::{Args, Subcommand};

use crate::stored::StoreOpt;
use crate::Reported;

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Subscribe an address to events; prints the signing key once.
    #[command(
        after_help = "Events:\n  link.opened   a client got an owner in a role\n  link.closed   an owner let go of a client in a role\n  lead.routed   a routing batch gave new leads their owners\n  lead.unassigned  a routed lead was left with nobody in a role\n  plan.applied  a plan was applied\n\nExample:\n  allot webhook add https://erp.example.ru/allot --events link.opened,link.closed"
    )]
    Add {
        /// Where the deliveries are POSTed (http:// or https://).
        url: String,
        /// The events, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Every webhook: address, events, how far it has been delivered. Never a key.
    List {
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Stop telling an address (what it was told stays in the log).
    Remove {
        id: i64,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Send one signed `ping` to a webhook now and show its answer.
    Test {
        id: i64,
        #[command(flatten)]
        store: StoreOpt,
    },
}

/// `allot outbox`: what waits to be delivered, and the receivers' last answers.
#[derive(Args)]
pub struct OutboxArgs {
    /// Try this webhook again now instead of after its back-off.
    #[arg(long, value_name = "ID")]
    resend: Option<i64>,
    #[command(flatten)]
    store: StoreOpt,
}

fn fail(e: impl std::fmt::Display) -> Reported {
    eprintln!("error: {e}");
    Reported
}

pub fn webhook(c: &WebhookCommand) -> Result<(), Reported> {
    match c {
        WebhookCommand::Add { url, events, store } => {
            outbox::check_url(url).map_err(fail)?;
            let events: Vec<String> = events.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
            let unknown = outbox::unknown_events(&events);
            if !unknown.is_empty() || events.is_empty() {
                let known: Vec<&str> = outbox::EVENTS.iter().map(|(k, _)| *k).collect();
                return Err(fail(format!("--events: unknown event(s) {}; expected some of: {}", unknown.join(", "), known.join(", "))));
            }
            let secret = allot_app::tokens::random_hex().map_err(|e| fail(format!("cannot make a signing key: {e}")))?;
            let mut s = store.open()?;
            let id = s.add_webhook(url, &events, &secret, &store.actor()).map_err(fail)?;
            crate::emit(&format!(
                "webhook {id} added: {} is told of {} from the next change on.\n\
                 Signing key (shown once; check the X-Allot-Signature header with it, see docs/webhooks.md):\n{secret}\n",
                outbox::bare_url(url),
                events.join(", ")
            ))
        }
        WebhookCommand::List { store } => {
            let mut s = store.open()?;
            let hooks: Vec<_> = s.webhooks().map_err(fail)?.into_iter().filter(|h| h.kind == "http").collect();
            let mut out =
                String::from("id  url                                       events                      delivered  added by / at\n");
            for h in &hooks {
                out.push_str(&format!(
                    "{:<3} {:<41} {:<27} {:<10} {} {}\n",
                    h.id,
                    outbox::bare_url(&h.url),
                    h.events.join(","),
                    h.delivered,
                    h.created_by,
                    h.created_at
                ));
            }
            if hooks.is_empty() {
                out = "no webhooks; add one with `allot webhook add URL --events …`\n".into();
            }
            crate::emit(&out)
        }
        WebhookCommand::Remove { id, store } => {
            let mut s = store.open()?;
            s.remove_webhook(*id, &store.actor()).map_err(fail)?;
            crate::emit(&format!("webhook {id} removed\n"))
        }
        WebhookCommand::Test { id, store } => {
            let mut s = store.open()?;
            let hook = s
                .webhooks()
                .map_err(fail)?
                .into_iter()
                .find(|h| h.id == *id && h.kind == "http")
                .ok_or_else(|| fail(format!("no webhook {id} (`allot webhook list` shows them)")))?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(fail)?;
            let m = outbox::ping(&hook);
            match runtime.block_on(async { outbox::send(&outbox::client(), &hook, &m).await }) {
                Ok(status) => crate::emit(&format!("{}: {status}, the ping ({}) was taken\n", outbox::bare_url(&hook.url), m.id)),
                Err((0, why)) => Err(fail(format!("{} cannot be reached: {why}", outbox::bare_url(&hook.url)))),
                Err((status, said)) => Err(fail(format!("{} answered {status}: {said}", outbox::bare_url(&hook.url)))),
            }
        }
    }
}

pub fn outbox_status(a: &OutboxArgs) -> Result<(), Reported> {
    let mut s = a.store.open()?;
    if let Some(id) = a.resend {
        s.retry_webhook(id).map_err(fail)?;
        return crate::emit(&format!("{id} is tried again at once by `allot serve`\n"));
    }
    let revision = s.revision().map_err(fail)?;
    let hooks = s.webhooks().map_err(fail)?;
    if hooks.is_empty() {
        return crate::emit("no webhooks and no CRM connector; nothing waits\n");
    }
    let mut out = String::new();
    for h in &hooks {
        let what = if h.kind == "http" { "webhook".to_string() } else { format!("{} connector", h.kind) };
        out.push_str(&format!("{what} {} {}: delivered up to change {} of {revision}", h.id, outbox::bare_url(&h.url), h.delivered));
        out.push_str(if h.delivered >= revision { ", nothing waits\n" } else { ", the later changes wait\n" });
        if h.attempts > 0 {
            out.push_str(&format!("  failed {} time(s) in a row; next try {}\n", h.attempts, h.next_at.as_deref().unwrap_or("now")));
        }
        if let (Some(status), Some(at)) = (h.last_status, &h.last_at) {
            let said = h.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
            let status = if status == 0 { "not reached".to_string() } else { format!("HTTP {status}") };
            out.push_str(&format!("  last answer at {at}: {status}{said}\n"));
        }
    }
    crate::emit(&out)
}
