//! The CRMs where the sales team works (issue #18): Bitrix24 (and, next, amoCRM) reached over
//! their REST APIs — read by `allot crm pull`, written the owners allot decides by the outbox's
//! worker ([`crate::outbox`]), and heard from by their outgoing events ([`hooks`]).

pub mod amocrm;
pub mod bitrix24;
pub mod hooks;
#[doc(hidden)]
pub mod standin;
#[doc(hidden)]
pub mod standin_amo;

use serde_json::{json, Map, Value};

/// The HTTP client of a CRM's API: a time limit per request, allot's user agent.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    crate::outbox::install_tls();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("allot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// How the server reaches a Bitrix24 portal: its incoming webhook (the key is in the address: it
/// comes from the server's environment, never the store) and the application token its outgoing
/// events carry.
#[derive(Clone)]
pub struct Bitrix24Config {
    pub webhook: String,
    pub app_token: Option<String>,
    pub pace: bitrix24::Pace,
}

impl std::fmt::Debug for Bitrix24Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = bitrix24::check_webhook(&self.webhook).map(|(_, h)| h).unwrap_or_default();
        write!(f, "Bitrix24Config({host}, application token {})", if self.app_token.is_some() { "set" } else { "not set" })
    }
}

/// How the server reaches an amoCRM account: its address, how it signs in (a long-lived token, or
/// the integration's OAuth client with the token pair kept in the store), and the key in the
/// address of its webhooks.
#[derive(Clone)]
pub struct AmoConfig {
    pub url: String,
    pub long_lived: Option<String>,
    pub client: Option<amocrm::Client>,
    pub hook_key: Option<String>,
    pub pace: bitrix24::Pace,
}

impl std::fmt::Debug for AmoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = amocrm::check_account(&self.url).map(|(_, h)| h).unwrap_or_default();
        write!(f, "AmoConfig({host})")
    }
}

/// An amoCRM account the server writes to and hears from; its connector's id (where refreshed
/// tokens are kept).
pub struct AmoConnection {
    pub account: tokio::sync::Mutex<amocrm::Account>,
    pub host: String,
    pub hook_key: Option<String>,
    pub connector: i64,
}

impl AmoConnection {
    /// Keeps the account's refreshed token pair in the store, if it was refreshed.
    pub async fn keep_tokens(&self, state: &std::sync::Arc<crate::AppState>) -> Result<(), crate::error::ApiError> {
        let fresh = self.account.lock().await.take_refreshed();
        if let Some(tokens) = fresh {
            let (id, secret) = (self.connector, serde_json::to_string(&tokens).unwrap_or_default());
            state.read(move |st| st.set_connector_secret(id, &secret)).await?;
            tracing::info!(account = %self.host, "amoCRM's token pair was refreshed and kept");
        }
        Ok(())
    }
}

/// The sign-in of an account: its long-lived token, or the OAuth client with the token pair the
/// connector keeps (`allot crm connect` put it there).
pub fn amo_auth(config: &AmoConfig, kept: Option<&str>) -> Result<amocrm::Auth, String> {
    if let Some(token) = &config.long_lived {
        return Ok(amocrm::Auth::LongLived(token.clone()));
    }
    let Some(client) = &config.client else {
        return Err("set ALLOT_AMOCRM_TOKEN (a long-lived token) or ALLOT_AMOCRM_CLIENT_ID, ALLOT_AMOCRM_CLIENT_SECRET and ALLOT_AMOCRM_REDIRECT_URI (OAuth)".into());
    };
    let tokens: amocrm::Tokens = kept
        .and_then(|k| serde_json::from_str(k).ok())
        .ok_or("the account is not connected yet: run `allot crm connect --code CODE` with the integration's authorization code")?;
    Ok(amocrm::Auth::OAuth { client: client.clone(), tokens })
}

/// A portal the server writes to and hears from: one client, paced for both.
pub struct Connection {
    pub portal: tokio::sync::Mutex<bitrix24::Portal>,
    pub host: String,
    pub app_token: Option<String>,
    /// The list fields' item names as last read, for which map, and when.
    names: std::sync::Mutex<Option<(std::time::Instant, allot_io::scheme::CrmMap, bitrix24::Names)>>,
}

