//! An amoCRM account over its API v4 (issue #18 §2), as its public documentation and its public
//! clients describe it (`amocrm/amocrm-api-php`): `https://SUBDOMAIN.amocrm.ru/api/v4/…`, a
//! bearer token — a long-lived one, or OAuth 2's access token refreshed by its refresh token
//! (`POST /oauth2/access_token`; each refresh gives a new refresh token and voids the old, so the
//! new pair is kept at once) — lists of up to 250 records a page (`page`, `limit`, `_links.next`;
//! 204 when there are none), updates of many records in one `PATCH`, and a limit of 7 requests a
//! second (429 past it).
//!
//! The same connector as Bitrix24's: [`pull`] gives the files an import reads, the outbox writes
//! the owners ([`write_owners`]), `POST /v1/hooks/amocrm/{key}` routes a new company. Tokens are
//! never printed: errors and `Debug` name the account's host only.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::bitrix24::{cell, csv_of, CallError, Pace, Pulled};

/// Records per page of a list.
pub const PAGE: u64 = 250;
/// Records written per `PATCH`.
pub const WRITES_PER_REQUEST: usize = 50;
/// Tries of one request before giving up on the limit or on 5xx answers.
const TRIES: u32 = 8;

/// amoCRM's own pace: 7 requests a second, one at a time.
pub fn pace() -> Pace {
    Pace { per_second: 7.0, burst: 1, ..Pace::default() }
}

/// An OAuth 2 token pair, and when the access token runs out (seconds since 1970).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub expires_at: u64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens(expires at {})", allot_app::clock::rfc3339(self.expires_at))
    }
}

/// The integration's OAuth 2 client (from the account's settings → integrations).
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
    pub redirect_uri: String,
}

/// How requests are signed.
#[derive(Clone)]
pub enum Auth {
    /// A long-lived token of a private integration.
    LongLived(String),
    /// OAuth 2: the integration and the current token pair.
    OAuth { client: Client, tokens: Tokens },
}

/// Checks an account's address (`https://SUBDOMAIN.amocrm.ru`): its base and host.
pub fn check_account(url: &str) -> Result<(String, String), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("the account's address is not an address: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    if !matches!(parsed.scheme(), "https" | "http") || host.is_empty() {
        return Err("the account's address must be https://SUBDOMAIN.amocrm.ru".into());
    }
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok((format!("{}://{host}{port}/", parsed.scheme()), host))
}

/// An amoCRM account.
pub struct Account {
    base: String,
    host: String,
    http: reqwest::Client,
    auth: Auth,
    pace: Pace,
    next_at: Option<Instant>,
    /// Set when the tokens were refreshed since last taken ([`Account::take_refreshed`]).
    refreshed: bool,
    pub counts: super::bitrix24::Counts,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account({})", self.host)
    }
}

