//! People told (issue #18 §4): the new owner of a client — and, as the scheme's `[notify]` says,
//! the managers of their teams — hears which clients became theirs, in which role, since when
//! and why, in their own language (`ru` unless their `language` says `en`), by e-mail over SMTP
//! or by the Bitrix24 portal's own notification (`im.notify.personal.add`). One message per
//! person per change (an apply of a whole book is one letter, not one per client).
//!
//! The `notify` connector reads the change log as the webhooks do (`crate::outbox`): a message's
//! id is made of the connector, the change and the person, and is the e-mail's `Message-ID` and
//! the portal notification's `TAG` — a server killed between a send and its mark sends the same
//! message again, which a mail client shows once and the portal replaces.

use std::collections::{BTreeMap, BTreeSet};

use allot_i18n::{Arg, Lang};
use allot_store::{Change, LinkEntry, Store};
use serde_json::{json, Value};

use crate::outbox::Message;

/// Clients listed in one message; the rest are counted.
pub const LISTED: usize = 50;
/// Links read per look at a change.
const LINKS_PER_READ: u64 = 1_000;

/// How the server sends e-mail: the mail server, how the connection is secured, who signs in
/// and who the letters are from.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpConfig({}:{} {:?}, from {})", self.host, self.port, self.tls, self.from)
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain, then STARTTLS (port 587): the default.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a mail server on the same machine.
    None,
}

impl SmtpTls {
    pub fn parse(s: &str) -> Option<SmtpTls> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" | "" => Some(SmtpTls::StartTls),
            "tls" | "ssl" | "smtps" => Some(SmtpTls::Tls),
            "none" | "off" | "plain" => Some(SmtpTls::None),
            _ => None,
        }
    }
}

/// The SMTP client of the notifications.
pub struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    /// `smtp://HOST:PORT`, as `allot outbox` shows it.
    pub address: String,
}

impl Mailer {
    pub fn new(c: &SmtpConfig) -> Result<Mailer, String> {
        type T = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;
        crate::outbox::install_tls();
        let from: lettre::message::Mailbox =
            c.from.parse().map_err(|e| format!("ALLOT_SMTP_FROM `{}` is not an address such as allot@example.ru: {e}", c.from))?;
        let builder = match c.tls {
            SmtpTls::StartTls => T::starttls_relay(&c.host).map_err(|e| format!("the mail server {}: {e}", c.host))?,
            SmtpTls::Tls => T::relay(&c.host).map_err(|e| format!("the mail server {}: {e}", c.host))?,
            SmtpTls::None => T::builder_dangerous(&c.host),
        };
        let mut builder = builder.port(c.port).timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(user) = &c.user {
            let credentials =
                lettre::transport::smtp::authentication::Credentials::new(user.clone(), c.password.clone().unwrap_or_default());
            builder = builder.credentials(credentials);
        }
        Ok(Mailer { transport: builder.build(), from, address: format!("smtp://{}:{}", c.host, c.port) })
    }

    /// Sends one letter; its `Message-ID` is made of `id` (a letter sent twice is one letter).
    pub async fn send(&self, to: &str, subject: &str, text: &str, id: &str) -> Result<(), (i64, String)> {
        use lettre::AsyncTransport;
        let to: lettre::message::Mailbox = to.parse().map_err(|e| (400, format!("`{to}` is not an e-mail address: {e}")))?;
        let domain = self.from.email.domain().to_string();
        let letter = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}@{domain}>")))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| (400, format!("the letter cannot be made: {e}")))?;
        match self.transport.send(letter).await {
            Ok(_) => Ok(()),
            Err(e) => Err((e.status().map_or(0, |s| i64::from(u16::from(s))), e.to_string())),
        }
    }
}

/// A person as the notifications reach them: name, teams, contacts.
#[derive(Debug, Clone, Default)]
struct Person {
    name: String,
    teams: Vec<String>,
    email: Option<String>,
    language: Lang,
    crm_user: Option<String>,
}

