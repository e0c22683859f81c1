//! Opaque bearer tokens: 256 random bits behind a recognisable prefix; only their SHA-256 is
//! ever stored.

use std::fmt;

use adieu_types::{
    ACCESS_TOKEN_PREFIX, ADMIN_KEY_PREFIX, CLIENT_SECRET_PREFIX, COOKIE_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX, Secret,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in every token.
const TOKEN_BYTES: usize = 32;
/// Length of the base64url body of a token (32 bytes, no padding).
const TOKEN_BODY_LEN: usize = 43;

/// What a token is good for; stored beside its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived bearer token for API calls.
    Access,
    /// Single-use token that buys the next access/refresh pair.
    Refresh,
    /// Browser session cookie.
    Cookie,
}

impl TokenKind {
    /// The prefix that starts every token of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Access => ACCESS_TOKEN_PREFIX,
            Self::Refresh => REFRESH_TOKEN_PREFIX,
            Self::Cookie => COOKIE_TOKEN_PREFIX,
        }
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
            Self::Cookie => "cookie",
        }
    }

    /// Reads a stored name back.
    pub fn from_db(name: &str) -> Option<Self> {
        match name {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            "cookie" => Some(Self::Cookie),
            _ => None,
        }
    }
}

/// SHA-256 of a token: what the database holds instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token string.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Rebuilds a hash read from storage.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw 32 bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality, for comparing a presented hash with a stored one.
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a credential, but a short prefix is all a log ever needs.
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// A freshly minted token: the secret to hand out once, and the hash to store.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token itself, shown to the client exactly once.
    pub secret: Secret,
    /// What storage keeps.
    pub hash: TokenHash,
}

/// Mints a new random token of the given kind.
pub fn issue(kind: TokenKind) -> IssuedToken {
    issue_with_prefix(kind.prefix())
}

/// Mints a new admin API key: a token like the others, under its own prefix, that no
/// session ever holds.
pub fn issue_admin_key() -> IssuedToken {
    issue_with_prefix(ADMIN_KEY_PREFIX)
}

/// Checks the shape of a presented admin key and hashes it.
pub fn parse_admin_key(presented: &str) -> Result<TokenHash, Malformed> {
    parse_with_prefix(ADMIN_KEY_PREFIX, presented)
}

/// Mints a new OAuth client secret.
pub fn issue_client_secret() -> IssuedToken {
    issue_with_prefix(CLIENT_SECRET_PREFIX)
}

/// Checks the shape of a presented client secret and hashes it.
pub fn parse_client_secret(presented: &str) -> Result<TokenHash, Malformed> {
    parse_with_prefix(CLIENT_SECRET_PREFIX, presented)
}

fn issue_with_prefix(prefix: &str) -> IssuedToken {
    let bytes: [u8; TOKEN_BYTES] = crate::random_bytes();
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = TokenHash::of(&token);
    IssuedToken {
        secret: Secret::new(token),
        hash,
    }
}

/// Why a presented token was rejected before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed token")]
pub struct Malformed;

/// Checks the shape of a presented token (prefix, then the canonical base64url of 32 bytes)
/// and hashes it.
///
/// A well-formed token may still be unknown, expired or revoked; only storage knows.
pub fn parse(kind: TokenKind, presented: &str) -> Result<TokenHash, Malformed> {
    parse_with_prefix(kind.prefix(), presented)
}

fn parse_with_prefix(prefix: &str, presented: &str) -> Result<TokenHash, Malformed> {
    let body = presented.strip_prefix(prefix).ok_or(Malformed)?;
    // The decoder refuses a last character whose unused low bits are set, so each token has
    // one spelling only: the one `issue` wrote.
    // Decoded into a buffer on the stack: a token check allocates nothing for it.
    let mut decoded = [0u8; TOKEN_BYTES];
    let well_formed = body.len() == TOKEN_BODY_LEN
        && URL_SAFE_NO_PAD
            .decode_slice(body, &mut decoded)
            .is_ok_and(|len| len == TOKEN_BYTES);
    if !well_formed {
        return Err(Malformed);
    }
    Ok(TokenHash::of(presented))
}

