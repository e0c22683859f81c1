//! The JSON request bodies of the API (`adieu-types`), as the server reads them
//! (`adieu_server::fuzzing::read_body`: the `ApiJson` extractor and the logout body).
//!
//! Every input is tried as each request type.
//! - A body read is written back by `serde_json` to JSON that reads back the same.
//! - Only an object is read, and unknown fields are refused: a body read has no member the
//!   type does not name (serde's derive alone would also read an array of the fields).
//! - `Debug` never depends on a secret (passwords, tokens): it is the same with every secret
//!   replaced.
#![no_main]

use std::fmt::Debug;

use adieu_types::{
    Credentials, DeleteAccountRequest, LogoutRequest, NewClientRequest, PasswordChangeRequest,
    RefreshRequest, Secret,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    check::<Credentials>(data, &["username", "password"], |c| Credentials {
        username: c.username.clone(),
        password: other(&c.password),
    });
    check::<LogoutRequest>(data, &["refresh_token"], |r| LogoutRequest {
        refresh_token: r.refresh_token.as_ref().map(other),
    });
    check::<RefreshRequest>(data, &["refresh_token"], |r| RefreshRequest {
        refresh_token: other(&r.refresh_token),
    });
    check::<PasswordChangeRequest>(data, &["current_password", "new_password"], |r| {
        PasswordChangeRequest {
            current_password: other(&r.current_password),
            new_password: other(&r.new_password),
        }
    });
    check::<DeleteAccountRequest>(data, &["password"], |r| DeleteAccountRequest {
        password: other(&r.password),
    });
    check::<NewClientRequest>(data, &["name"], |r| r.clone());
});

/// A secret of another value.
fn other(secret: &Secret) -> Secret {
    Secret::new(format!("{}-other", secret.expose()))
}

fn check<T>(data: &[u8], fields: &[&str], with_other_secrets: impl Fn(&T) -> T)
where
    T: DeserializeOwned + Serialize + Debug,
{
    let Ok(body) = adieu_server::fuzzing::read_body::<T>(data) else {
        return;
    };
    // Whatever was accepted was an object of known members only.
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(members)) => {
            for name in members.keys() {
                assert!(
                    fields.contains(&name.as_str()),
                    "unknown member {name:?} accepted"
                );
            }
        }
        other => panic!("a body read from {other:?}, not an object"),
    }
    let written = serde_json::to_vec(&body).expect("a body serializes");
    let again: T = serde_json::from_slice(&written).expect("what was written reads back");
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&body).unwrap()
    );
    assert_eq!(
        format!("{body:?}"),
        format!("{:?}", with_other_secrets(&body)),
        "Debug shows a secret"
    );
}