fn people(store: &mut dyn Store) -> allot_store::Result<BTreeMap<String, Person>> {
    let snap = store.people()?;
    Ok(snap
        .employees
        .iter()
        .map(|e| {
            let a: Value = serde_json::from_str(&e.attrs).unwrap_or(Value::Null);
            let text = |k: &str| a[k].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
            let person = Person {
                name: text("name").unwrap_or_else(|| e.id.clone()),
                teams: a["teams"].as_array().map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default(),
                email: text("email"),
                language: text("language").and_then(|l| Lang::parse(&l)).unwrap_or(Lang::Ru),
                crm_user: text("crm_user"),
            };
            (e.id.clone(), person)
        })
        .collect())
}

/// What a message says of one link: `client — role, since date: why`.
fn line(lang: Lang, l: &LinkEntry, client: &str, titles: &[(String, Option<String>)]) -> String {
    let role = titles.iter().find(|(id, _)| *id == l.role).and_then(|(_, t)| t.clone()).unwrap_or_else(|| {
        let key = format!("role-title-{}", l.role);
        let t = lang.t(&key);
        if t == key {
            l.role.clone()
        } else {
            t
        }
    });
    let mut why = lang.t(&format!("cause-{}", l.cause.as_str()));
    match l.rule.as_deref() {
        Some(rule) if l.cause.as_str() == "rule" => why = format!("{why} «{rule}»"),
        Some(rule) => why = format!("{why}, {}", lang.text("notify-rule", &[("rule", Arg::Text(rule))])),
        None => {}
    }
    let note = l.note_in(lang);
    if !note.trim().is_empty() {
        why = format!("{why}; {note}");
    }
    let date = allot_i18n::format::date(lang, l.from.0);
    lang.text(
        "notify-line",
        &[("client", Arg::Text(client)), ("role", Arg::Text(&role)), ("date", Arg::Text(&date)), ("why", Arg::Text(&why))],
    )
}

/// Ends a message of `listed` items: how many more there are than it lists, and the signature.
fn close(text: &mut String, lang: Lang, listed: usize) {
    if listed > LISTED {
        text.push_str(&lang.text("notify-more", &[("count", Arg::Count((listed - LISTED) as i64))]));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&lang.t("notify-sign"));
    text.push('\n');
}

