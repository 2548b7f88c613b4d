//! The people who sign in to the workspace (issue #16): users linked to an employee, with a role
//! that is one of the API's scopes (admin: the head of sales; manager: their teams; employee: their
//! own clients); passwords kept as argon2id hashes; a lock-out that grows with failed sign-ins;
//! sessions kept by the hash of their cookie's secret, each with its CSRF token and an expiry.
//!
//! The store keeps and checks; what a sign-in means (which failure locks for how long, when a
//! session ends) is decided here, on the caller's clock.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use allot_store::{Actor, NewSession, NewUser, Session, Store, StoreError, User};

use crate::clock::rfc3339;
use crate::tokens::{hash, new_secret};

/// A user's role: what they may see and do (the API's scopes of the same names).
pub const ROLES: [&str; 3] = ["admin", "manager", "employee"];
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD: usize = 10;
/// How long a session lasts.
pub const SESSION_SECONDS: u64 = 12 * 3600;
/// Failed sign-ins in a row before a lock-out; each further one doubles it.
pub const FREE_FAILURES: i64 = 5;
/// The first lock-out, and the longest.
pub const FIRST_LOCK_SECONDS: u64 = 30;
pub const MAX_LOCK_SECONDS: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("unknown role `{0}`; expected admin, manager or employee")]
    UnknownRole(String),
    #[error("a {0} is one of the employees: give --employee ID")]
    NeedsEmployee(String),
    #[error("the password is too short: at least {MIN_PASSWORD} characters")]
    WeakPassword,
    /// Said the same whether the login or the password is wrong, or the user is disabled.
    #[error("wrong login or password")]
    BadCredentials,
    #[error("too many failed sign-ins: try again after {until}")]
    Locked { until: String },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct UserRequest<'a> {
    pub login: &'a str,
    pub employee: Option<&'a str>,
    pub role: &'a str,
    pub password: &'a str,
}

/// A session just begun: the cookie's secret (given to the browser, never stored), the CSRF token
/// that each state-changing request must carry, the user, and when it ends.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub secret: String,
    pub csrf: String,
    pub user: User,
    pub expires_at: String,
}

fn password_hash(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::WeakPassword);
    }
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` is the one `phc` was made from (in constant time, by argon2's own check).
fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Adds a user.
pub fn add(store: &mut dyn Store, req: &UserRequest<'_>, actor: &Actor) -> Result<i64, UserError> {
    if !ROLES.contains(&req.role) {
        return Err(UserError::UnknownRole(req.role.into()));
    }
    if req.role != "admin" && req.employee.is_none() {
        return Err(UserError::NeedsEmployee(req.role.into()));
    }
    let password = password_hash(req.password)?;
    let user = NewUser { login: req.login.trim(), employee: req.employee, role: req.role, password: &password };
    Ok(store.add_user(&user, actor)?)
}

/// Every user, by login.
pub fn list(store: &mut dyn Store) -> Result<Vec<User>, StoreError> {
    store.users()
}

/// Disables a user: they can no longer sign in, and their sessions end.
pub fn disable(store: &mut dyn Store, login: &str, actor: &Actor) -> Result<(), StoreError> {
    store.disable_user(login, actor)
}

/// Sets a user's password (an admin's reset): their lock-out is lifted and their sessions end.
pub fn set_password(store: &mut dyn Store, login: &str, password: &str, actor: &Actor) -> Result<(), UserError> {
    let password = password_hash(password)?;
    Ok(store.set_password(login, &password, actor)?)
}

/// A user changes their own password: the old one first.
pub fn change_password(store: &mut dyn Store, login: &str, old: &str, new: &str, actor: &Actor) -> Result<(), UserError> {
    let user = store.user(login)?.filter(|u| u.disabled.is_none()).ok_or(UserError::BadCredentials)?;
    if !verify(old, &user.password) {
        return Err(UserError::BadCredentials);
    }
    set_password(store, login, new, actor)
}

/// The lock-out after `failures` failed sign-ins in a row: none up to [`FREE_FAILURES`], then
/// 30 s, doubling with each further failure, at most an hour.
pub fn lock_seconds(failures: i64) -> Option<u64> {
    let over = failures - FREE_FAILURES;
    (over >= 0).then(|| FIRST_LOCK_SECONDS.saturating_mul(1u64 << over.min(16)).min(MAX_LOCK_SECONDS))
}

/// Signs a user in at `now` (seconds since 1970, UTC). A wrong password counts towards the
/// lock-out; a locked user is refused before the password is even checked.
pub fn sign_in(store: &mut dyn Store, login: &str, password: &str, now: u64) -> Result<SignedIn, UserError> {
    let now_text = rfc3339(now);
    let Some(user) = store.user(login.trim())?.filter(|u| u.disabled.is_none()) else {
        // As long as a real check, so that the answer's time tells nothing of which logins exist.
        let _ = verify(password, dummy_hash());
        return Err(UserError::BadCredentials);
    };
    if let Some(until) = user.locked_until.as_deref().filter(|u| *u > now_text.as_str()) {
        return Err(UserError::Locked { until: until.to_string() });
    }
    if !verify(password, &user.password) {
        let failures = user.failures + 1;
        let until = lock_seconds(failures).map(|s| rfc3339(now + s));
        store.record_sign_in(user.id, failures, until.as_deref())?;
        return Err(match until {
            Some(until) => UserError::Locked { until },
            None => UserError::BadCredentials,
        });
    }
    store.record_sign_in(user.id, 0, None)?;
    let (secret, csrf) = (
        new_secret("session").map_err(|e| UserError::Hash(e.to_string()))?,
        new_secret("csrf").map_err(|e| UserError::Hash(e.to_string()))?,
    );
    let expires_at = rfc3339(now + SESSION_SECONDS);
    store.add_session(&NewSession { id: &hash(&secret), user: user.id, csrf: &csrf, created_at: &now_text, expires_at: &expires_at })?;
    Ok(SignedIn { secret, csrf, user, expires_at })
}

/// The live session a cookie's secret names at `now`.
pub fn session(store: &mut dyn Store, secret: &str, now: u64) -> Result<Option<Session>, StoreError> {
    store.session(&hash(secret), &rfc3339(now))
}

/// Ends a session; whether it was live.
pub fn sign_out(store: &mut dyn Store, secret: &str, now: u64) -> Result<bool, StoreError> {
    store.end_session(&hash(secret), &rfc3339(now))
}

/// An argon2id hash of a random password nobody has, checked against when the login is unknown.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = new_secret("nobody").unwrap_or_else(|_| "nobody-has-this-password".into());
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}
