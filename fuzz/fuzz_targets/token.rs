//! Token parsing (`adieu_core::token`): access, refresh and cookie tokens, admin keys and
//! client secrets.
//!
//! - A presented string is accepted by at most one kind, only with that kind's prefix, and
//!   its hash is the SHA-256 of the string as presented.
//! - An accepted token re-encodes to the same string: its body is the canonical base64url of
//!   32 bytes, so there is exactly one spelling of each token.
//! - Any 32 bytes, encoded as `issue` encodes them, are accepted by their kind alone.
//! - The anti-CSRF token of a cookie matches exactly itself.
#![no_main]

use adieu_core::TokenKind;
use adieu_core::token::{self, TokenHash};
use adieu_types::{ADMIN_KEY_PREFIX, CLIENT_SECRET_PREFIX};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

type Parser = fn(&str) -> Result<TokenHash, token::Malformed>;

const PARSERS: [(&str, Parser); 5] = [
    ("adieu_at_", |t| token::parse(TokenKind::Access, t)),
    ("adieu_rt_", |t| token::parse(TokenKind::Refresh, t)),
    ("adieu_ck_", |t| token::parse(TokenKind::Cookie, t)),
    (ADMIN_KEY_PREFIX, token::parse_admin_key),
    (CLIENT_SECRET_PREFIX, token::parse_client_secret),
];

fuzz_target!(|data: &[u8]| {
    if let Ok(presented) = std::str::from_utf8(data) {
        check_presented(presented);
        let csrf = token::csrf_token(presented);
        assert!(token::csrf_matches(presented, &csrf));
        // Any other submission fails, a cut or a longer one included.
        assert!(!token::csrf_matches(presented, &csrf[1..]));
        assert!(!token::csrf_matches(presented, &format!("{csrf}A")));
        assert_eq!(token::csrf_matches(presented, presented), csrf == presented);
    }
    // The structured direction: 32 bytes made into a token of each kind.
    let mut bytes = [0u8; 32];
    let n = data.len().min(32);
    bytes[..n].copy_from_slice(&data[..n]);
    let body = URL_SAFE_NO_PAD.encode(bytes);
    for (i, (prefix, parse)) in PARSERS.iter().enumerate() {
        let minted = format!("{prefix}{body}");
        assert_eq!(parse(&minted), Ok(TokenHash::of(&minted)), "{minted}");
        for (j, (_, other)) in PARSERS.iter().enumerate() {
            if i != j {
                assert!(other(&minted).is_err(), "{minted} accepted as another kind");
            }
        }
    }
});

fn check_presented(presented: &str) {
    let mut accepted_by = 0;
    for (prefix, parse) in PARSERS {
        let Ok(hash) = parse(presented) else {
            continue;
        };
        accepted_by += 1;
        assert_eq!(hash, TokenHash::of(presented));
        let body = presented
            .strip_prefix(prefix)
            .expect("an accepted token carries its kind's prefix");
        let decoded = URL_SAFE_NO_PAD
            .decode(body)
            .unwrap_or_else(|e| panic!("accepted {presented:?} whose body is not base64url: {e}"));
        assert_eq!(decoded.len(), 32, "{presented:?}");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&decoded),
            body,
            "accepted {presented:?}, which does not re-encode to itself"
        );
    }
    assert!(
        accepted_by <= 1,
        "{presented:?} accepted by {accepted_by} kinds"
    );
}