/// How long the list fields' item names read from the portal are used before they are read again.
const NAMES_FOR: std::time::Duration = std::time::Duration::from_secs(600);

impl Connection {
    pub fn new(c: &Bitrix24Config) -> Result<Connection, String> {
        let portal = bitrix24::Portal::new(&c.webhook, c.pace)?;
        let host = portal.host().to_string();
        Ok(Connection { portal: tokio::sync::Mutex::new(portal), host, app_token: c.app_token.clone(), names: Default::default() })
    }

    /// The names of `map`'s list fields' items: read from `portal` at most every ten minutes.
    pub async fn names(
        &self,
        portal: &mut bitrix24::Portal,
        map: &allot_io::scheme::CrmMap,
    ) -> Result<bitrix24::Names, bitrix24::CallError> {
        let kept =
            self.names.lock().ok().and_then(|n| n.as_ref().filter(|(at, m, _)| at.elapsed() < NAMES_FOR && m == map).map(|n| n.2.clone()));
        if let Some(names) = kept {
            return Ok(names);
        }
        let names = bitrix24::list_names(portal, map, &mut |_, _, _| {}).await?;
        if let Ok(mut n) = self.names.lock() {
            *n = Some((std::time::Instant::now(), map.clone(), names.clone()));
        }
        Ok(names)
    }

    /// The portal's address as the store keeps it (the connector's): without the key.
    pub fn address(&self) -> String {
        format!("https://{}/", self.host)
    }
}

/// The active scheme's `[crm]` map for CRM `system`; an error when there is none or it maps
/// another CRM (a connector cannot write then).
pub fn active_map(store: &mut dyn allot_store::Store, system: &str) -> allot_store::Result<Result<allot_io::scheme::CrmMap, String>> {
    let Some(v) = store.active_scheme()? else { return Ok(Err("the store has no active scheme".into())) };
    let file = format!("the active scheme (version {})", v.version);
    Ok(match allot_io::SchemeFile::parse(&v.text, &file).map(|sf| sf.crm()) {
        Ok(Some(map)) if map.system == system => Ok(map),
        Ok(Some(map)) => Err(format!("{file} maps {} in its [crm] section, not {system}", map.system)),
        Ok(None) => Err(format!("{file} has no [crm] section: it says which roles are written to which fields")),
        Err(d) => Err(allot_core::diag::render_all(&d)),
    })
}

/// The CRM's field a role's person is written to: the owner role's to the record's responsible
/// (Bitrix24's `ASSIGNED_BY_ID`, amoCRM's `responsible_user_id`), a mapped role's to its user
/// field; `None` for a role the CRM does not hold.
pub fn field_of<'a>(map: &'a allot_io::scheme::CrmMap, role: &str) -> Option<&'a str> {
    if role == map.owner {
        Some(responsible(map))
    } else {
        map.roles.iter().find(|(r, _)| r == role).map(|(_, f)| f.as_str())
    }
}

/// The field of the record's responsible user in `map`'s CRM.
pub fn responsible(map: &allot_io::scheme::CrmMap) -> &'static str {
    if map.system == "amocrm" {
        "responsible_user_id"
    } else {
        "ASSIGNED_BY_ID"
    }
}

/// A company and the fields written to it: each field and the employee it is set to (`None`:
/// emptied).
pub type OwnerWrite = (String, Vec<(String, Option<String>)>);

