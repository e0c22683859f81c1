//! The OpenAPI 3.1 descriptions at `GET /openapi.json`: one of the public listener's JSON
//! routes, one of the operators' listener's admin API.
//!
//! Both are derived from the handlers' `#[utoipa::path]` attributes and the body types of
//! `adieu-types`, so a route or a field cannot change without its description. The answers
//! that many routes share (a refused token, a body that is not JSON, a rate limit) are
//! components here, written once, with the headers the error mapping in `error.rs` and
//! `oauth.rs` really sends.

use std::sync::LazyLock;

use adieu_types::{ErrorBody, OAuthError};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::AppState;

/// `GET /openapi.json` of the public listener.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { serve(&PUBLIC_JSON) }))
}

/// `GET /openapi.json` of the operators' listener.
pub(crate) fn admin_router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { serve(&ADMIN_JSON) }))
}

static PUBLIC_JSON: LazyLock<String> = LazyLock::new(|| to_json(&public()));
static ADMIN_JSON: LazyLock<String> = LazyLock::new(|| to_json(&admin()));

fn to_json(document: &Document) -> String {
    // Serializing a document of plain maps and strings cannot fail.
    serde_json::to_string(document).unwrap_or_default()
}

fn serve(json: &'static str) -> Response {
    let mut response = json.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The public listener's description.
pub fn public() -> Document {
    PublicApi::openapi()
}

/// The operators' listener's description: the admin API.
pub fn admin() -> Document {
    AdminApi::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Adieu",
        description = "Sessions whose logout takes effect at once, everywhere. Every answer \
            is `Cache-Control: no-store`; an error is `{\"error\": code, \"message\": text}` \
            (the OAuth endpoints answer RFC 6749's `{\"error\", \"error_description\"}`). \
            A known path asked with a method it does not take answers 405 \
            `method_not_allowed`; an unknown path 404 `not_found`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::healthz,
        crate::api::register,
        crate::api::login,
        crate::api::me,
        crate::api::logout,
        crate::api::logout_all,
        crate::api::sessions,
        crate::api::revoke_session,
        crate::api::refresh,
        crate::api::change_password,
        crate::api::delete_account,
        crate::api::activity,
        crate::authz::auth_request,
        crate::authz::forward_auth,
        crate::oauth::introspect,
        crate::oauth::revoke,
        crate::oauth::metadata,
    ),
    components(
        schemas(ErrorBody, OAuthError),
        responses(
            BadRequest,
            PayloadTooLarge,
            UnsupportedMediaType,
            UnprocessableBody,
            InvalidToken,
            RateLimited,
            NotFound,
            OAuthBadRequest,
            OAuthInvalidClient,
            OAuthPayloadTooLarge,
            OAuthRateLimited,
        ),
    ),
    modifiers(&PublicSecurity, &EveryOperation),
    tags(
        (name = "account", description = "Registration, login and the caller's account"),
        (name = "sessions", description = "Logout, refresh and the caller's sessions"),
        (name = "forward auth", description = "Asked by reverse proxies before each request \
            to an app they protect"),
        (name = "oauth", description = "For resource servers: RFC 7662 introspection, \
            RFC 7009 revocation, RFC 8414 metadata"),
        (name = "health", description = "Readiness"),
    ),
)]
struct PublicApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Adieu admin API",
        description = "On the operators' listener only (`--admin-listen`). Every call \
            carries an admin key made by `adieu admin keys create`; every action is in the \
            audit log under the key's name. Failed key checks are rate-limited per IP (429).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::admin::list_users,
        crate::admin::show_user,
        crate::admin::delete_user,
        crate::admin::logout_user,
        crate::admin::disable_user,
        crate::admin::enable_user,
        crate::admin::revoke_session,
        crate::admin::audit,
        crate::admin::list_clients,
        crate::admin::create_client,
        crate::admin::delete_client,
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            PayloadTooLarge,
            UnsupportedMediaType,
            UnprocessableBody,
            InvalidToken,
            RateLimited,
            NotFound,
        ),
    ),
    modifiers(&AdminSecurity, &EveryOperation),
    tags(
        (name = "users", description = "Accounts and their sessions"),
        (name = "audit", description = "The audit log"),
        (name = "clients", description = "OAuth clients (resource servers)"),
    ),
)]
struct AdminApi;

/// The name of the access-token scheme in `security(...)`.
pub(crate) const ACCESS_TOKEN: &str = "access_token";

struct PublicSecurity;

impl Modify for PublicSecurity {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ACCESS_TOKEN,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("adieu_at_…")
                    .description(Some(
                        "An access token from `POST /api/login` or `POST /api/token/refresh`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An OAuth client (`client_secret_basic`): its id and secret from \
                         `POST /admin/clients`, each form-urlencoded.",
                    ))
                    .build(),
            ),
        );
    }
}

struct AdminSecurity;

impl Modify for AdminSecurity {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("adieu_ak_…")
                    .description(Some("An admin key from `adieu admin keys create`."))
                    .build(),
            ),
        );
    }
}

/// What the layers around every route may answer: 408 when the request timeout passes (the
/// timeout layer's answer has no body).
struct EveryOperation;

impl Modify for EveryOperation {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                operation.responses.responses.insert(
                    "408".into(),
                    RefOr::T(
                        ResponseBuilder::new()
                            .description("The request took longer than the request timeout.")
                            .build(),
                    ),
                );
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn header_schema(description: &str, schema: Object) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(schema)
        .description(Some(description))
        .build()
}

fn string() -> Object {
    ObjectBuilder::new().schema_type(Type::String).build()
}

/// A JSON answer with a body of `T` and an example.
fn json_body<T: ToSchema>(example: serde_json::Value) -> Content {
    Content::builder()
        .schema(Some(Ref::from_schema_name(T::name())))
        .example(Some(example))
        .build()
}

