//! `cargo run --release -p mcp-bench`: see the crate docs.

use std::process::ExitCode;
use std::time::Duration;

use mcp_bench::scenarios::{self, Options, Scenario, TABLE_HEADER, table_rows};

const HELP: &str = "\
The benchmark of the MCP framework: each hot path against a bare axum handler doing the
same work, in one process on 127.0.0.1. Build with --release for numbers that mean anything.

USAGE:
    mcp-bench [OPTIONS]

OPTIONS:
    --quick                  Short runs (under a minute): 0.3 s warm-up, 1.5 s per side,
                             2,000 idle sessions. Without it: 2 s, 10 s, 10,000.
    --scenario NAMES         Only these scenarios, comma-separated (repeatable); see --list
    --concurrency N          Requests in flight, one connection each [default: 16]
    --duration SECS          Longest measurement per side, after the warm-up
    --rounds N               Cut each measurement into N slices, ours and the limit taking
                             turns, so background load hits both alike [default: 5, quick 3]
    --warmup SECS            Unmeasured time before each measurement
    --requests N             Stop each measurement after N requests
    --sessions N             Sessions of idle_legacy
    --idle-timeout SECS      Idle timeout of idle_legacy's sessions [default: 1]
    --server-threads N       Worker threads of the servers [default: the number of cores]
    --client-threads N       Worker threads of the load driver [default: 1]
    --list                   Print the scenarios and exit
    --profile SCENARIO:SIDE  Profiling mode: no measurement, no sockets; run --requests
                             operations (default 10,000, after 100 unmeasured ones) of
                             one side (ours, limit, core for echo_modern, jwt or static
                             for echo_jwt) calling the app in-process, one after the
                             other, for valgrind or perf (token_code_exchange mints its
                             codes first, which a profiler counts too)
    -h, --help               Print this help

OUTPUT:
    A table (requests, requests/s, p50/p99 latency, errors, RSS before/after, CPU time of
    the whole process per request) per scenario,
    then one machine-readable line per scenario: `ratio <scenario> <ours/limit>`, or
    `handshakes_per_s initialize_legacy <n>`, `rss_per_session_bytes idle_legacy <n>`.
    Exit status 1 when any answer failed its check, 2 on bad arguments.
";

enum Parsed {
    Run(Options),
    Profile(Scenario, String, u64),
    Help,
    List,
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} takes a number of seconds from 0 to 86400, not `{v}`"))
}

