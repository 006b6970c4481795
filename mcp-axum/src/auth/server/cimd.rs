//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client
//! whose `client_id` is an https URL is described by the JSON document at that URL.
//!
//! Fetching a URL a stranger chose is a server-side request forgery risk, so the fetch is
//! fenced in:
//! - https only, with a path, no user info, fragment or dot segments;
//! - every address the host resolves to must be public: loopback, private (RFC 1918, unique
//!   local), link-local (which holds cloud metadata at 169.254.169.254), shared, reserved,
//!   multicast and unspecified addresses are refused, for names through the resolver the
//!   client uses (so the checked address is the one connected to) and for IP literals before
//!   any connection;
//! - at most 3 redirects, each checked by the same rules;
//! - 3 s to connect, 5 s in all, at most [`MAX_DOCUMENT`] bytes read;
//! - documents are cached (their `Cache-Control: max-age`, clamped to 1 min – 1 day; 5 min
//!   without one), fetches per caller address are rate-limited, and failures are not cached
//!   but counted against that limit.
//!
//! A test option ([`AuthServerBuilder::client_metadata_from_loopback`](super::AuthServerBuilder::client_metadata_from_loopback))
//! additionally lets documents come from loopback addresses over plain http; private and
//! link-local addresses stay refused.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::rules;
use super::store::{Client, ClientAuth};

/// Largest accepted document. The draft suggests 5 KB; client documents are a few hundred bytes.
pub(crate) const MAX_DOCUMENT: usize = 10 * 1024;

/// Documents kept in the cache at most.
const MAX_CACHED: usize = 1024;

const DEFAULT_TTL: Duration = Duration::from_secs(300);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// Whether `client_id` is meant as a metadata document URL (and so is fetched rather than
/// looked up): it parses as an absolute http(s) URL. Whether it may be fetched is
/// [`Documents::client`]'s business, which says why not.
pub(crate) fn is_document_url(client_id: &str) -> bool {
    (client_id.starts_with("https://") || client_id.starts_with("http://")) && url::Url::parse(client_id).is_ok()
}

/// The fetcher and cache of client metadata documents.
pub(crate) struct Documents {
    http: reqwest::Client,
    allow_loopback: bool,
    cache: Mutex<HashMap<String, (Client, Instant)>>,
}

impl Documents {
    pub(crate) fn new(allow_loopback: bool) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 3 {
                    return attempt.error("more than 3 redirects");
                }
                match check_url(attempt.url(), allow_loopback) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(format!("redirected to a refused address: {e}")),
                }
            }))
            .user_agent(concat!("mcp-axum/", env!("CARGO_PKG_VERSION"), " (client metadata fetch)"))
            .build()
            .unwrap_or_default();
        Documents { http, allow_loopback, cache: Mutex::new(HashMap::new()) }
    }

    /// The client `url` describes, fetched and checked now (callers look in
    /// [`Documents::cached`] first), then cached.
    pub(crate) async fn fetch_client(&self, url: &str, now: u64) -> Result<Client, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL ({e})"))?;
        check_client_id(url, &parsed, self.allow_loopback)?;
        let (client, ttl) = self.fetch(url, now).await?;
        self.keep(url, &client, ttl);
        Ok(client)
    }

    /// The client of a live cached copy of `url`'s document.
    pub(crate) fn cached(&self, url: &str) -> Option<Client> {
        let cache = self.cache.lock().ok()?;
        cache.get(url).filter(|(_, until)| *until > Instant::now()).map(|(c, _)| c.clone())
    }

    fn keep(&self, url: &str, client: &Client, ttl: Duration) {
        let Ok(mut cache) = self.cache.lock() else { return };
        let now = Instant::now();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHED {
                // Still full of live entries: drop the one closest to expiry.
                if let Some(k) = cache.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| k.clone()) {
                    cache.remove(&k);
                }
            }
        }
        cache.insert(url.to_owned(), (client.clone(), now + ttl));
    }

    async fn fetch(&self, url: &str, now: u64) -> Result<(Client, Duration), String> {
        let resp = self.http.get(url).header("accept", "application/json").send().await.map_err(|e| explain(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("fetching it answered HTTP {status}"));
        }
        let ttl = cache_ttl(resp.headers());
        let bytes = crate::auth::fetch::read_limited(resp, MAX_DOCUMENT).await?;
        let doc: Document =
            serde_json::from_slice(&bytes).map_err(|e| format!("it is not a client metadata JSON document: {e}"))?;
        Ok((doc.into_client(url, now)?, ttl))
    }
}

/// The fields of a client metadata document this server reads.
#[derive(Deserialize)]
struct Document {
    client_id: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_secret: Option<serde_json::Value>,
}