/// The anti-CSRF token of a browser session, derived from its cookie.
///
/// A cross-site page can neither read the cookie nor this value, so nothing needs storing.
pub fn csrf_token(cookie: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(cookie.as_bytes()).expect("HMAC accepts keys of any size");
    mac.update(b"adieu csrf v1");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Checks a submitted anti-CSRF token in constant time.
pub fn csrf_matches(cookie: &str, submitted: &str) -> bool {
    let expected = csrf_token(cookie);
    expected.as_bytes().ct_eq(submitted.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_carry_their_prefix_and_256_random_bits() {
        let a = issue(TokenKind::Access);
        let b = issue(TokenKind::Access);
        assert!(a.secret.expose().starts_with("adieu_at_"));
        assert_ne!(a.secret.expose(), b.secret.expose());
        assert_eq!(a.secret.expose().len(), "adieu_at_".len() + TOKEN_BODY_LEN);
        assert!(
            issue(TokenKind::Refresh)
                .secret
                .expose()
                .starts_with("adieu_rt_")
        );
        assert!(
            issue(TokenKind::Cookie)
                .secret
                .expose()
                .starts_with("adieu_ck_")
        );
    }

    #[test]
    fn admin_keys_are_tokens_of_their_own_that_no_session_parse_accepts() {
        let key = issue_admin_key();
        assert!(key.secret.expose().starts_with("adieu_ak_"));
        assert_eq!(parse_admin_key(key.secret.expose()), Ok(key.hash));
        assert_eq!(
            parse(TokenKind::Access, key.secret.expose()),
            Err(Malformed)
        );
        let access = issue(TokenKind::Access);
        assert_eq!(parse_admin_key(access.secret.expose()), Err(Malformed));
    }

    #[test]
    fn parse_accepts_issued_tokens_and_hashes_them_like_issue() {
        let t = issue(TokenKind::Refresh);
        assert_eq!(parse(TokenKind::Refresh, t.secret.expose()), Ok(t.hash));
    }

    #[test]
    fn parse_refuses_wrong_kind_length_and_alphabet() {
        let t = issue(TokenKind::Access);
        assert_eq!(parse(TokenKind::Refresh, t.secret.expose()), Err(Malformed));
        assert_eq!(parse(TokenKind::Access, "adieu_at_short"), Err(Malformed));
        let bad = format!("adieu_at_{}", "é".repeat(TOKEN_BODY_LEN));
        assert_eq!(parse(TokenKind::Access, &bad), Err(Malformed));
        let spaced = format!("adieu_at_{}", " ".repeat(TOKEN_BODY_LEN));
        assert_eq!(parse(TokenKind::Access, &spaced), Err(Malformed));
    }

    #[test]
    fn a_token_spelled_other_than_issue_spells_it_is_refused() {
        // Found by the `token` fuzz target: the last of 43 characters carries 4 bits of the
        // 32 bytes and 2 unused ones, so `…A` and `…B` decode alike; only `…A` is canonical.
        let canonical = format!("adieu_ck_{}A", "A".repeat(TOKEN_BODY_LEN - 1));
        assert!(parse(TokenKind::Cookie, &canonical).is_ok());
        for last in ['B', 'C', 'D', 'v', '_'] {
            let other = format!("adieu_ck_{}{last}", "A".repeat(TOKEN_BODY_LEN - 1));
            assert_eq!(parse(TokenKind::Cookie, &other), Err(Malformed), "{other}");
        }
        assert_eq!(
            parse(
                TokenKind::Cookie,
                "adieu_ck_eidaBdieu_ck_eidaBu_at_xhortkIoA7nXJDyO7-rv"
            ),
            Err(Malformed)
        );
        for _ in 0..100 {
            let t = issue(TokenKind::Access);
            assert_eq!(parse(TokenKind::Access, t.secret.expose()), Ok(t.hash));
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_cookie() {
        let a = issue(TokenKind::Cookie);
        let b = issue(TokenKind::Cookie);
        let token = csrf_token(a.secret.expose());
        assert!(csrf_matches(a.secret.expose(), &token));
        assert!(!csrf_matches(b.secret.expose(), &token));
        assert!(!csrf_matches(a.secret.expose(), ""));
    }

    #[test]
    fn hash_debug_does_not_print_the_whole_hash() {
        let t = issue(TokenKind::Access);
        let debug = format!("{:?}", t.hash);
        assert!(debug.len() < 30, "{debug}");
        assert!(!format!("{t:?}").contains(t.secret.expose()));
    }
}
