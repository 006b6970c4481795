//! `cargo run -p blog`: the demo blog on embedded SQLite, MCP at `/mcp`.

use std::process::ExitCode;

const HELP: &str = "\
The demo blog: an Axum app on embedded SQLite with MCP at /mcp.

USAGE:
    blog [OPTIONS]

OPTIONS:
    --bind ADDR            Address to listen on [default: 127.0.0.1:8000]
    --database-url PATH    SQLite database file, created and seeded on first start [default: blog.db]
    --user NAME:TOKEN      A user and their bearer token (repeatable); an unknown NAME becomes a new
                           author. Without it, demo users alice and bob get random tokens, printed below.
    --stdio                Serve MCP over stdin/stdout instead of HTTP, acting as the first user
    --list-tools           Print every tool with its schemas as JSON and exit
    -h, --help             Print this help
";

struct Args {
    bind: String,
    database: String,
    users: Vec<(String, String)>,
    stdio: bool,
    list_tools: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        bind: "127.0.0.1:8000".into(),
        database: "blog.db".into(),
        users: Vec::new(),
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
            "--stdio" => args.stdio = true,
            "--list-tools" => args.list_tools = true,
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    Ok(Some(args))
}

#[tokio::main]
async fn main() -> ExitCode {
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
    let path = args.database.strip_prefix("sqlite://").unwrap_or(&args.database).to_owned();
    let pool = blog::open_database(&path)?;
    if args.list_tools {
        let server = blog::mcp_server(pool, &[])?;
        let tools: Vec<_> = server.tools().into_iter().cloned().collect();
        println!("{}", serde_json::to_string_pretty(&tools)?);
        return Ok(());
    }
    let users = if args.users.is_empty() { blog::demo_users(&pool)? } else { blog::users(&pool, &args.users)? };
    let server = blog::mcp_server(pool.clone(), &users)?;
    if args.stdio {
        let me = &users[0];
        eprintln!("blog: MCP over stdio as `{}`, {} tools, database {path}", me.name, server.tools().len());
        let mut ext = mcp_core::Extensions::default();
        ext.insert(blog::principal(me));
        server.serve_stdio_with(ext).await?;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}/mcp");
    eprintln!(
        "blog: MCP at {url} ({} tools), JSON API at http://{addr}/api/posts, database {path}",
        server.tools().len()
    );
    eprintln!("blog: auth: bearer tokens; Origin policy: loopback only");
    for u in &users {
        eprintln!("blog:   {:<8} Authorization: Bearer {}", u.name, u.token);
    }
    let first = &users[0];
    eprintln!(
        "blog: client configuration:\n{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "mcpServers": { "blog": { "type": "http", "url": url, "headers": { "Authorization": format!("Bearer {}", first.token) } } }
        }))?
    );
    let app = blog::router(server, pool, users);
    mcp_axum::serve(listener, app).await?;
    Ok(())
}
