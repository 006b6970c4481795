//! `cargo run -p blog`: the demo blog on embedded SQLite (or PostgreSQL), MCP at `/mcp`.

use std::process::ExitCode;

const HELP: &str = "\
The demo blog: an Axum app on embedded SQLite (or PostgreSQL) with MCP at /mcp.

USAGE:
    blog [OPTIONS]

OPTIONS:
    --bind ADDR            Address to listen on [default: 127.0.0.1:8000]
    --database-url URL     An SQLite database file, or a postgres://USER@HOST:PORT/NAME URL when built
                           with `--features postgres`. The database, its tables and the demo data are
                           created on first start; the built-in authorization server keeps its
                           clients, consents, keys and tokens there too [default: blog.db]
    --user NAME:TOKEN      A user and their bearer token (repeatable); an unknown NAME becomes a new
                           author. TOKEN is also the user's password on the sign-in page of the built-in
                           OAuth authorization server. Without it, demo users alice and bob get random
                           tokens, printed below.
    --oauth-issuer URL     OAuth mode: accept JWT access tokens of this authorization server (its
                           metadata and JWKS are fetched at start) issued for this server's MCP URL,
                           and serve protected-resource metadata pointing clients at it
    --public-url URL       The URL clients use to reach this app (behind a tunnel or TLS proxy, or for
                           OAuth audiences): the issuer of the built-in authorization server and the
                           MCP resource [default: http://ADDR]
    --stdio                Serve MCP over stdin/stdout instead of HTTP, acting as the first user
    --list-tools           Print every tool with its schemas as JSON and exit
    -h, --help             Print this help

LOGGING:
    Logs go to stderr (never stdout, so --stdio stays clean), filtered by RUST_LOG
    [default: info], for example RUST_LOG=blog=debug,mcp_axum=debug. Tokens are never logged.
";

struct Args {
    bind: String,
    database: String,
    users: Vec<(String, String)>,
    oauth_issuer: Option<String>,
    public_url: Option<String>,
    stdio: bool,
    list_tools: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        bind: "127.0.0.1:8000".into(),
        database: "blog.db".into(),
        users: Vec::new(),
        oauth_issuer: None,
        public_url: None,
        stdio: false,
        list_tools: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value =
            |name: &str| inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--bind" => args.bind = value("--bind")?,
            "--database-url" => args.database = value("--database-url")?,
            "--user" => {
                let v = value("--user")?;
                let (name, token) =
                    v.split_once(':').filter(|(n, t)| !n.is_empty() && t.len() >= 8).ok_or_else(|| {
                        format!("--user takes NAME:TOKEN with a token of 8 characters or more, not `{v}`")
                    })?;
                args.users.push((name.to_owned(), token.to_owned()));
            }
            "--oauth-issuer" => args.oauth_issuer = Some(value("--oauth-issuer")?),
            "--public-url" => args.public_url = Some(value("--public-url")?.trim_end_matches('/').to_owned()),
            "--stdio" => args.stdio = true,
            "--list-tools" => args.list_tools = true,
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    if args.oauth_issuer.is_some() && !args.users.is_empty() {
        return Err("--oauth-issuer and --user exclude each other".into());
    }
    Ok(Some(args))
}

/// Log to stderr, filtered by `RUST_LOG` (default `info`); `log` records (r2d2) and panics
/// go there too.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => {
                (EnvFilter::new("info"), Some(format!("RUST_LOG=`{v}` is not a filter ({e}); logging at `info`")))
            }
        },
        _ => (EnvFilter::new("info"), None),
    };
    let installed = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    if installed.is_ok() {
        std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    }
    if let Some(bad) = bad {
        tracing::warn!("{bad}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("blog: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blog: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = redact(&args.database);
    let db = blog::open_database(&args.database).map_err(|e| format!("--database-url {path}: {e}"))?;
    if args.list_tools {
        let server = blog::mcp_server(db, &blog::BlogAuth::tokens(&[]))?;
        let tools: Vec<_> = server.tools().into_iter().cloned().collect();
        println!("{}", serde_json::to_string_pretty(&tools)?);
        return Ok(());
    }
    let users = if args.users.is_empty() { blog::demo_users(&db)? } else { blog::users(&db, &args.users)? };
    if args.stdio {
        let server = blog::mcp_server(db.clone(), &blog::BlogAuth::tokens(&users))?;
        let me = &users[0];
        eprintln!("blog: MCP over stdio as `{}`, {} tools, database {path}", me.name, server.tools().len());
        let mut ext = mcp_core::Extensions::default();
        ext.insert(blog::principal(me));
        server.serve_stdio_with(ext).await?;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    let addr = listener.local_addr()?;
    let base = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let url = format!("{base}/mcp");
    let auth = match &args.oauth_issuer {
        Some(issuer) => blog::BlogAuth::oauth(db.clone(), issuer, &url)
            .await
            .map_err(|e| format!("--oauth-issuer {issuer}: {e}"))?,
        None => blog::BlogAuth::tokens(&users),
    };
    let server = blog::mcp_server(db.clone(), &auth)?;
    eprintln!("blog: MCP at {url} ({} tools), JSON API at {base}/api/posts, database {path}", server.tools().len());
    eprintln!("blog: auth: {}", auth.describe());
    // Without an external issuer, the blog is its own OAuth authorization server too.
    let auth_server = match &args.oauth_issuer {
        Some(_) => None,
        None => match blog::auth_server(&users, &base, &db) {
            Ok(s) => {
                eprintln!(
                    "blog: OAuth authorization server at {base} (for Claude, ChatGPT...): sign in with a user's \
                     name and token as password"
                );
                Some(s)
            }
            Err(e) => {
                eprintln!("blog: no OAuth authorization server: {e} (give --public-url https://...)");
                None
            }
        },
    };
    let origin_policy = match &args.public_url {
        Some(p) => format!("loopback and {p}"),
        None => "loopback only".into(),
    };
    eprintln!("blog: Origin policy: {origin_policy}");
    let mut config = serde_json::json!({ "type": "http", "url": url });
    if args.oauth_issuer.is_none() {
        for u in &users {
            eprintln!("blog:   {:<8} Authorization: Bearer {}", u.name, u.token);
        }
        config["headers"] = serde_json::json!({ "Authorization": format!("Bearer {}", users[0].token) });
    } else {
        eprintln!("blog: protected-resource metadata at {base}/.well-known/oauth-protected-resource/mcp");
    }
    eprintln!(
        "blog: client configuration:\n{}",
        serde_json::to_string_pretty(&serde_json::json!({ "mcpServers": { "blog": config } }))?
    );
    let public_url = args.public_url.clone();
    let app = blog::app(server, db, auth, move |r| {
        let r = match &public_url {
            Some(p) => r.public_url(p),
            None => r,
        };
        match auth_server {
            Some(s) => r.auth_server(s),
            None => r,
        }
    });
    mcp_axum::serve(listener, app).await?;
    Ok(())
}

/// `url` without the password, for the log.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
