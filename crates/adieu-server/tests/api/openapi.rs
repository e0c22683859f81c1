//! `GET /openapi.json` on both listeners: an OpenAPI 3.1 document that describes every JSON
//! route, and nothing else.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// Every JSON route of the public listener, as the other tests of this suite call them. A
/// route added to the router must be added here and to the description.
const PUBLIC: &[&str] = &[
    "GET /healthz",
    "POST /api/register",
    "POST /api/login",
    "GET /api/me",
    "POST /api/logout",
    "POST /api/logout/all",
    "GET /api/sessions",
    "DELETE /api/sessions/{id}",
    "POST /api/token/refresh",
    "POST /api/password",
    "DELETE /api/account",
    "GET /api/activity",
    "GET /authz/auth-request",
    "GET /authz/forward-auth",
    "POST /oauth2/introspect",
    "POST /oauth2/revoke",
    "GET /.well-known/oauth-authorization-server",
];

/// Every route of the admin API.
const ADMIN: &[&str] = &[
    "GET /admin/users",
    "GET /admin/users/{id}",
    "DELETE /admin/users/{id}",
    "POST /admin/users/{id}/logout",
    "POST /admin/users/{id}/disable",
    "POST /admin/users/{id}/enable",
    "DELETE /admin/sessions/{id}",
    "GET /admin/audit",
    "GET /admin/clients",
    "POST /admin/clients",
    "DELETE /admin/clients/{id}",
];

async fn document(client: &reqwest::Client, url: String) -> Value {
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "version {version}");
    doc
}

/// `METHOD /path` of every operation.
fn operations(doc: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                found.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    found
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Every `$ref` in the document names something the document has.
fn assert_refs_resolve(doc: &Value, at: &Value) {
    match at {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.strip_prefix('#').expect("a local reference");
                assert!(doc.pointer(pointer).is_some(), "{target} is missing");
            }
            map.values().for_each(|v| assert_refs_resolve(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(doc, v)),
        _ => {}
    }
}

// The documents do not depend on the backend: one run is enough.
#[tokio::test]
async fn both_listeners_describe_every_json_route_in_openapi_3_1() {
    let app = TestApp::spawn_with(|c| c.admin_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let public = document(&app.client, app.url("/openapi.json")).await;
    assert_eq!(operations(&public), set(PUBLIC));
    assert_refs_resolve(&public, &public);
    let admin_addr = app.admin_addr.expect("an admin listener");
    let admin = document(&app.client, format!("http://{admin_addr}/openapi.json")).await;
    assert_eq!(operations(&admin), set(ADMIN));
    assert_refs_resolve(&admin, &admin);

    // Each document has the schemes its operations name, and the error bodies.
    let schemes = |doc: &Value| -> BTreeSet<String> {
        doc["components"]["securitySchemes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(schemes(&public), set(&["access_token", "client_basic"]));
    assert_eq!(schemes(&admin), set(&["admin_key"]));
    for name in ["ErrorBody", "OAuthError", "Secret"] {
        assert!(public["components"]["schemas"][name].is_object(), "{name}");
    }
    assert_eq!(
        public["components"]["schemas"]["Secret"]["format"],
        "password"
    );
    // A refused token is described with the header the server sends.
    let unauthorized = &public["components"]["responses"]["InvalidToken"];
    assert!(unauthorized["headers"]["WWW-Authenticate"].is_object());
    let me = &public["paths"]["/api/me"]["get"]["responses"];
    assert_eq!(me["401"]["$ref"], "#/components/responses/InvalidToken");
    assert!(me["408"].is_object(), "every route can time out");
    let login = &public["paths"]["/api/login"]["post"]["responses"];
    for status in ["200", "400", "401", "403", "413", "415", "422", "429"] {
        assert!(login[status].is_object(), "login {status}");
    }
    let introspect = &public["paths"]["/oauth2/introspect"]["post"];
    assert!(introspect["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());

    // The web pages are not in it, and the admin API is only on the operators' listener.
    assert!(public["paths"].get("/login").is_none());
    assert!(
        app.client
            .get(format!("http://{admin_addr}/openapi.json"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            != app
                .client
                .get(app.url("/openapi.json"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
    );
}