/// A `components.responses` entry whose body is an [`ErrorBody`] or an [`OAuthError`].
macro_rules! error_response {
    ($(#[$doc:meta])* $name:ident, $body:ty, $description:literal, $example:expr,
     |$builder:ident| $headers:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                let $builder = ResponseBuilder::new()
                    .description($description)
                    .content("application/json", json_body::<$body>($example));
                (stringify!($name), RefOr::T($headers.build()))
            }
        }
    };
}

error_response!(
    /// 400: the body is not JSON, or a value in it or in the query is refused.
    BadRequest,
    ErrorBody,
    "The body is not valid JSON, or a value is refused (the message says which).",
    json!({"error": "invalid_request", "message": "the body is not valid JSON"}),
    |b| b
);

error_response!(
    /// 413: past the body limit (64 KiB by default).
    PayloadTooLarge,
    ErrorBody,
    "The body is larger than the server's limit.",
    json!({"error": "invalid_request", "message": "request body is too large"}),
    |b| b
);

error_response!(
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType,
    ErrorBody,
    "The body is not sent as `Content-Type: application/json`.",
    json!({"error": "invalid_request",
           "message": "expected a JSON body with Content-Type: application/json"}),
    |b| b
);

error_response!(
    /// 422: JSON, but not the documented object.
    UnprocessableBody,
    ErrorBody,
    "The body is JSON but not an object with exactly the documented fields.",
    json!({"error": "invalid_request", "message": crate::extract::BODY_SHAPE}),
    |b| b
);

error_response!(
    /// 401 `invalid_token`, with RFC 6750's `WWW-Authenticate`.
    InvalidToken,
    ErrorBody,
    "The credential is missing, malformed, unknown, expired or revoked.",
    json!({"error": "invalid_token",
           "message": "the access token is missing, invalid, expired or revoked"}),
    |b| b.header(
        "WWW-Authenticate",
        header_schema(
            "`Bearer error=\"invalid_token\"` when a credential was presented, \
             `Bearer` when none was.",
            string()
        )
    )
);

error_response!(
    /// 429 with `Retry-After`.
    RateLimited,
    ErrorBody,
    "Too many attempts from this client or for this name, or too many password hashes \
     waiting: retry after the seconds `Retry-After` says.",
    json!({"error": "rate_limited", "message": "too many requests; retry later"}),
    |b| b.header("Retry-After", retry_after())
);

error_response!(
    /// 404 `not_found`.
    NotFound,
    ErrorBody,
    "Nothing of that id (for this caller).",
    json!({"error": "not_found", "message": "not found"}),
    |b| b
);

error_response!(
    /// 400 of the OAuth endpoints.
    OAuthBadRequest,
    OAuthError,
    "Not a form (`application/x-www-form-urlencoded`), a parameter repeated, `token` \
     missing, or two client authentication methods at once.",
    json!({"error": "invalid_request", "error_description": "the token parameter is missing"}),
    |b| b
);

error_response!(
    /// 401 of the OAuth endpoints.
    OAuthInvalidClient,
    OAuthError,
    "The client's credentials are missing (introspection), unknown or wrong.",
    json!({"error": "invalid_client", "error_description": "client authentication failed"}),
    |b| b.header(
        "WWW-Authenticate",
        header_schema("`Basic realm=\"adieu\"`", string())
    )
);

error_response!(
    /// 413 of the OAuth endpoints.
    OAuthPayloadTooLarge,
    OAuthError,
    "The body is larger than the server's limit.",
    json!({"error": "invalid_request", "error_description": "request body is too large"}),
    |b| b
);

error_response!(
    /// 429 of the OAuth endpoints.
    OAuthRateLimited,
    OAuthError,
    "Too many failed client authentications from this IP.",
    json!({"error": "temporarily_unavailable",
           "error_description": "too many failed attempts; retry later"}),
    |b| b.header("Retry-After", retry_after())
);

fn retry_after() -> utoipa::openapi::header::Header {
    // Every 429 carries it: `error.rs` and `oauth.rs` insert it with the status.
    header_schema(
        "Seconds to wait before trying again; always sent.",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(path, methods)` of every `.route(…)` call in a router's source, for the routes'
    /// `get(…)`, `post(…)`, `delete(…)` and `any(…)` (which is documented as GET).
    fn routes_in(source: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for call in source.split(".route(\"").skip(1) {
            let (path, rest) = call.split_once('"').expect("a quoted path");
            let handlers = &rest[..rest.find("))").map_or(rest.len(), |i| i + 1)];
            for (name, method) in [
                ("get(", "GET"),
                ("post(", "POST"),
                ("delete(", "DELETE"),
                ("any(", "GET"),
            ] {
                if handlers.contains(name) {
                    found.insert(format!("{method} {path}"));
                }
            }
        }
        found
    }

    fn documented(document: &Document) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
            ] {
                if operation.is_some() {
                    found.insert(format!("{method} {path}"));
                }
            }
        }
        found
    }

    #[test]
    fn every_route_of_the_json_routers_is_documented() {
        let mut public = BTreeSet::new();
        for source in [
            include_str!("api.rs"),
            include_str!("authz.rs"),
            include_str!("oauth.rs"),
            include_str!("openapi.rs"),
        ] {
            public.extend(routes_in(source));
        }
        // `app()` itself: /healthz. The operators' /status and /metrics are not the admin
        // API and are not described; the pages are HTML.
        public.insert("GET /healthz".into());
        public.remove("GET /openapi.json");
        assert!(public.len() > 10, "{public:?}");
        assert_eq!(documented(&super::public()), public);
        assert_eq!(
            documented(&super::admin()),
            routes_in(include_str!("admin.rs"))
        );
    }
}
