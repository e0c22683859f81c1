//! The "Log out" button of an app, done with the Adieu SDK.
//!
//! The pattern apps usually copy is:
//!
//! ```text
//! response = http.post('https://example.com/api/logout')
//! if (response.statusCode == 200) { clear local data } else { show error }
//! ```
//!
//! It keeps the user logged in on the device whenever the network fails. It lets a refresh that
//! is in flight write fresh tokens after the logout. And when the call fails, nothing ends the
//! session on the server. Here the SDK wipes the device first, fences off any refresh in
//! flight, and then tells the server. If the server cannot be told, the SDK keeps the
//! revocation pending and retries it later. The app only has to say truthfully what happened.
//!
//! Run it against a server (`adieu serve`) with an account (`adieu register`):
//!
//! ```sh
//! echo 'correct horse battery' | cargo run --example handle_logout -- http://127.0.0.1:8080 alice
//! ```

use std::io::BufRead;

use adieu_client::{Client, FileStore, LogoutOutcome, Secret};

/// What the app shows after the button was pressed.
enum Screen {
    /// Back to the login screen; the user is logged out and the server agrees.
    Login,
    /// Back to the login screen, with a notice that the server may not know yet.
    LoginWithNotice(String),
}

/// The handler of the "Log out" button.
///
/// Before: `if status == 200 { clear } else { show error }`, so a failed call left the user
/// logged in. After: the device is always clean when this returns, and the result says what
/// the server knows.
async fn on_logout_pressed(client: &Client) -> Screen {
    match client.logout().await {
        Ok(LogoutOutcome::Revoked | LogoutOutcome::AlreadyEnded | LogoutOutcome::NotLoggedIn) => {
            Screen::Login
        }
        Ok(LogoutOutcome::LocalOnly { reason, .. }) => Screen::LoginWithNotice(format!(
            "You are logged out on this device, but {reason}. Your session may still be active \
             on the server; we will end it as soon as we can reach it."
        )),
        // Only the credential store can fail here (say, a full disk). The server was still
        // asked to end the session; tell the user that this device may keep a stale copy.
        Err(e) => Screen::LoginWithNotice(format!(
            "Logged out, but this device could not erase its stored credentials ({e})."
        )),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let username = args.next().unwrap_or_else(|| "alice".into());
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = Secret::new(line.trim_end_matches(['\r', '\n']));

    // At app start. Building the client also retries any revocation left pending by an earlier
    // logout. A real app would use `FileStore::in_config_dir()` or the `KeyringStore`.
    let store = FileStore::in_dir(std::env::temp_dir().join("adieu-handle-logout-example"));
    let client = Client::builder(server).store(store).build().await?;

    client.login(&username, &password).await?;
    println!("Logged in as {}.", client.me().await?.username);

    match on_logout_pressed(&client).await {
        Screen::Login => println!("Logged out."),
        Screen::LoginWithNotice(notice) => println!("{notice}"),
    }
    Ok(())
}
