//! The pages a person sees: sign-in, consent and errors. The default ones are askama
//! templates (`mcp-axum/templates/oauth/`, HTML auto-escaped); [`Pages`] replaces them.

use askama::Template;

/// What the sign-in page shows and must post back.
#[derive(Debug)]
#[non_exhaustive]
pub struct SignInPage<'a> {
    /// The app's name (the MCP server's title).
    pub server_name: &'a str,
    /// The client's name as it registered (not verified: show it as a claim).
    pub client_name: &'a str,
    /// The host the user will be sent back to.
    pub redirect_host: &'a str,
    /// An error to show (wrong password, too many attempts).
    pub error: Option<&'a str>,
    /// The username typed before, to fill in again.
    pub username: &'a str,
    /// Where the form posts (`POST`, fields `tx`, `csrf`, `username`, `password`).
    pub action: &'a str,
    /// The hidden `tx` field.
    pub tx: &'a str,
    /// The hidden `csrf` field.
    pub csrf: &'a str,
    /// The stylesheet URL of the default pages.
    pub stylesheet: &'a str,
}

/// One scope on the consent page.
#[derive(Debug)]
pub struct ScopeLine<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its description.
    pub description: &'a str,
}

/// What the consent page shows and must post back.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConsentPage<'a> {
    /// The app's name.
    pub server_name: &'a str,
    /// The client's name.
    pub client_name: &'a str,
    /// The host the user will be sent back to.
    pub redirect_host: &'a str,
    /// Who is signed in.
    pub user: &'a str,
    /// The scopes asked for.
    pub scopes: &'a [ScopeLine<'a>],
    /// Where the form posts (`POST`, fields `tx`, `csrf`, `decision=approve|deny`).
    pub action: &'a str,
    /// The hidden `tx` field.
    pub tx: &'a str,
    /// The hidden `csrf` field.
    pub csrf: &'a str,
    /// The stylesheet URL of the default pages.
    pub stylesheet: &'a str,
}

/// An error the user must see (never sent to an unvalidated redirect URI).
#[derive(Debug)]
#[non_exhaustive]
pub struct ErrorPage<'a> {
    /// A short title.
    pub title: &'a str,
    /// What went wrong and what to do.
    pub message: &'a str,
    /// The stylesheet URL of the default pages.
    pub stylesheet: &'a str,
}

/// Renders the pages. Implement it to use your own templates; escape every value (the
/// default templates are askama's, auto-escaped). Pages are served with a
/// `Content-Security-Policy` allowing no script, styles only from this origin, and
/// `frame-ancestors 'none'`, so keep them script-free.
pub trait Pages: Send + Sync + 'static {
    /// The sign-in page.
    fn sign_in(&self, page: &SignInPage<'_>) -> String;
    /// The consent page.
    fn consent(&self, page: &ConsentPage<'_>) -> String;
    /// An error page.
    fn error(&self, page: &ErrorPage<'_>) -> String;
}

/// The built-in pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPages;

#[derive(Template)]
#[template(path = "oauth/sign_in.html")]
struct SignInHtml<'a> {
    p: &'a SignInPage<'a>,
    stylesheet: &'a str,
}

#[derive(Template)]
#[template(path = "oauth/consent.html")]
struct ConsentHtml<'a> {
    p: &'a ConsentPage<'a>,
    stylesheet: &'a str,
}

#[derive(Template)]
#[template(path = "oauth/error.html")]
struct ErrorHtml<'a> {
    p: &'a ErrorPage<'a>,
    stylesheet: &'a str,
}

fn rendered(r: askama::Result<String>) -> String {
    r.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "a page template failed");
        "<!doctype html><title>Error</title><p>The page could not be rendered.</p>".into()
    })
}

impl Pages for DefaultPages {
    fn sign_in(&self, page: &SignInPage<'_>) -> String {
        rendered(SignInHtml { p: page, stylesheet: page.stylesheet }.render())
    }

    fn consent(&self, page: &ConsentPage<'_>) -> String {
        rendered(ConsentHtml { p: page, stylesheet: page.stylesheet }.render())
    }

    fn error(&self, page: &ErrorPage<'_>) -> String {
        rendered(ErrorHtml { p: page, stylesheet: page.stylesheet }.render())
    }
}

/// The stylesheet of the default pages.
pub(super) const STYLESHEET: &str = include_str!("../../../templates/oauth/style.css");
