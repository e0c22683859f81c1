//! The page shell shared by every page: head, embedded style, header with the logout button,
//! and the back/forward-cache guard of signed-in pages.

use crate::config::Config;
use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

/// The whole style sheet, embedded: the pages load nothing from anywhere.
const STYLE: &str = include_str!("style.css");

/// Keeps a signed-in page from ever showing again out of the back/forward cache.
///
/// Chromium keeps even `no-store` pages in that cache, and a session ended on another device
/// does not evict them. So the page empties itself when it is put in the cache, and asks the
/// server again when it is taken out: the server answers with the page or with a redirect to
/// `/login`.
const BFCACHE_GUARD: &str = "addEventListener('pagehide',function(e){if(e.persisted){document.body.replaceChildren()}});addEventListener('pageshow',function(e){if(e.persisted){location.reload()}});";

/// `Content-Security-Policy` of every page: nothing external, and only our own inline style
/// and script, pinned by hash. Forms post to this origin only; `form-action` also governs
/// where a form's answer may redirect, so with `--cookie-domain` (forward auth) the domain,
/// its subdomains and `--redirect-hosts` are allowed too, for the return to the app.
pub(crate) fn content_security_policy(config: &Config) -> HeaderValue {
    let mut form_action = String::from("'self'");
    if let Some(domain) = &config.cookie_domain {
        form_action.push_str(&format!(" {domain}:* *.{domain}:*"));
    }
    for host in &config.redirect_hosts {
        form_action.push_str(&format!(" {host}:*"));
    }
    let policy = format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
        sha256_source(STYLE),
        sha256_source(BFCACHE_GUARD),
    );
    // Domains and hosts come validated from the configuration; refuse to serve a policy
    // that would not parse rather than serve none.
    HeaderValue::from_str(&policy).expect("the policy is a valid header value")
}

fn sha256_source(text: &str) -> String {
    format!(
        "sha256-{}",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// What the header shows to a signed-in user.
pub(crate) struct Nav<'a> {
    /// Who is signed in.
    pub(crate) username: &'a str,
    /// Synchronizer token for the header's logout form.
    pub(crate) csrf: &'a str,
    /// Which entry of the navigation is the current page.
    pub(crate) current: Current,
}

/// Pages reachable from the header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    /// `/`.
    Home,
    /// `/account`.
    Account,
    /// `/activity`.
    Activity,
    /// Any other page.
    Other,
}

/// A complete HTML document. `nav` is given for signed-in pages only, and brings the logout
/// button and the back/forward-cache guard with it.
pub(crate) fn page(title: &str, nav: Option<&Nav<'_>>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                meta name="color-scheme" content="light dark";
                title { (title) " · Adieu" }
                // An empty icon, so the browser asks for no /favicon.ico.
                link rel="icon" href="data:,";
                style { (PreEscaped(STYLE)) }
                @if nav.is_some() {
                    script { (PreEscaped(BFCACHE_GUARD)) }
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    div.topbar-inner {
                        a.brand href="/" { (logo()) span { "Adieu" } }
                        @if let Some(nav) = nav {
                            nav.menu aria-label="Main" {
                                a href="/" aria-current=[(nav.current == Current::Home).then_some("page")] { "Sessions" }
                                a href="/activity" aria-current=[(nav.current == Current::Activity).then_some("page")] { "Activity" }
                                a href="/account" aria-current=[(nav.current == Current::Account).then_some("page")] { "Account" }
                            }
                            div.whoami {
                                span.signed-in { "Signed in as " strong { (nav.username) } }
                                (logout_form(nav.csrf, "Log out", "button"))
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (content) }
                footer.footer { "Adieu · sessions that end when you say so" }
            }
        }
    }
}

/// The `POST /logout` form, usable anywhere on a signed-in page.
pub(crate) fn logout_form(csrf: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action="/logout" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" class=(class) { (label) }
        }
    }
}

/// The `POST /logout/all` form.
pub(crate) fn logout_all_form(csrf: &str) -> Markup {
    html! {
        form.inline method="post" action="/logout/all" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" class="button danger" { "Log out of all devices" }
        }
    }
}

/// A message box; `role=status` for good news, `role=alert` for problems.
pub(crate) fn notice(kind: NoticeKind, text: &str) -> Markup {
    let (class, role) = match kind {
        NoticeKind::Success => ("notice success", "status"),
        NoticeKind::Error => ("notice error", "alert"),
    };
    html! { p class=(class) role=(role) { (text) } }
}

/// Tone of a [`notice`].
#[derive(Clone, Copy)]
pub(crate) enum NoticeKind {
    /// Something went as asked.
    Success,
    /// Something went wrong.
    Error,
}

fn logo() -> Markup {
    html! {
        svg.logo viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false" {
            rect x="1" y="1" width="30" height="30" rx="8" class="logo-bg" {}
            path d="M13 9h-3a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h3" class="logo-line" {}
            path d="M17 11l5 5-5 5M22 16H12" class="logo-line" {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_embedded_style_and_guard() {
        let csp = content_security_policy(&Config::default());
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("form-action 'self';"), "{csp}");
        assert!(csp.contains(&format!("script-src '{}'", sha256_source(BFCACHE_GUARD))));
        assert!(csp.contains(&format!("style-src '{}'", sha256_source(STYLE))));
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn with_a_cookie_domain_forms_may_return_to_its_hosts() {
        let config = Config {
            cookie_domain: Some("example.com".into()),
            redirect_hosts: vec!["partner.example.org".into()],
            ..Config::default()
        };
        let csp = content_security_policy(&config);
        assert!(
            csp.to_str().unwrap().contains(
                "form-action 'self' example.com:* *.example.com:* partner.example.org:*;"
            ),
            "{csp:?}"
        );
    }

    #[test]
    fn only_signed_in_pages_carry_the_guard_and_the_logout_button() {
        let nav = Nav {
            username: "alice",
            csrf: "tok",
            current: Current::Home,
        };
        let private = page("Home", Some(&nav), html! { p { "x" } }).into_string();
        assert!(private.contains(BFCACHE_GUARD));
        assert!(private.contains(r#"action="/logout""#));
        assert!(private.contains(r#"name="csrf" value="tok""#));
        let public = page("Sign in", None, html! { p { "x" } }).into_string();
        assert!(!public.contains(BFCACHE_GUARD));
        assert!(!public.contains(r#"action="/logout""#));
    }
}
