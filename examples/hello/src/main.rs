//! hello: a plain Rust std program, unchanged from what `cargo build --target wasm32-wasip2`
//! makes of it. It shows that standard WASI 0.2 works: it prints to stdout and stderr, reads
//! its arguments and environment, sleeps, reads both clocks, and exits with a chosen status
//! (`-- --exit N`). Its output is the same on every target, so tests can compare them.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NAP: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_string());
    println!("{greeting} from {}!", args.first().map(String::as_str).unwrap_or("?"));
    println!("args: {:?}", &args[1.min(args.len())..]);

    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (name, value) in &vars {
        println!("env: {name}={value}");
    }

    let before = Instant::now();
    std::thread::sleep(NAP);
    let slept = before.elapsed();
    println!("slept at least {} ms: {}", NAP.as_millis(), if slept >= NAP { "yes" } else { "NO" });

    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    // 2020-01-01T00:00:00Z: a wall clock before that is not set.
    println!("wall clock is set: {}", if since_epoch.as_secs() > 1_577_836_800 { "yes" } else { "NO" });

    let status = match args.iter().position(|a| a == "--exit") {
        Some(i) => match args.get(i + 1).and_then(|n| n.parse::<u8>().ok()) {
            Some(status) => status,
            None => {
                eprintln!("hello: --exit needs a status from 0 to 255");
                return ExitCode::from(2);
            }
        },
        None => 0,
    };
    eprintln!("hello: exiting with status {status}");
    ExitCode::from(status)
}