impl Account {
    pub fn new(url: &str, auth: Auth, pace: Pace) -> Result<Account, String> {
        let (base, host) = check_account(url)?;
        let http = super::http_client()?;
        Ok(Account { base, host, http, auth, pace, next_at: None, refreshed: false, counts: Default::default() })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The token pair refreshed since the last call, to be kept (the old refresh token is void).
    pub fn take_refreshed(&mut self) -> Option<Tokens> {
        match (&self.auth, std::mem::take(&mut self.refreshed)) {
            (Auth::OAuth { tokens, .. }, true) => Some(tokens.clone()),
            _ => None,
        }
    }

    async fn turn(&mut self) {
        self.pace.turn(&mut self.next_at).await;
    }

    fn unreachable(&self, e: &reqwest::Error) -> CallError {
        CallError::Unreachable { host: self.host.clone(), why: e.to_string() }
    }

    /// Gets a new token pair by the refresh token.
    async fn refresh(&mut self) -> Result<(), CallError> {
        let Auth::OAuth { client, tokens } = &self.auth else {
            return Err(CallError::Refused {
                host: self.host.clone(),
                method: "oauth2".into(),
                code: "401".into(),
                description: "the long-lived token was refused: make a new one in the account's integration".into(),
            });
        };
        let body = json!({
            "client_id": client.id,
            "client_secret": client.secret,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh,
            "redirect_uri": client.redirect_uri,
        });
        self.turn().await;
        self.counts.requests += 1;
        let r = self.http.post(format!("{}oauth2/access_token", self.base)).json(&body).send().await.map_err(|e| self.unreachable(&e))?;
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        let fresh = tokens_of(&answer).ok_or_else(|| CallError::Refused {
            host: self.host.clone(),
            method: "oauth2/access_token".into(),
            code: status.to_string(),
            description: format!(
                "the refresh token was refused ({}): connect the account again (allot crm connect)",
                answer["hint"].as_str().or(answer["title"].as_str()).unwrap_or("no reason given")
            ),
        })?;
        if let Auth::OAuth { tokens, .. } = &mut self.auth {
            *tokens = fresh;
        }
        self.refreshed = true;
        Ok(())
    }

    /// One request: its JSON answer, or `None` for 204 (no records). Waits its turn; refreshes an
    /// access token that ran out (or was refused once); on 429 or 5xx waits and tries again.
    pub async fn request(
        &mut self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, CallError> {
        let mut wait = self.pace.first_wait;
        let mut refreshed = false;
        let mut last = (0u16, String::new());
        for _ in 0..TRIES {
            if let Auth::OAuth { tokens, .. } = &self.auth {
                if tokens.expires_at <= allot_app::clock::now_seconds() + 60 && !refreshed {
                    self.refresh().await?;
                    refreshed = true;
                }
            }
            let token = match &self.auth {
                Auth::LongLived(t) => t.clone(),
                Auth::OAuth { tokens, .. } => tokens.access.clone(),
            };
            self.turn().await;
            self.counts.requests += 1;
            let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
                .map_err(|e| CallError::Unreachable { host: self.host.clone(), why: e.to_string() })?;
            let mut req = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = req.send().await.map_err(|e| self.unreachable(&e))?;
            let status = r.status().as_u16();
            match status {
                204 => return Ok(None),
                200..=299 => {
                    let v: Value = r.json().await.map_err(|e| CallError::Unreadable {
                        host: self.host.clone(),
                        method: path.into(),
                        why: e.to_string(),
                    })?;
                    return Ok(Some(v));
                }
                401 if !refreshed => {
                    self.refresh().await?;
                    refreshed = true;
                    continue;
                }
                429 => self.counts.limited += 1,
                500..=599 => self.counts.failed += 1,
                _ => {
                    let answer: Value = r.json().await.unwrap_or(Value::Null);
                    let description = answer["detail"].as_str().or(answer["title"].as_str()).unwrap_or("refused").to_string();
                    return Err(CallError::Refused { host: self.host.clone(), method: path.into(), code: status.to_string(), description });
                }
            }
            last = (status, format!("HTTP {status}"));
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.pace.max_wait);
        }
        Err(CallError::GaveUp { host: self.host.clone(), status: last.0, code: last.1, tries: TRIES })
    }

    /// Every record of list `path` (`api/v4/companies`) under `_embedded.<key>`, 250 a page.
    pub async fn list(
        &mut self,
        path: &str,
        key: &str,
        filter: &[(String, String)],
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<Value>, CallError> {
        let mut out = Vec::new();
        for page in 1.. {
            let mut query = vec![("page".to_string(), page.to_string()), ("limit".to_string(), PAGE.to_string())];
            query.extend(filter.iter().cloned());
            let Some(answer) = self.request(reqwest::Method::GET, path, &query, None).await? else { break };
            let records = answer["_embedded"][key].as_array().cloned().unwrap_or_default();
            let n = records.len();
            out.extend(records);
            progress(out.len() as u64);
            if answer["_links"]["next"].is_null() || n == 0 {
                break;
            }
        }
        Ok(out)
    }
}

fn tokens_of(answer: &Value) -> Option<Tokens> {
    Some(Tokens {
        access: answer["access_token"].as_str()?.to_string(),
        refresh: answer["refresh_token"].as_str()?.to_string(),
        expires_at: allot_app::clock::now_seconds() + answer["expires_in"].as_u64().unwrap_or(86_400),
    })
}

/// Exchanges an authorization code (the integration's settings show one, valid 20 minutes) for
/// the first token pair.
pub async fn connect(url: &str, client: &Client, code: &str) -> Result<Tokens, CallError> {
    let (base, host) = check_account(url).map_err(|why| CallError::Unreachable { host: url.into(), why })?;
    crate::outbox::install_tls();
    let body = json!({
        "client_id": client.id,
        "client_secret": client.secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
    });
    let r = reqwest::Client::new()
        .post(format!("{base}oauth2/access_token"))
        .json(&body)
        .send()
        .await
        .map_err(|e| CallError::Unreachable { host: host.clone(), why: e.to_string() })?;
    let status = r.status().as_u16();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    tokens_of(&answer).ok_or_else(|| CallError::Refused {
        host,
        method: "oauth2/access_token".into(),
        code: status.to_string(),
        description: answer["hint"].as_str().or(answer["title"].as_str()).unwrap_or("the code was refused").to_string(),
    })
}

/// A record's field as a cell: `name` (a lead's `price`), a custom field by id (`cf_512345`) or by its code
/// (`PHONE`): its values joined by `;` (a list field's value is its item's name).
fn field(company: &Value, name: &str) -> String {
    if name == "name" || name == "price" {
        return cell(&company[name]);
    }
    let id = name.strip_prefix("cf_");
    let found = company["custom_fields_values"].as_array().and_then(|fields| {
        fields.iter().find(|f| match id {
            Some(id) => cell(&f["field_id"]) == id,
            None => f["field_code"].as_str() == Some(name),
        })
    });
    found
        .and_then(|f| f["values"].as_array())
        .map(|values| values.iter().map(|v| cell(&v["value"])).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(";"))
        .unwrap_or_default()
}

/// A company's mapped fields as cells, in the map's order.
pub fn company_cells(map: &allot_io::scheme::CrmMap, company: &Value) -> Vec<String> {
    map.clients.iter().map(|(f, _)| field(company, f)).collect()
}

/// Reads the account's active users (the employees, by `map.employee`: `ID` or `EMAIL`, with
/// their e-mail and user id) and its companies (all, or with `since` those updated after it, in
/// seconds since 1970); `progress` is told (what, read).
pub async fn pull(
    account: &mut Account,
    map: &allot_io::scheme::CrmMap,
    since: Option<u64>,
    mut progress: impl FnMut(&str, u64),
) -> Result<Pulled, CallError> {
    let users = account.list("api/v4/users", "users", &[], |n| progress("users", n)).await?;
    let active: Vec<&Value> = users.iter().filter(|u| u["rights"]["is_active"].as_bool() != Some(false)).collect();
    let mut employees: Vec<Vec<String>> = active
        .iter()
        .map(|u| {
            let id = if map.employee == "EMAIL" { cell(&u["email"]) } else { cell(&u["id"]) };
            vec![id, cell(&u["name"]), cell(&u["email"]), cell(&u["id"])]
        })
        .filter(|r| !r[0].is_empty())
        .collect();
    employees.sort();
    let filter: Vec<(String, String)> = since.map(|s| vec![("filter[updated_at][from]".to_string(), s.to_string())]).unwrap_or_default();
    let companies = account.list("api/v4/companies", "companies", &filter, |n| progress("companies", n)).await?;
    // The leads too, when the map says so: clients `lead-ID`, by the same fields.
    let leads = if map.leads { account.list("api/v4/leads", "leads", &filter, |n| progress("leads", n)).await? } else { vec![] };
    let mut headers = vec!["id".to_string()];
    headers.extend(map.clients.iter().map(|(_, a)| a.clone()));
    let clients: Vec<Vec<String>> = companies
        .iter()
        .map(|c| (cell(&c["id"]), c))
        .chain(leads.iter().map(|l| (format!("lead-{}", cell(&l["id"])), l)))
        .map(|(id, c)| std::iter::once(id).chain(company_cells(map, c)).collect())
        .collect();
    Ok(Pulled {
        employees: csv_of(&["id", "name", "email", "crm_user"].map(String::from), &employees),
        clients: csv_of(&headers, &clients),
        deals: String::new(),
        users: active.len(),
        companies: companies.len(),
        leads: leads.len(),
        contacts: 0,
        deal_count: 0,
        deals_without_client: 0,
    })
}

/// Writes one delivery of [`super::owner_messages`]: one `PATCH /api/v4/companies` (and one
/// `PATCH /api/v4/leads` for the leads, clients `lead-ID`) — `Ok(records written)`, or why not
/// (tried again later: writing a field its value again changes nothing).
pub async fn write_owners(account: &mut Account, body: &str) -> Result<usize, (i64, String)> {
    let body: Value = serde_json::from_str(body).map_err(|e| (0, format!("an unreadable delivery: {e}")))?;
    let (mut companies, mut leads) = (Vec::new(), Vec::new());
    for u in body["updates"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let client = cell(&u[0]);
        let Ok(user) = cell(&u[1]["responsible_user_id"]).parse::<u64>() else { continue };
        match client.strip_prefix("lead-").map_or_else(|| client.parse::<u64>(), str::parse) {
            Ok(id) if client.starts_with("lead-") => leads.push(json!({"id": id, "responsible_user_id": user})),
            Ok(id) => companies.push(json!({"id": id, "responsible_user_id": user})),
            Err(_) => {}
        }
    }
    let mut written = 0;
    for (path, records) in [("api/v4/companies", companies), ("api/v4/leads", leads)] {
        if records.is_empty() {
            continue;
        }
        let n = records.len();
        if let Err(e) = account.request(reqwest::Method::PATCH, path, &[], Some(&Value::Array(records))).await {
            return Err((e.status(), e.to_string()));
        }
        written += n;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_s_fields_are_read_by_name_code_and_id() {
        let c = json!({"id": 7, "name": "ООО «Ромашка»", "custom_fields_values": [
            {"field_id": 512345, "field_code": null, "values": [{"value": 250000}]},
            {"field_id": 11, "field_code": "PHONE", "values": [{"value": "+7 900 000-00-01", "enum_code": "WORK"}, {"value": "+7 900 000-00-02"}]},
            {"field_id": 12, "field_code": null, "values": [{"value": "Ключевой", "enum_id": 3}]}
        ]});
        assert_eq!(field(&c, "name"), "ООО «Ромашка»");
        assert_eq!(field(&c, "cf_512345"), "250000");
        assert_eq!(field(&c, "PHONE"), "+7 900 000-00-01;+7 900 000-00-02");
        assert_eq!(field(&c, "cf_12"), "Ключевой");
        assert_eq!(field(&c, "cf_99"), "");
        assert!(check_account("ftp://x.amocrm.ru").is_err());
        assert_eq!(check_account("https://example.amocrm.ru").unwrap().1, "example.amocrm.ru");
    }
}