fn count(flag: &str, v: &str, max: u64) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{flag} takes a whole number from 1 to {max}, not `{v}`"))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let args: Vec<String> = args.into_iter().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut opts = Options::new(quick);
    let mut chosen: Vec<Scenario> = Vec::new();
    let mut profile = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--list" => return Ok(Parsed::List),
            "--quick" => {}
            "--profile" => {
                let v = value()?;
                let (name, side) = v.split_once(':').unwrap_or((v.as_str(), "ours"));
                let s = Scenario::parse(name).ok_or_else(|| format!("unknown scenario `{name}` in --profile"))?;
                profile = Some((s, side.to_owned()));
            }
            "--scenario" => {
                for name in value()?.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let s = Scenario::parse(name).ok_or_else(|| {
                        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                        format!("unknown scenario `{name}`; the scenarios are {}", names.join(", "))
                    })?;
                    if !chosen.contains(&s) {
                        chosen.push(s);
                    }
                }
            }
            "--concurrency" => opts.concurrency = count(&flag, &value()?, 4096)? as usize,
            "--duration" => opts.duration = seconds(&flag, &value()?)?,
            "--warmup" => opts.warmup = seconds(&flag, &value()?)?,
            "--rounds" => opts.rounds = count(&flag, &value()?, 1000)? as u32,
            "--requests" => opts.requests = Some(count(&flag, &value()?, u64::MAX / 4)?),
            "--sessions" => opts.sessions = count(&flag, &value()?, 10_000_000)?,
            "--idle-timeout" => opts.idle_timeout = seconds(&flag, &value()?)?,
            "--server-threads" => opts.server_threads = count(&flag, &value()?, 1024)? as usize,
            "--client-threads" => opts.client_threads = count(&flag, &value()?, 1024)? as usize,
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    if let Some((s, side)) = profile {
        return Ok(Parsed::Profile(s, side, opts.requests.unwrap_or(10_000)));
    }
    if !chosen.is_empty() {
        // Always in the documented order.
        opts.scenarios = Scenario::ALL.into_iter().filter(|s| chosen.contains(s)).collect();
    }
    Ok(Parsed::Run(opts))
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Profile(scenario, side, requests)) => {
            return match scenarios::profile(scenario, &side, requests, 100) {
                Ok(p) => {
                    println!(
                        "profile {} {side}: {} operations in {:.3} s ({:.1} µs each), every answer checked",
                        scenario.name(),
                        p.requests,
                        p.elapsed.as_secs_f64(),
                        p.elapsed.as_secs_f64() * 1e6 / p.requests.max(1) as f64
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("mcp-bench: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Ok(Parsed::List) => {
            for s in Scenario::ALL {
                println!("{:<18} {}", s.name(), s.describe());
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mcp-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!(
        "mcp-bench: {} mode, {build} build, {} in flight, {} server thread(s), {} driver thread(s), {:.1} s warm-up + {:.1} s per side in {} rounds{}",
        if opts.quick { "quick" } else { "full" },
        opts.concurrency,
        opts.server_threads,
        opts.client_threads,
        opts.warmup.as_secs_f64(),
        opts.duration.as_secs_f64(),
        opts.rounds,
        opts.requests.map_or_else(String::new, |n| format!(" (at most {n} requests)")),
    );
    if cfg!(debug_assertions) {
        println!("mcp-bench: a debug build: these numbers are not comparable; use --release");
    }
    println!();
    println!("{TABLE_HEADER}");
    let outcomes = match scenarios::run(&opts, |o| print!("{}", table_rows(o))) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mcp-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!();
    for o in &outcomes {
        println!("{}", o.line());
    }
    let errors: u64 = outcomes.iter().map(|o| o.errors()).sum();
    if errors > 0 {
        eprintln!("mcp-bench: {errors} answer(s) failed their check");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn quick_defaults_and_overrides() {
        let Ok(Parsed::Run(o)) =
            parse_args(args(&["--concurrency=4", "--quick", "--scenario", "model_get,echo_modern"]))
        else {
            panic!("not a run")
        };
        assert!(o.quick);
        assert_eq!(o.concurrency, 4);
        assert_eq!(o.sessions, 2_000);
        assert_eq!(o.scenarios, [Scenario::EchoModern, Scenario::ModelGet]);
        let Ok(Parsed::Run(full)) = parse_args(args(&[])) else { panic!("not a run") };
        assert_eq!(full.scenarios.len(), Scenario::ALL.len());
        assert_eq!(full.duration, Duration::from_secs(10));
    }

    #[test]
    fn bad_arguments_are_explained() {
        let err = |a: &[&str]| match parse_args(args(a)) {
            Err(e) => e,
            Ok(_) => panic!("{a:?} was accepted"),
        };
        assert_eq!(err(&["--frobnicate"]), "unknown option `--frobnicate`; see --help");
        assert!(
            err(&["--scenario", "nope"])
                .starts_with("unknown scenario `nope`; the scenarios are idle_legacy, echo_modern,")
        );
        assert_eq!(err(&["--concurrency", "0"]), "--concurrency takes a whole number from 1 to 4096, not `0`");
        assert_eq!(err(&["--duration", "-1"]), "--duration takes a number of seconds from 0 to 86400, not `-1`");
        assert_eq!(err(&["--requests"]), "--requests needs a value");
        assert!(matches!(parse_args(args(&["-h"])), Ok(Parsed::Help)));
        assert!(matches!(parse_args(args(&["--list"])), Ok(Parsed::List)));
        assert!(matches!(
            parse_args(args(&["--profile", "echo_modern:limit", "--requests", "5"])),
            Ok(Parsed::Profile(Scenario::EchoModern, ref side, 5)) if side == "limit"
        ));
        assert_eq!(err(&["--profile", "nope:ours"]), "unknown scenario `nope` in --profile");
    }
}