impl Document {
    fn into_client(self, url: &str, now: u64) -> Result<Client, String> {
        match self.client_id.as_deref() {
            Some(id) if id == url => {}
            Some(id) => return Err(format!("its `client_id` is `{id}`, not the URL it was fetched from")),
            None => return Err("it has no `client_id` (it must repeat the document's URL)".into()),
        }
        if self.client_secret.is_some() {
            return Err("it carries a `client_secret`; a public document cannot hold a secret".into());
        }
        match self.token_endpoint_auth_method.as_deref() {
            None | Some("none") => {}
            Some(m) => {
                return Err(format!(
                    "`token_endpoint_auth_method` `{m}` is not supported for metadata documents; use `none`"
                ));
            }
        }
        if let Some(g) =
            self.grant_types.iter().flatten().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(format!("grant type `{g}` is not supported; use `authorization_code` and `refresh_token`"));
        }
        if let Some(r) = self.response_types.iter().flatten().find(|r| *r != "code") {
            return Err(format!("response type `{r}` is not supported; use `code`"));
        }
        if self.redirect_uris.is_empty() {
            return Err("it lists no `redirect_uris`".into());
        }
        for uri in &self.redirect_uris {
            rules::check_redirect_uri(uri)?;
        }
        Ok(Client {
            client_id: url.to_owned(),
            secret: None,
            auth: ClientAuth::None,
            redirect_uris: self.redirect_uris,
            client_name: self.client_name.map(|n| rules::display_name(&n)),
            created_at: now,
        })
    }
}

