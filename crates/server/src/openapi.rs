//! The OpenAPI document at `/openapi.json`, and `/docs`: a page rendered from it on the server
//! (no scripts, nothing fetched from elsewhere).

use serde_json::{json, Value as J};

use crate::error::Code;

fn error_ref() -> J {
    json!({"description": "an error; see the codes in components.schemas.Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn at_param() -> J {
    json!({"name": "at", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "description": "the day (YYYY-MM-DD); today by default"})
}

fn id_param(what: &str) -> J {
    json!({"name": if what == "rule" { "rule" } else { "id" }, "in": "path", "required": true, "schema": {"type": "string"}, "description": format!("the {what}'s id")})
}

/// The API, described.
pub fn document() -> J {
    let codes: Vec<J> = Code::ALL.iter().map(|c| json!({"code": c.as_str(), "status": c.status(), "meaning": c.meaning()})).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "allot",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Route new leads to the responsible employees in real time, and read the book of business: who holds which client in which role, on any day, and why. Every /v1 call needs `Authorization: Bearer <token>` (`allot token create`; `allot token list` and `allot token revoke` — a revocation takes effect within a second on every server). Scopes: admin (everything), manager (the clients of their teams), employee (their own clients), router (POST /v1/route only: it is not told a stored client's owners, and the deals it routes are no sales unless the scheme's [credit] says routed_sales = true). Every error is JSON in the shape of components.schemas.Error; a 503 carries Retry-After.",
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "object", "properties": {
                        "code": {"type": "string", "enum": Code::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"], "description": "the offending field, e.g. attributes.potential or Idempotency-Key"},
                    }, "required": ["code", "message"]}},
                    "x-codes": codes,
                },
                "RouteRequest": {
                    "type": "object", "additionalProperties": false, "required": ["attributes"],
                    "properties": {
                        "id": {"type": "string", "description": "the client's id (a known id keeps its current owners: continuity), or the deal's id"},
                        "client": {"type": "string", "description": "for a deal: its stored client's id; deal rules decide, the client's owners take the other roles (MISSION.md S4.4)"},
                        "date": {"type": "string", "format": "date", "description": "the day it arrives (caps, absences), from 1900-01-01 to the server's today (UTC); working hours are not checked"},
                        "at": {"type": "string", "format": "date-time", "description": "the time it arrives, e.g. 2026-03-02T10:15:00Z, offsets within ±18:00, not after now: caps, absences and working hours; now by default"},
                        "attributes": {"type": "object", "description": "the lead's (or deal's) attributes: declared ones typed as the store's columns (numbers of at most 15 significant digits, texts, booleans, YYYY-MM-DD dates, lists of texts); undeclared ones are kept as sent and named in `unused_attributes`; `region` names become ISO codes; `inn`, `email`, `phone` recognise a returning client. At most 200 attributes, texts of at most 10,000 characters, no NUL"},
                    },
                },
                "RouteResponse": {
                    "type": "object",
                    "properties": {
                        "client": {"type": "string"}, "new_client": {"type": "boolean"}, "matched_by": {"type": ["string", "null"]},
                        "date": {"type": "string"}, "scheme_version": {"type": "integer"},
                        "unused_attributes": {"type": "array", "items": {"type": "string"}, "description": "attributes stored with the item that no column declares (a misspelt field shows here)"},
                        "roles": {"type": "array", "items": {"type": "object", "properties": {
                            "role": {"type": "string"}, "employee": {"type": ["string", "null"]}, "rule": {"type": ["string", "null"]}, "why": {"type": "string"}}}},
                    },
                },
                "Link": {"type": "object", "properties": {
                    "client": {"type": "string"}, "role": {"type": "string"}, "employee": {"type": "string"}, "from": {"type": "string"}, "to": {"type": ["string", "null"]},
                    "cause": {"type": "string", "enum": ["new", "rule", "pin", "cover", "return", "leaver", "absence", "rebalance"]},
                    "rule": {"type": ["string", "null"]}, "scheme_version": {"type": ["integer", "null"]}, "note": {"type": "string"},
                    "opened_by": {"type": "string"}, "opened_at": {"type": "string"}, "closed_by": {"type": ["string", "null"]}, "closed_at": {"type": ["string", "null"]}}},
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/health": {"get": {"summary": "The server and its store answer and take writes", "security": [], "responses": {"200": {"description": "`status`: ok, with the store's revision and whether the router's connection is up"}, "503": {"description": "`status`: unreachable, read_only or schema_newer, with a message"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "OpenMetrics text"}}}},
            "/v1/route": {"post": {
                "summary": "Route a new lead, deal or client: for every role the employee, the rule and why; durable before the answer",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 200}, "description": "a retry with the same key gets the first answer and assigns nothing twice"}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RouteRequest"}}}},
                "responses": {"200": {"description": "routed (or replayed: header Idempotent-Replayed)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RouteResponse"}}}},
                    "400": error_ref(), "401": error_ref(), "403": error_ref(), "409": error_ref(), "413": error_ref(), "422": error_ref(), "503": error_ref()},
            }},
            "/v1/hooks/bitrix24": {"post": {
                "summary": "Bitrix24's outgoing events (issue #18): ONCRMCOMPANYADD and ONCRMLEADADD are read, routed once (a lead as client lead-ID) and their owners written back; other events are taken and passed over",
                "security": [],
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                    "event": {"type": "string"}, "data[FIELDS][ID]": {"type": "string"}, "auth[application_token]": {"type": "string", "description": "the outgoing webhook's application token (ALLOT_BITRIX24_APP_TOKEN)"}}}}}},
                "responses": {"200": {"description": "`taken`, `replayed` and the routing answer"}, "400": error_ref(), "401": error_ref(), "403": error_ref(), "404": error_ref(), "503": error_ref()},
            }},
            "/v1/hooks/amocrm/{key}": {"post": {
                "summary": "amoCRM's web hooks (issue #18): companies[add] and leads[add] are read, routed once and their responsible users written back",
                "security": [],
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the server's key (ALLOT_AMOCRM_HOOK_KEY): amoCRM signs nothing"}],
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "`taken` and each record's routing answer"}, "403": error_ref(), "404": error_ref(), "503": error_ref()},
            }},
            "/v1/clients/{id}/owners": {"get": {"summary": "A client's owners per role on a day", "parameters": [id_param("client"), at_param()],
                "responses": {"200": {"description": "the links valid on the day"}, "401": error_ref(), "403": error_ref(), "404": error_ref()}}},
            "/v1/clients/{id}/history": {"get": {"summary": "Every owner a client ever had, with dates, causes and who made each change", "parameters": [id_param("client")],
                "responses": {"200": {"description": "the links, by role and date"}, "401": error_ref(), "403": error_ref(), "404": error_ref()}}},
            "/v1/clients/{id}/explain": {"get": {"summary": "Why a client's employees are its employees on a day: every rule tried, each test's value (the client's own data and links; one such read at a time)", "parameters": [id_param("client"), at_param()],
                "responses": {"200": {"description": "the explanation as text in `explanation`"}, "401": error_ref(), "403": error_ref(), "404": error_ref()}}},
            "/v1/employees/{id}/book": {"get": {"summary": "An employee's clients on a day", "parameters": [id_param("employee"), at_param()],
                "responses": {"200": {"description": "the employee's links valid on the day"}, "401": error_ref(), "403": error_ref(), "404": error_ref()}}},
            "/v1/pools/{rule}": {"get": {"summary": "A pool's fairness: each member's weight, target share, items, measure received and entitled, and caps' counters", "parameters": [id_param("rule")],
                "responses": {"200": {"description": "the pool's state"}, "401": error_ref(), "403": error_ref(), "404": error_ref()}}},
            "/v1/report": {"get": {"summary": "Contribution (issue #6): per role and employee (or per team, territory, client column) holdings on `to`, credit of the period's sales, realisation; balance per role (admin). Managers and employees get their rows only",
                "parameters": [
                    {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}, "description": "the period's first sale date"},
                    {"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "description": "the period's last sale date and the day holdings are counted; today by default"},
                    {"name": "per", "in": "query", "required": false, "schema": {"type": "string"}, "description": "employee (default), team, territory, or a client column (admin)"},
                    {"name": "currency", "in": "query", "required": false, "schema": {"type": "string"}, "description": "needed when the period's sales have several currencies"}],
                "responses": {"200": {"description": "rows, uncredited sales, and (admin) balance and unassigned credit"}, "401": error_ref(), "403": error_ref(), "422": error_ref()}}},
            "/v1/plan": {"post": {"summary": "Plan the book of a day against the active scheme (admin); writes nothing",
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"date": {"type": "string", "format": "date"}, "rebalance": {"type": "boolean"}}}}}},
                "responses": {"200": {"description": "the plan, as `allot plan -o` writes it, with `plan_id` first: the server keeps it for POST /v1/apply"}, "401": error_ref(), "403": error_ref(), "422": error_ref()}}},
            "/v1/apply": {"post": {"summary": "Apply a plan exactly, all or nothing (admin); refused if the store changed since",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                    {"type": "object", "properties": {"plan": {"type": "string", "description": "the `plan_id` POST /v1/plan gave (however large the plan)"}}, "required": ["plan"], "additionalProperties": false},
                    {"type": "object", "description": "a plan as `allot plan -o` writes it (within the body limit)"}]}}}},
                "responses": {"200": {"description": "applied"}, "401": error_ref(), "403": error_ref(), "409": error_ref(), "422": error_ref()}}},
        },
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `/docs`: every path with its summary, parameters and responses, and the error codes.
pub fn html() -> String {
    let doc = document();
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>allot API</title>\
         <style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         code{background:#f3f3f3;padding:0 .2rem}h2{border-top:1px solid #ddd;padding-top:1rem}td,th{padding:.2rem .6rem;text-align:left}</style></head><body>",
    );
    out.push_str(&format!(
        "<h1>allot API {}</h1><p>{}</p><p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        esc(doc["info"]["version"].as_str().unwrap_or("")),
        esc(doc["info"]["description"].as_str().unwrap_or(""))
    ));
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                out.push_str(&format!(
                    "<h2><code>{} {}</code></h2><p>{}</p>",
                    method.to_uppercase(),
                    esc(path),
                    esc(op["summary"].as_str().unwrap_or(""))
                ));
                if let Some(ps) = op["parameters"].as_array() {
                    out.push_str("<table><tr><th>parameter</th><th>in</th><th>meaning</th></tr>");
                    for p in ps {
                        out.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                            esc(p["name"].as_str().unwrap_or("")),
                            esc(p["in"].as_str().unwrap_or("")),
                            esc(p["description"].as_str().unwrap_or(""))
                        ));
                    }
                    out.push_str("</table>");
                }
                let codes: Vec<String> = op["responses"].as_object().into_iter().flatten().map(|(k, _)| k.clone()).collect();
                out.push_str(&format!("<p>Responses: {}</p>", codes.join(", ")));
            }
        }
    }
    out.push_str("<h2>Error codes</h2><table><tr><th>code</th><th>status</th><th>meaning</th></tr>");
    for c in Code::ALL {
        out.push_str(&format!("<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", c.as_str(), c.status(), esc(c.meaning())));
    }
    out.push_str("</table></body></html>");
    out
}
