//! How the server's answers are read: [`read_json`] for the account calls, and [`Client::post`]
//! for the calls whose answer decides what becomes of a token.
//!
//! For those, only the server's own answers count. A proxy, a gateway or a web app's fallback
//! page can answer 200 or 401 too, and then nothing is proven about the session: such an answer
//! is [`Answer::Other`], never [`Answer::Ok`] or [`Answer::InvalidToken`].

use adieu_types::{ErrorBody, ErrorCode, LogoutAllResponse, LogoutResponse, TokenResponse};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::outcome::LocalOnlyReason;
use crate::url_policy::endpoint_at;
use crate::{Client, Error, Result};

/// What the server said to a [`Client::post`].
pub(crate) enum Answer<T> {
    /// The server's own 200, with the body we expect.
    Ok(T),
    /// The server's own 401 refusing the token: `"error": "invalid_token"`.
    InvalidToken,
    /// Anything else.
    Other(Failure),
}

/// Why an [`Answer`] is [`Answer::Other`].
pub(crate) enum Failure {
    /// The URL could not be made.
    InvalidUrl(Error),
    /// No answer, or one broken off: the connection failed or timed out.
    Transport(reqwest::Error),
    /// A 200 or 401 whose body is not the server's; when our JSON did not decode, why.
    Foreign(StatusCode, Option<reqwest::Error>),
    /// Any other status, with the response unread (for its error body).
    Status(Response),
}

impl Failure {
    /// Why a revocation (or a refresh made for one) did not get through.
    pub(crate) fn reason(&self) -> LocalOnlyReason {
        match self {
            Self::InvalidUrl(_) => LocalOnlyReason::InvalidServerUrl,
            Self::Transport(e) => transport_reason(e),
            Self::Foreign(status, _) => status_reason(*status),
            Self::Status(response) => status_reason(response.status()),
        }
    }

    /// The error to give a caller.
    pub(crate) async fn into_error(self) -> Error {
        match self {
            Self::InvalidUrl(e) => e,
            // A body that did not decode is `Error::Decode`.
            Self::Transport(e) | Self::Foreign(_, Some(e)) => Error::transport(e),
            Self::Foreign(status, None) => Error::UnexpectedStatus {
                status: status.as_u16(),
            },
            Self::Status(response) => api_error(response).await,
        }
    }
}

/// A body that the server sends with a 200.
pub(crate) trait ServerBody: DeserializeOwned {
    /// Whether the body is the server's, beyond having the right shape.
    fn is_genuine(&self) -> bool {
        true
    }
}

/// The `status` of the server's answer to a logout.
const LOGGED_OUT: &str = "logged_out";

impl ServerBody for TokenResponse {}

impl ServerBody for LogoutResponse {
    fn is_genuine(&self) -> bool {
        self.status == LOGGED_OUT
    }
}

impl ServerBody for LogoutAllResponse {
    fn is_genuine(&self) -> bool {
        self.status == LOGGED_OUT
    }
}

impl Client {
    /// `POST`s to `path` at `server` (the server that issued the token the request carries),
    /// with what `build` adds to the request, and sorts the answer.
    pub(crate) async fn post<T: ServerBody>(
        &self,
        server: &str,
        path: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Answer<T> {
        let url = match endpoint_at(server, path) {
            Ok(url) => url,
            Err(e) => return Answer::Other(Failure::InvalidUrl(e)),
        };
        let response = match build(self.http().post(url)).send().await {
            Ok(response) => response,
            Err(e) => return Answer::Other(Failure::Transport(e)),
        };
        match response.status() {
            status @ StatusCode::OK => match response.json::<T>().await {
                Ok(body) if body.is_genuine() => Answer::Ok(body),
                Ok(_) => Answer::Other(Failure::Foreign(status, None)),
                Err(e) if e.is_decode() => Answer::Other(Failure::Foreign(status, Some(e))),
                Err(e) => Answer::Other(Failure::Transport(e)),
            },
            status @ StatusCode::UNAUTHORIZED => {
                if is_invalid_token(response).await {
                    Answer::InvalidToken
                } else {
                    Answer::Other(Failure::Foreign(status, None))
                }
            }
            _ => Answer::Other(Failure::Status(response)),
        }
    }
}

fn transport_reason(e: &reqwest::Error) -> LocalOnlyReason {
    if e.is_timeout() {
        LocalOnlyReason::Timeout
    } else {
        LocalOnlyReason::Network
    }
}

fn status_reason(status: StatusCode) -> LocalOnlyReason {
    if status.is_server_error() {
        LocalOnlyReason::ServerError(status.as_u16())
    } else {
        LocalOnlyReason::UnexpectedStatus(status.as_u16())
    }
}

/// Whether a 401 is the server refusing the token (`"error": "invalid_token"`), rather than,
/// say, a gateway in front of it asking for its own credentials.
async fn is_invalid_token(response: Response) -> bool {
    #[derive(serde::Deserialize)]
    struct Code {
        error: ErrorCode,
    }
    response
        .json::<Code>()
        .await
        .is_ok_and(|body| body.error == ErrorCode::InvalidToken)
}

/// Reads the JSON of a 2xx answer, or the error of any other.
pub(crate) async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T> {
    if response.status().is_success() {
        response.json().await.map_err(Error::transport)
    } else {
        Err(api_error(response).await)
    }
}

/// The error for an answer that is not a success: the server's error body, if it sent one.
pub(crate) async fn api_error(response: Response) -> Error {
    let status = response.status().as_u16();
    let retry_after = retry_after(&response);
    match response.json::<ErrorBody>().await {
        Ok(body) => Error::Api {
            status,
            code: body.error,
            message: body.message,
            retry_after,
        },
        Err(_) => Error::UnexpectedStatus { status },
    }
}

/// `Retry-After` in delta-seconds, the form the server sends; an HTTP date is ignored.
fn retry_after(response: &Response) -> Option<std::time::Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(std::time::Duration::from_secs)
}