/// The draft's rules on the `client_id` URL, then the address rules.
fn check_client_id(raw: &str, url: &url::Url, allow_loopback: bool) -> Result<(), String> {
    if url.path() == "/" || url.path().is_empty() {
        return Err(format!("`{url}` has no path; a client metadata document URL names a document"));
    }
    if url.fragment().is_some() {
        return Err(format!("`{url}` has a fragment; client ids cannot"));
    }
    // `Url` removes dot segments while parsing, so look at the client id as sent.
    let dot = |seg: &str| matches!(seg.to_ascii_lowercase().as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.");
    if raw.split(['?', '#']).next().is_some_and(|p| p.split('/').skip(3).any(dot)) {
        return Err(format!("`{raw}` has dot segments; client ids cannot"));
    }
    check_url(url, allow_loopback)
}

/// https (or, with the test option, http to a loopback address), no user info, and an
/// IP-literal host must be a public address. Names are checked by [`PublicOnly`].
fn check_url(url: &url::Url, allow_loopback: bool) -> Result<(), String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{url}` has user info"));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(format!("`{url}` has no host")),
    };
    if let Some(ip) = ip {
        check_ip(ip, allow_loopback)?;
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_loopback && ip.is_some_and(|ip| ip.is_loopback()) => Ok(()),
        "http" if allow_loopback && url.host_str().is_some_and(|h| h.eq_ignore_ascii_case("localhost")) => Ok(()),
        scheme => Err(format!("`{url}`: client metadata documents are fetched over https only, not `{scheme}`")),
    }
}

/// Refuse every address that is not public unicast (loopback only with the test option).
fn check_ip(ip: IpAddr, allow_loopback: bool) -> Result<(), String> {
    let refused = match ip {
        IpAddr::V4(v4) => refused_v4(v4).map(|why| (why, v4.is_loopback())),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refused_v4(v4).map(|why| (why, v4.is_loopback())),
            None => refused_v6(v6).map(|why| (why, v6.is_loopback())),
        },
    };
    match refused {
        Some((_, true)) if allow_loopback => Ok(()),
        Some((why, _)) => Err(format!("{ip} is a {why} address")),
        None => Ok(()),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        () if ip.is_loopback() => "loopback",
        () if ip.is_private() => "private",
        () if ip.is_link_local() => "link-local (cloud metadata)",
        () if ip.is_unspecified() || a == 0 => "unspecified",
        () if ip.is_broadcast() || a >= 240 => "reserved",
        () if ip.is_multicast() => "multicast",
        () if ip.is_documentation() => "documentation",
        () if a == 100 && (64..128).contains(&b) => "shared (carrier-grade NAT)",
        () if a == 198 && (18..20).contains(&b) => "benchmarking",
        () if a == 192 && b == 0 && c == 0 => "IETF protocol assignment",
        () => return None,
    })
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match () {
        () if ip.is_loopback() => "loopback",
        () if ip.is_unspecified() => "unspecified",
        () if ip.is_unique_local() => "private (unique local)",
        () if ip.is_unicast_link_local() => "link-local",
        () if ip.is_multicast() => "multicast",
        () if s[0] == 0x2001 && s[1] == 0x0db8 => "documentation",
        // NAT64 and 6to4 embed an IPv4 address: judge that one.
        () if s[0] == 0x0064 && s[1] == 0xff9b => {
            return refused_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
        }
        () if s[0] == 0x2002 => {
            return refused_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
        }
        () => return None,
    })
}

/// The resolver of the document client: a name is fetched only if every address it
/// resolves to is allowed, and only those addresses are connected to.
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("`{host}` does not resolve").into());
            }
            for a in &addrs {
                check_ip(a.ip(), allow_loopback).map_err(|e| format!("`{host}` resolves to {e}"))?;
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A fetch error with its causes (the resolver's refusal is a source, not the message).
fn explain(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "fetching it took longer than 5 s".into();
    }
    let mut msg = String::from("fetching it failed");
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = String::new();
    while let Some(s) = source {
        let text = s.to_string();
        if !last.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        last = text;
        source = s.source();
    }
    msg
}

/// How long a fetched document is kept: `max-age`, clamped; `no-store`/`no-cache` get the
/// minimum (refetching on every request would let anyone make this server fetch at will).
fn cache_ttl(headers: &http::HeaderMap) -> Duration {
    let Some(cc) = headers.get(http::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()) else {
        return DEFAULT_TTL;
    };
    let mut ttl = DEFAULT_TTL;
    for directive in cc.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return MIN_TTL;
        }
        if let Some(v) = lower.strip_prefix("max-age=")
            && let Ok(secs) = v.trim_matches('"').parse::<u64>()
        {
            ttl = Duration::from_secs(secs);
        }
    }
    ttl.clamp(MIN_TTL, MAX_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        check_ip(ip.parse().unwrap(), false).is_err()
    }

    #[test]
    fn only_public_addresses_are_fetched() {
        for bad in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
            "2001:db8::1",
        ] {
            assert!(refused(bad), "{bad} must be refused");
        }
        for ok in ["93.184.216.34", "172.32.0.1", "100.128.0.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!refused(ok), "{ok} is public");
        }
        // The test option lets loopback through, nothing else.
        assert!(check_ip("127.0.0.1".parse().unwrap(), true).is_ok());
        assert!(check_ip("::1".parse().unwrap(), true).is_ok());
        assert!(check_ip("10.0.0.1".parse().unwrap(), true).is_err());
        assert!(check_ip("169.254.169.254".parse().unwrap(), true).is_err());
    }

    fn id_ok(url: &str, allow_loopback: bool) -> Result<(), String> {
        check_client_id(url, &url::Url::parse(url).map_err(|e| e.to_string())?, allow_loopback)
    }

    #[test]
    fn client_id_urls_follow_the_draft() {
        assert!(id_ok("https://claude.ai/oauth/mcp-oauth-client-metadata", false).is_ok());
        assert!(id_ok("https://app.example:8443/client.json", false).is_ok());
        for bad in [
            "http://app.example/client.json",
            "https://app.example",
            "https://app.example/",
            "https://app.example/client.json#x",
            "https://user:pw@app.example/client.json",
            "https://app.example/a/../client.json",
            "https://app.example/a/%2E%2e/client.json",
            "https://app.example/./client.json",
            "https://127.0.0.1/client.json",
            "https://10.0.0.1/client.json",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/client.json",
            "http://127.0.0.1:8080/client.json",
            "file:///etc/passwd",
        ] {
            assert!(id_ok(bad, false).is_err(), "{bad} must be refused");
        }
        assert!(id_ok("http://127.0.0.1:8080/client.json", true).is_ok());
        assert!(id_ok("http://localhost:8080/client.json", true).is_ok());
        assert!(id_ok("http://10.0.0.1/client.json", true).is_err());
        assert!(id_ok("http://app.example/client.json", true).is_err());
    }

    #[test]
    fn documents_must_describe_a_public_client_at_their_own_url() {
        let url = "https://app.example/client.json";
        let doc = |v: serde_json::Value| serde_json::from_value::<Document>(v).unwrap().into_client(url, 1);
        let ok = doc(serde_json::json!({
            "client_id": url, "client_name": "App\u{7}", "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"]
        }))
        .unwrap();
        assert_eq!((ok.client_id.as_str(), ok.auth, ok.client_name.as_deref()), (url, ClientAuth::None, Some("App")));
        let err = |v: serde_json::Value| doc(v).unwrap_err();
        assert!(err(serde_json::json!({ "redirect_uris": ["https://app.example/cb"] })).contains("no `client_id`"));
        assert!(err(serde_json::json!({ "client_id": "https://app.example/client.json/", "redirect_uris": ["https://app.example/cb"] })).contains("not the URL"));
        assert!(err(serde_json::json!({ "client_id": url })).contains("no `redirect_uris`"));
        assert!(
            err(serde_json::json!({ "client_id": url, "redirect_uris": ["http://evil.example/cb"] }))
                .contains("plain http")
        );
        assert!(err(serde_json::json!({ "client_id": url, "redirect_uris": ["https://a/cb"], "token_endpoint_auth_method": "client_secret_post" })).contains("not supported"));
        assert!(
            err(serde_json::json!({ "client_id": url, "redirect_uris": ["https://a/cb"], "client_secret": "x" }))
                .contains("secret")
        );
        assert!(
            err(
                serde_json::json!({ "client_id": url, "redirect_uris": ["https://a/cb"], "grant_types": ["implicit"] })
            )
            .contains("implicit")
        );
    }

    #[test]
    fn cache_lifetimes_are_clamped() {
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::CACHE_CONTROL, v.parse().unwrap());
            cache_ttl(&m)
        };
        assert_eq!(cache_ttl(&http::HeaderMap::new()), DEFAULT_TTL);
        assert_eq!(h("public, max-age=3600"), Duration::from_secs(3600));
        assert_eq!(h("max-age=5"), MIN_TTL);
        assert_eq!(h("max-age=99999999"), MAX_TTL);
        assert_eq!(h("no-store"), MIN_TTL);
    }
}
