//! Messages for people, on standard error, in cargo's style: a right-aligned status word,
//! coloured when standard error is a terminal.

use std::io::IsTerminal;

fn paint(text: &str, colour: &str) -> String {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[1;{colour}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A step of a long operation: `   Composing kv-demo for unix`.
pub fn step(status: &str, message: &str) {
    eprintln!("{} {message}", paint(&format!("{status:>12}"), "32"));
}

pub fn note(message: &str) {
    eprintln!("{} {message}", paint("note:", "36"));
}

pub fn warning(message: &str) {
    eprintln!("{} {message}", paint("warning:", "33"));
}

pub fn error(error: &anyhow::Error) {
    eprintln!("{} {error:#}", paint("error:", "31"));
}

/// A trap in the application, as wasmtime describes it.
pub fn trap(message: &str, backtrace: Option<&str>) {
    eprintln!("{} the application trapped: {message}", paint("error:", "31"));
    if let Some(backtrace) = backtrace {
        eprintln!("{}", backtrace.trim_end());
    }
}

/// A host function's error that stopped the application (it exits with 1, as under wasmtime).
pub fn application_failed(message: &str) {
    eprintln!("{} the application failed: {message}", paint("error:", "31"));
}
