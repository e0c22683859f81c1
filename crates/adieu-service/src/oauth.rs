//! What the OAuth endpoints for resource servers ask of the service: confidential clients
//! (created on the admin API), RFC 7662 introspection and RFC 7009 revocation.
//!
//! Introspection is the same coherent check as `/api/me` ([`Sessions::live_token`]): once a
//! logout has answered, every node says the token is inactive. Nothing here may be cached by
//! the caller either; the server marks every answer `no-store`.

use std::sync::Arc;

use adieu_core::{TokenKind, token};
use adieu_store::{OAuthClient, TokenRecord};
use adieu_types::{ACCESS_TOKEN_PREFIX, COOKIE_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, Secret};

use crate::client::rate_limit_key;
use crate::{Admin, ClientInfo, Error, Result, Sessions};

/// Longest client name.
pub const MAX_CLIENT_NAME: usize = 100;

/// A client just created, with the secret shown this once.
#[derive(Debug)]
pub struct NewClient {
    /// The client.
    pub client: OAuthClient,
    /// Its secret.
    pub secret: Secret,
}

impl Sessions {
    /// Creates a confidential client; only the hash of its secret is stored.
    pub async fn create_client(&self, admin: &Admin, name: &str) -> Result<NewClient> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_CLIENT_NAME
            || name.chars().any(char::is_control)
        {
            return Err(Error::InvalidInput(format!(
                "the name must be 1 to {MAX_CLIENT_NAME} printable characters"
            )));
        }
        let secret = token::issue_client_secret();
        let client = OAuthClient {
            id: adieu_core::new_id(),
            name: name.to_owned(),
            created_at: self.now(),
        };
        self.storage
            .store()
            .create_client(&client, &secret.hash, &admin.audit())
            .await?;
        tracing::info!(client.id = %client.id, admin = %admin.key_name, "client created");
        Ok(NewClient {
            client,
            secret: secret.secret,
        })
    }

    /// Every client.
    pub async fn clients(&self) -> Result<Vec<OAuthClient>> {
        Ok(self.storage.store().clients().await?)
    }

    /// Deletes a client; its next request is refused on every node once this returns.
    pub async fn delete_client(&self, admin: &Admin, client_id: &str) -> Result<()> {
        let deleted = self
            .storage
            .delete_client(client_id, self.now(), &admin.audit())
            .await?;
        if !deleted {
            return Err(Error::NotFound);
        }
        tracing::info!(client.id = %client_id, admin = %admin.key_name, "client deleted");
        Ok(())
    }

    /// Checks a client's credentials; answers `InvalidClient`, or `RateLimited` once one IP
    /// has failed too often. The secret's hash is compared in constant time. `caller` is
    /// asked who is calling only when a failure has to be counted: resource servers
    /// introspect on every request they serve, and the right credentials need no address.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        caller: impl FnOnce() -> ClientInfo,
    ) -> Result<()> {
        let presented = token::parse_client_secret(secret).ok();
        let stored = match presented {
            // An id of absurd length is no id: do not even look it up.
            Some(_) if client_id.len() <= 64 => self.storage.client_secret(client_id).await?,
            _ => None,
        };
        if let (Some(presented), Some(stored)) = (presented, stored) {
            if presented.ct_eq(&stored) {
                return Ok(());
            }
        }
        let ip = caller()
            .ip
            .as_deref()
            .map(rate_limit_key)
            .unwrap_or_default();
        self.client_failures
            .check(&ip)
            .map_err(|retry_after| Error::RateLimited { retry_after })?;
        Err(Error::InvalidClient)
    }

    /// RFC 7662: the live access or refresh token's record, or `None` for anything else
    /// (revoked, expired, spent, unknown, malformed, another kind). The hint is only a hint:
    /// the token's prefix says what it is.
    pub async fn introspect(&self, presented: &str) -> Result<Option<Arc<TokenRecord>>> {
        let kind = if presented.starts_with(ACCESS_TOKEN_PREFIX) {
            TokenKind::Access
        } else if presented.starts_with(REFRESH_TOKEN_PREFIX) {
            TokenKind::Refresh
        } else {
            return Ok(None);
        };
        match self.live_token(kind, presented).await {
            Ok(record) => Ok(Some(record)),
            Err(Error::InvalidToken) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// RFC 7009: ends the session of any token of it (access, refresh or cookie); unknown
    /// and malformed tokens succeed silently. Returns once no node accepts the session.
    pub async fn revoke_token(&self, presented: &str, caller: &ClientInfo) -> Result<()> {
        let kind = [
            (ACCESS_TOKEN_PREFIX, TokenKind::Access),
            (REFRESH_TOKEN_PREFIX, TokenKind::Refresh),
            (COOKIE_TOKEN_PREFIX, TokenKind::Cookie),
        ]
        .into_iter()
        .find_map(|(prefix, kind)| presented.starts_with(prefix).then_some(kind));
        let Some(kind) = kind else {
            return Ok(());
        };
        match self.logout(kind, presented, caller).await {
            Ok(()) | Err(Error::InvalidToken) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