/// The messages change `change` makes for connector `hook` under the active scheme's `[notify]`:
/// one per person told, in the order of their ids. Nothing without a `[notify]` section.
pub fn messages(store: &mut dyn Store, hook: i64, change: &Change) -> allot_store::Result<Vec<Message>> {
    let Some(scheme) = store.active_scheme()? else { return Ok(vec![]) };
    let Ok(sf) = allot_io::SchemeFile::parse(&scheme.text, "scheme") else { return Ok(vec![]) };
    let Some(settings) = sf.notify() else { return Ok(vec![]) };
    let titles = allot_io::scheme::role_titles(&scheme.text).unwrap_or_default();
    // What the change gave each person.
    let mut gained: BTreeMap<String, Vec<LinkEntry>> = BTreeMap::new();
    let mut after = 0;
    loop {
        let links = store.change_links(change.id, true, after, LINKS_PER_READ)?;
        let Some(&(last, _)) = links.last() else { break };
        after = last;
        let whole = links.len() as u64 == LINKS_PER_READ;
        for (_, l) in links {
            if l.to.is_none_or(|to| to > l.from) {
                gained.entry(l.employee.clone()).or_default().push(l);
            }
        }
        if !whole {
            break;
        }
    }
    if gained.is_empty() {
        return Ok(vec![]);
    }
    let people = people(store)?;
    // The clients' names (for the ones listed).
    let listed: BTreeSet<String> = gained.values().flat_map(|ls| ls.iter().take(LISTED).map(|l| l.client.clone())).collect();
    let listed: Vec<String> = listed.into_iter().collect();
    let names: BTreeMap<String, String> = store
        .client_attributes(&listed)?
        .into_iter()
        .filter_map(|(id, attrs)| {
            let a: Value = serde_json::from_str(&attrs).ok()?;
            a["name"].as_str().map(|n| (id.clone(), format!("{n} ({id})")))
        })
        .collect();
    let client = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    // Who is told what: owners their own clients, managers their teams' (each listed with whose).
    let mut told: BTreeMap<String, Vec<(Option<String>, &LinkEntry)>> = BTreeMap::new();
    if settings.owners {
        for (employee, links) in &gained {
            told.entry(employee.clone()).or_default().extend(links.iter().map(|l| (None, l)));
        }
    }
    if settings.managers {
        let managers: Vec<String> =
            store.users()?.into_iter().filter(|u| u.role == "manager" && u.disabled.is_none()).filter_map(|u| u.employee).collect();
        for manager in managers {
            let Some(teams) = people.get(&manager).map(|p| p.teams.clone()) else { continue };
            for (employee, links) in &gained {
                let shares = people.get(employee).is_some_and(|p| p.teams.iter().any(|t| teams.contains(t)));
                if *employee != manager && shares {
                    told.entry(manager.clone()).or_default().extend(links.iter().map(|l| (Some(employee.clone()), l)));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (person, items) in told {
        let Some(p) = people.get(&person) else { continue };
        let lang = p.language;
        let own = items.iter().all(|(whose, _)| whose.is_none());
        let count = items.len() as i64;
        let subject = if own {
            lang.text("notify-subject", &[("count", Arg::Count(count))])
        } else {
            lang.text("notify-team-subject", &[("count", Arg::Count(count))])
        };
        let mut text = lang.text("notify-hello", &[("name", Arg::Text(&p.name))]);
        text.push_str("\n\n");
        text.push_str(&if own {
            lang.text("notify-intro", &[("count", Arg::Count(count))])
        } else {
            lang.text("notify-team-intro", &[("count", Arg::Count(count))])
        });
        text.push('\n');
        if !own {
            // A manager reads first how many each one got, then the clients.
            let mut per: BTreeMap<&str, i64> = BTreeMap::new();
            for (whose, _) in &items {
                *per.entry(whose.as_deref().unwrap_or(person.as_str())).or_default() += 1;
            }
            for (who, n) in per {
                let name = people.get(who).map_or(who, |p| p.name.as_str());
                text.push_str(&lang.text("notify-team-person", &[("name", Arg::Text(name)), ("count", Arg::Count(n))]));
                text.push('\n');
            }
            text.push('\n');
        }
        for (whose, l) in items.iter().take(LISTED) {
            let mut said = line(lang, l, &client(&l.client), &titles);
            if let Some(w) = whose {
                let name = people.get(w).map_or(w.as_str(), |p| p.name.as_str());
                said = format!("{name}: {said}");
            }
            text.push_str("• ");
            text.push_str(&said);
            text.push('\n');
        }
        close(&mut text, lang, items.len());
        let id =
            format!("wh{hook}-c{}-notify-{}", change.id, allot_app::tokens::sha256_hex(person.as_bytes()).get(..16).unwrap_or_default());
        let body = json!({
            "to": person,
            "email": p.email,
            "crm_user": p.crm_user,
            "language": lang.code(),
            "subject": subject,
            "text": text,
        });
        out.push(Message { id, event: "notify".into(), body: body.to_string() });
    }
    Ok(out)
}

/// The ways the server can tell a person: e-mail, the portal's notifications.
pub struct Channels<'a> {
    pub mail: Option<&'a Mailer>,
    pub portal: Option<&'a crate::crm::Connection>,
}

/// Sends one message by e-mail when the server has a mail server and the person an address,
/// else by the portal when the server has one and the person is its user; a person neither
/// reaches is passed over (the server's log names them).
pub async fn send(channels: &Channels<'_>, m: &Message) -> Result<i64, (i64, String)> {
    let body: Value = serde_json::from_str(&m.body).map_err(|e| (0, format!("an unreadable message: {e}")))?;
    let (subject, text) = (body["subject"].as_str().unwrap_or_default(), body["text"].as_str().unwrap_or_default());
    if let (Some(mail), Some(to)) = (channels.mail, body["email"].as_str()) {
        mail.send(to, subject, text, &m.id).await?;
        return Ok(250);
    }
    if let (Some(crm), Some(user)) = (channels.portal, body["crm_user"].as_str()) {
        let mut portal = crm.portal.lock().await;
        let params = json!({"USER_ID": user, "MESSAGE": format!("{subject}\n{text}"), "TAG": m.id, "CLIENT_ID": "allot"});
        return match portal.call("im.notify.personal.add", &params).await {
            Ok(_) => Ok(200),
            Err(e) => Err((0, e.to_string())),
        };
    }
    tracing::warn!(person = %body["to"], delivery = %m.id, "a person to be told has no e-mail address (or the server no mail server) and no portal user: not told");
    Ok(204)
}

/// Leads looked at per alert round (the newest routed), and told of at most.
const ALERT_WINDOW: u64 = 10_000;
const ALERT_LIMIT: u64 = 500;

/// The managers who hear of leads left waiting: the enabled users with the manager role (or, in a
/// company without one, the admins who are employees), as people.
fn alert_recipients(store: &mut dyn Store) -> allot_store::Result<Vec<String>> {
    let users = store.users()?;
    let with = |role: &str| -> Vec<String> {
        let mut v: Vec<String> =
            users.iter().filter(|u| u.role == role && u.disabled.is_none()).filter_map(|u| u.employee.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let managers = with("manager");
    Ok(if managers.is_empty() { with("admin") } else { managers })
}

/// One round of the alerts (issue #18 §4): every routed lead that has waited for a person in a
/// role longer than the scheme's `[notify] unassigned_after` is told to the managers, once —
/// claimed in the store first, given back when its letter cannot be sent. The leads told of.
pub async fn alert_waiting(state: &std::sync::Arc<crate::AppState>) -> Result<usize, crate::error::ApiError> {
    let now = allot_app::clock::now_seconds();
    let found = state
        .read(move |st| {
            let people_snap = st.people()?;
            let Some(active) = &people_snap.scheme else { return Ok(None) };
            let Ok(sf) = allot_io::SchemeFile::parse(&active.text, "scheme") else { return Ok(None) };
            let Some(after) = sf.notify().and_then(|n| n.unassigned_after) else { return Ok(None) };
            let Ok(parts) = allot_app::stored::routing_parts(&people_snap) else { return Ok(None) };
            let scheme = &parts.scheme;
            let roles: Vec<String> = allot_core::route::routed_roles(scheme).into_iter().map(|r| scheme.roles[r].id.clone()).collect();
            let today = allot_store::Day((now / 86_400) as i32);
            let waiting = st.unassigned_routed(&roles, today, ALERT_WINDOW, ALERT_LIMIT)?;
            let due = now.saturating_sub(u64::from(after) * 60);
            let mut claimed: Vec<(String, String, Vec<String>)> = Vec::new();
            let at = allot_app::clock::rfc3339(now);
            for (client, routed_at, roles) in waiting {
                if allot_app::clock::parse_rfc3339(&routed_at).is_none_or(|t| t > due) {
                    continue;
                }
                let mut mine = Vec::new();
                for role in roles {
                    if st.claim_alert(&client, &role, &at)? {
                        mine.push(role);
                    }
                }
                if !mine.is_empty() {
                    claimed.push((client, routed_at, mine));
                }
            }
            if claimed.is_empty() {
                return Ok(None);
            }
            let recipients = alert_recipients(st)?;
            let people = people(st)?;
            let ids: Vec<String> = claimed.iter().map(|c| c.0.clone()).collect();
            let names: BTreeMap<String, String> = st
                .client_attributes(&ids)?
                .into_iter()
                .filter_map(|(id, a)| serde_json::from_str::<Value>(&a).ok()?["name"].as_str().map(|n| (id, n.to_string())))
                .collect();
            let titles = allot_io::scheme::role_titles(&active.text).unwrap_or_default();
            let messages: Vec<Message> = recipients
                .iter()
                .filter_map(|r| people.get(r).map(|p| (r, p)))
                .map(|(r, p)| {
                    let lang = p.language;
                    let count = claimed.len() as i64;
                    let mut text = lang.text("notify-hello", &[("name", Arg::Text(&p.name))]);
                    text.push_str("\n\n");
                    text.push_str(
                        &lang.text("notify-waiting-intro", &[("count", Arg::Count(count)), ("minutes", Arg::Count(i64::from(after)))]),
                    );
                    text.push('\n');
                    for (client, routed_at, roles) in claimed.iter().take(LISTED) {
                        let name = names.get(client).map_or_else(|| client.clone(), |n| format!("{n} ({client})"));
                        let roles: Vec<String> = roles.iter().map(|role| role_title(lang, role, &titles)).collect();
                        let since = routed_at.replace('T', " ").trim_end_matches('Z').to_string();
                        text.push_str("• ");
                        text.push_str(&lang.text(
                            "notify-waiting-line",
                            &[("client", Arg::Text(&name)), ("roles", Arg::Text(&roles.join(", "))), ("since", Arg::Text(&since))],
                        ));
                        text.push('\n');
                    }
                    close(&mut text, lang, claimed.len());
                    let key: String = claimed.iter().map(|c| format!("{}:{};", c.0, c.2.join(","))).collect();
                    let id = format!("alert-{}-{}", allot_app::tokens::sha256_hex(key.as_bytes()).get(..16).unwrap_or_default(), r);
                    let body = json!({
                        "to": r,
                        "email": p.email,
                        "crm_user": p.crm_user,
                        "language": lang.code(),
                        "subject": lang.text("notify-waiting-subject", &[("count", Arg::Count(count))]),
                        "text": text,
                    });
                    Message { id, event: "alert".into(), body: body.to_string() }
                })
                .collect();
            Ok(Some((claimed, messages)))
        })
        .await?;
    let Some((claimed, messages)) = found else { return Ok(0) };
    let channels = Channels { mail: state.mailer.as_ref(), portal: state.bitrix24.as_ref() };
    let mut failed = false;
    for m in &messages {
        if let Err((status, error)) = send(&channels, m).await {
            tracing::warn!(delivery = %m.id, status, %error, "an alert of leads left waiting could not be sent; tried again at the next look");
            failed = true;
        }
    }
    if failed || messages.is_empty() {
        // Given back: the next round claims and tells them again.
        let back = claimed.clone();
        state
            .read(move |st| {
                for (client, _, roles) in &back {
                    for role in roles {
                        st.release_alert(client, role)?;
                    }
                }
                Ok(())
            })
            .await?;
        return Ok(0);
    }
    Ok(claimed.len())
}

/// A role as `lang` names it: the scheme's own title, the standard role's, or its id.
fn role_title(lang: Lang, role: &str, titles: &[(String, Option<String>)]) -> String {
    if let Some(t) = titles.iter().find(|(id, _)| id == role).and_then(|(_, t)| t.clone()) {
        return t;
    }
    let key = format!("role-title-{role}");
    let t = lang.t(&key);
    if t == key {
        role.to_string()
    } else {
        t
    }
}

/// Looks for leads left waiting every `every`, while the server lives.
pub fn spawn_alerts(state: std::sync::Weak<crate::AppState>, every: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(state) = state.upgrade() else { break };
            match alert_waiting(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(leads = n, "the managers were told of leads left waiting"),
                Err(e) => tracing::warn!(error = %e.message, "leads left waiting could not be looked for"),
            }
        }
    });
}