/// What change `change` writes to the portal (issue #18 §1 write-back): per company, in the order
/// the change first touched it, each field and the employee it is set to — the person of each
/// link the change opened in a role the portal holds; `None` (emptied) for a role's user field
/// whose link the change closed without opening another. The responsible (`ASSIGNED_BY_ID`) is
/// never emptied: Bitrix24 keeps a responsible on every record.
pub fn owner_writes(
    store: &mut dyn allot_store::Store,
    map: &allot_io::scheme::CrmMap,
    change: i64,
) -> allot_store::Result<Vec<OwnerWrite>> {
    let mut out: Vec<OwnerWrite> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut set = |client: &str, field: &str, value: Option<String>, replace: bool| {
        let i = *at.entry(client.to_string()).or_insert_with(|| {
            out.push((client.to_string(), Vec::new()));
            out.len() - 1
        });
        let fields = &mut out[i].1;
        match fields.iter_mut().find(|(f, _)| f == field) {
            Some(slot) if replace => slot.1 = value,
            Some(_) => {}
            None => fields.push((field.to_string(), value)),
        }
    };
    for opened in [false, true] {
        let mut after = 0;
        loop {
            let links = store.change_links(change, opened, after, 1_000)?;
            let Some(&(last, _)) = links.last() else { break };
            after = last;
            for (_, l) in &links {
                match field_of(map, &l.role) {
                    // What the change opened is what the field ends as.
                    Some(field) if opened => set(&l.client, field, Some(l.employee.clone()), true),
                    Some(field) if field != responsible(map) => set(&l.client, field, None, false),
                    _ => {}
                }
            }
            if links.len() < 1_000 {
                break;
            }
        }
    }
    out.retain(|(_, fields)| !fields.is_empty());
    Ok(out)
}

/// The portal's user id of each employee: the `crm_user` a pull stored (their `ID` in
/// `user.get`), or the employee's own id when the map names employees by `ID`.
pub fn crm_users(
    store: &mut dyn allot_store::Store,
    map: &allot_io::scheme::CrmMap,
    employees: &[String],
) -> allot_store::Result<std::collections::HashMap<String, String>> {
    let mut users = std::collections::HashMap::new();
    for (id, attrs) in store.employee_attributes(employees)? {
        let attrs: Value = serde_json::from_str(&attrs).unwrap_or(Value::Null);
        if let Some(user) = attrs["crm_user"].as_str().filter(|u| !u.is_empty()) {
            users.insert(id, user.to_string());
        } else if map.employee == "ID" && id.chars().all(|c| c.is_ascii_digit()) {
            users.insert(id.clone(), id);
        }
    }
    Ok(users)
}

/// The deliveries of change `change` to connector `hook`: up to `per_delivery` company updates
/// each, the employees given as the portal's user ids. A body is
/// `{"updates": [[company, {field: user id or ""}], …], "unknown": [employee, …]}`: an employee
/// who is not a portal user (no `crm_user`) cannot be written and is named in `unknown`.
pub fn owner_messages(
    store: &mut dyn allot_store::Store,
    hook: i64,
    map: &allot_io::scheme::CrmMap,
    change: &allot_store::Change,
    per_delivery: usize,
) -> allot_store::Result<Vec<crate::outbox::Message>> {
    let writes = owner_writes(store, map, change.id)?;
    let mut employees: Vec<String> = writes.iter().flat_map(|(_, f)| f.iter().filter_map(|(_, e)| e.clone())).collect();
    employees.sort();
    employees.dedup();
    let users = crm_users(store, map, &employees)?;
    let mut out = Vec::new();
    for (page, chunk) in writes.chunks(per_delivery.max(1)).enumerate() {
        let mut unknown: Vec<String> = Vec::new();
        let updates: Vec<Value> = chunk
            .iter()
            .filter_map(|(company, fields)| {
                let mut set = Map::new();
                for (field, employee) in fields {
                    match employee {
                        None => {
                            set.insert(field.clone(), json!(""));
                        }
                        Some(e) => match users.get(e) {
                            Some(user) => {
                                set.insert(field.clone(), json!(user));
                            }
                            None => unknown.push(e.clone()),
                        },
                    }
                }
                (!set.is_empty()).then(|| json!([company, set]))
            })
            .collect();
        unknown.sort();
        unknown.dedup();
        let id = format!("wh{hook}-c{}-owners-{}", change.id, page + 1);
        let body = json!({"updates": updates, "unknown": unknown}).to_string();
        out.push(crate::outbox::Message { id, event: "owners".into(), body });
    }
    Ok(out)
}
