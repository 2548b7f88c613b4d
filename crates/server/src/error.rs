//! The API's errors: a stable [`Code`] per kind, and [`ApiError`], the JSON body
//! `{"error": {"code", "message", "field"}}` with its status. What a database said is logged,
//! never sent.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Stable error codes. The error table of `/docs` and the OpenAPI document are made from
/// [`Code::ALL`]; a code is a variant, so none can be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    BadJson,
    BodyTooLarge,
    MissingField,
    WrongType,
    UnknownField,
    BadValue,
    BadDate,
    BadHeader,
    BadRequest,
    MethodNotAllowed,
    Timeout,
    UriTooLong,
    HeadersTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    UnknownClient,
    DuplicateId,
    IdempotencyConflict,
    StalePlan,
    Refused,
    Unavailable,
}

impl Code {
    pub const ALL: [Code; 22] = [
        Code::BadJson,
        Code::BodyTooLarge,
        Code::MissingField,
        Code::WrongType,
        Code::UnknownField,
        Code::BadValue,
        Code::BadDate,
        Code::BadHeader,
        Code::BadRequest,
        Code::MethodNotAllowed,
        Code::Timeout,
        Code::UriTooLong,
        Code::HeadersTooLarge,
        Code::Unauthorized,
        Code::Forbidden,
        Code::NotFound,
        Code::UnknownClient,
        Code::DuplicateId,
        Code::IdempotencyConflict,
        Code::StalePlan,
        Code::Refused,
        Code::Unavailable,
    ];

    /// The code as the JSON error carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadJson => "bad_json",
            Code::BodyTooLarge => "body_too_large",
            Code::MissingField => "missing_field",
            Code::WrongType => "wrong_type",
            Code::UnknownField => "unknown_field",
            Code::BadValue => "bad_value",
            Code::BadDate => "bad_date",
            Code::BadHeader => "bad_header",
            Code::BadRequest => "bad_request",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Timeout => "timeout",
            Code::UriTooLong => "uri_too_long",
            Code::HeadersTooLarge => "headers_too_large",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::UnknownClient => "unknown_client",
            Code::DuplicateId => "duplicate_id",
            Code::IdempotencyConflict => "idempotency_conflict",
            Code::StalePlan => "stale_plan",
            Code::Refused => "refused",
            Code::Unavailable => "unavailable",
        }
    }

    /// The HTTP status of an error with this code.
    pub fn status(self) -> u16 {
        match self {
            Code::BadJson => 400,
            Code::BodyTooLarge => 413,
            Code::MissingField => 422,
            Code::WrongType => 422,
            Code::UnknownField => 422,
            Code::BadValue => 422,
            Code::BadDate => 422,
            Code::BadHeader => 400,
            Code::BadRequest => 400,
            Code::MethodNotAllowed => 405,
            Code::Timeout => 408,
            Code::UriTooLong => 414,
            Code::HeadersTooLarge => 431,
            Code::Unauthorized => 401,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::UnknownClient => 422,
            Code::DuplicateId => 409,
            Code::IdempotencyConflict => 409,
            Code::StalePlan => 409,
            Code::Refused => 422,
            Code::Unavailable => 503,
        }
    }

    /// What it means, for the error table.
    pub fn meaning(self) -> &'static str {
        match self {
            Code::BadJson => "the body is not JSON, or not the expected shape",
            Code::BodyTooLarge => "the body is larger than the server accepts",
            Code::MissingField => "a required field is absent",
            Code::WrongType => "a field has the wrong type",
            Code::UnknownField => "the body has a field the endpoint does not take",
            Code::BadValue => "a value out of bounds: too long or too many, a NUL character, a number that cannot be kept exactly",
            Code::BadDate => "a date is not YYYY-MM-DD",
            Code::BadHeader => "a header has a value that cannot be used",
            Code::BadRequest => "the request line, path or query cannot be read",
            Code::MethodNotAllowed => "the endpoint does not take this method",
            Code::Timeout => "the request's body did not arrive in time",
            Code::UriTooLong => "the path and query are too long",
            Code::HeadersTooLarge => "the request's headers are too large",
            Code::Unauthorized => "no token, or an unknown one",
            Code::Forbidden => "the token's scope does not allow this",
            Code::NotFound => "no such client, employee or pool",
            Code::UnknownClient => "a deal names a client the store does not have",
            Code::DuplicateId => "a deal with this id is stored already",
            Code::IdempotencyConflict => "the Idempotency-Key was used with a different request",
            Code::StalePlan => "the store changed since the plan was made",
            Code::Refused => "the store refused the request (see the message)",
            Code::Unavailable => "the store cannot be reached, or nothing to route by yet",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
    /// The store connection it came from is lost: drop it, and a retry on a new one may work.
    pub lost: bool,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>, field: Option<&str>) -> ApiError {
        ApiError { status: code.status(), code, message: message.into(), field: field.map(String::from), lost: false }
    }
    pub fn conflict(code: Code, message: &str, field: &str) -> ApiError {
        ApiError::new(code, message, Some(field))
    }
    pub fn unavailable(message: String) -> ApiError {
        ApiError::new(Code::Unavailable, message, None)
    }
    /// The answer for a store error. What the database said is logged, never sent: it may name
    /// the store's URL, tables or values (issue #13).
    pub fn store(e: allot_store::StoreError) -> ApiError {
        use allot_store::StoreError as S;
        match e {
            S::NotFound { .. } => ApiError::new(Code::NotFound, e.to_string(), None),
            S::Stale { .. } => ApiError::new(Code::StalePlan, e.to_string(), None),
            S::Refused(_) | S::Said(_) | S::UnknownClients(_) => ApiError::new(Code::Refused, e.to_string(), None),
            S::Open { .. } | S::Connection(_) => {
                tracing::warn!(error = %e, "the store cannot be reached");
                ApiError { lost: true, ..ApiError::unavailable("the store cannot be reached; retry shortly".into()) }
            }
            S::Db(_) => {
                tracing::error!(error = %e, "the database refused a request");
                ApiError::unavailable("the store could not do this; the error is logged on the server".into())
            }
        }
    }
    pub(crate) fn forbidden(what: &str) -> ApiError {
        ApiError::new(Code::Forbidden, format!("this token's scope does not allow {what}"), None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({"error": {"code": self.code.as_str(), "message": self.message, "field": self.field}});
        let mut resp = (status, [("content-type", "application/json")], body.to_string()).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 is passing: the store reconnects, a queue drains.
            resp.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}
