//! The protocol components' workspace (`components/`, a cargo workspace of its own): the sans-IO
//! cores' unit tests, and a short fixed-seed run of every `cargo fuzz` target, so that a parser
//! that panics on some input fails this suite. (`.ci/setup` installs nightly and cargo-fuzz.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::repo;

/// Runs `command` and fails the test with its output when it fails.
fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_protocol_cores_pass_their_unit_tests() {
    let mut cargo = Command::new("cargo");
    cargo
        .args(["test", "--release", "--workspace", "--manifest-path"])
        .arg(repo().join("components/Cargo.toml"))
        .env_remove("CARGO_TARGET_DIR");
    run(cargo, "cargo test in components/");
}

/// Every `fuzz/` directory under `components/`, `aot/` and `host-kernel/` (cargo-fuzz's
/// layout): the protocol cores' parsers, the image's (console channel, directory archive, boot
/// parameters) and the host's key reader.
fn fuzz_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut pending = vec![repo().join("components"), repo().join("aot"), repo().join("host-kernel")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if !path.is_dir() || path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "fuzz") && path.join("Cargo.toml").exists() {
                dirs.push(path);
            } else {
                pending.push(path);
            }
        }
    }
    dirs.sort();
    dirs
}

fn fuzz_targets(dir: &Path) -> Vec<String> {
    let mut targets: Vec<String> = std::fs::read_dir(dir.join("fuzz_targets"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
        .collect();
    targets.sort();
    targets
}

#[test]
fn the_fuzz_targets_survive_a_fixed_seed_run() {
    let dirs = fuzz_dirs();
    assert!(dirs.len() >= 3, "fuzz targets found: {dirs:?}");
    for dir in dirs {
        for target in fuzz_targets(&dir) {
            let mut cargo = Command::new("cargo");
            cargo
                .args(["+nightly", "fuzz", "run", "--release", &target, "--", "-seed=1", "-runs=20000"])
                .arg("-max_len=4096")
                .current_dir(dir.parent().unwrap())
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("RUSTC");
            run(cargo, &format!("cargo fuzz run {target} in {}", dir.display()));
        }
    }
}
