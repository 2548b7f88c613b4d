//! The CRMs where the sales team works (issue #18): Bitrix24 (and, next, amoCRM) reached over
//! their REST APIs — read by `allot crm pull`, written the owners allot decides by the outbox's
//! worker ([`crate::outbox`]), and heard from by their outgoing events ([`hooks`]).

pub mod bitrix24;
pub mod hooks;
#[doc(hidden)]
pub mod standin;

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
