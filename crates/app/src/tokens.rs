//! API tokens as a use case: made (a random secret shown once; only its SHA-256 is kept), listed
//! with their state, revoked, and found by the secret a request carries.

use sha2::{Digest, Sha256};

use allot_store::{Actor, Day, Store, StoreError, Token, TokenInfo};

/// What a token may do (docs/serve.md has the table).
pub const SCOPES: [&str; 4] = ["admin", "manager", "employee", "router"];

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("unknown scope `{0}`; expected admin, manager, employee or router")]
    UnknownScope(String),
    #[error("a {0} token needs --employee ID (whose clients it may see)")]
    NeedsEmployee(String),
    #[error("--expires {0} is not after today; the token would never work")]
    ExpiresBeforeUse(Day),
    #[error("no randomness from the OS: {0}")]
    Randomness(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token to make.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub scope: &'a str,
    /// Whose clients a `manager` or `employee` token sees.
    pub employee: Option<&'a str>,
    pub label: &'a str,
    /// The first day it no longer works.
    pub expires: Option<Day>,
    pub today: Day,
}

/// A token's state on a day, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    Revoked {
        by: String,
        at: String,
    },
    Expired(Day),
    /// Works up to and including this day.
    WorksUntil(Day),
    Works,
}

/// A new secret: 32 random bytes from the OS, hex, with a recognisable prefix.
pub fn new_secret(prefix: &str) -> Result<String, TokenError> {
    Ok(format!("{prefix}_{}", random_hex()?))
}

/// 32 random bytes from the OS, hex (a key others keep as it is, e.g. a webhook's signing key).
pub fn random_hex() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Randomness(e.to_string()))?;
    Ok(hex(&bytes))
}

/// The SHA-256 of a secret, hex: what the store keeps and looks a request's token up by.
pub fn hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// SHA-256, hex (also what an idempotency key's request is remembered by).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Makes a token and returns its secret (shown once; only its hash is stored).
pub fn create(store: &mut dyn Store, req: &TokenRequest<'_>, actor: &Actor) -> Result<String, TokenError> {
    if !SCOPES.contains(&req.scope) {
        return Err(TokenError::UnknownScope(req.scope.into()));
    }
    if matches!(req.scope, "manager" | "employee") && req.employee.is_none() {
        return Err(TokenError::NeedsEmployee(req.scope.into()));
    }
    if let Some(d) = req.expires.filter(|&d| d <= req.today) {
        return Err(TokenError::ExpiresBeforeUse(d));
    }
    let secret = new_secret("allot")?;
    let token =
        allot_store::NewToken { hash: &hash(&secret), scope: req.scope, employee: req.employee, label: req.label, expires: req.expires };
    store.add_token(&token, actor)?;
    Ok(secret)
}

/// Every token with its state on `today`, newest last.
pub fn list(store: &mut dyn Store, today: Day) -> Result<Vec<(TokenInfo, TokenState)>, StoreError> {
    Ok(store
        .tokens()?
        .into_iter()
        .map(|t| {
            let state = match (&t.revoked, t.token.expires) {
                (Some((by, at)), _) => TokenState::Revoked { by: by.clone(), at: at.clone() },
                (None, Some(e)) if e <= today => TokenState::Expired(e),
                (None, Some(e)) => TokenState::WorksUntil(Day(e.0 - 1)),
                (None, None) => TokenState::Works,
            };
            (t, state)
        })
        .collect())
}

/// Revokes a token; the change recorded.
pub fn revoke(store: &mut dyn Store, id: i64, actor: &Actor) -> Result<i64, StoreError> {
    store.revoke_token(id, actor)
}

/// The live token a secret names on `today`: not revoked, not expired.
pub fn find(store: &mut dyn Store, secret: &str, today: Day) -> Result<Option<Token>, StoreError> {
    Ok(store.token(&hash(secret))?.filter(|t| t.expires.is_none_or(|e| today < e)))
}
