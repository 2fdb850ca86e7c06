//! Building a component's cargo crate for `wasm32-wasip2`, in release, incrementally.
//!
//! Cargo's own progress and diagnostics go straight to our standard error; its JSON messages
//! on standard output tell us which `.wasm` file it produced.

use crate::manifest::CrateFeatures;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target every component crate is built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Why a crate did not give us a component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CargoError {
    #[error("component `{name}`: {} does not exist; fix `path` in [components.{name}]", dir.display())]
    MissingCrate { name: String, dir: PathBuf },
    #[error("component `{name}`: {} has no Cargo.toml; `path` must name a cargo crate (use `wasm` for a prebuilt component)", dir.display())]
    NotACrate { name: String, dir: PathBuf },
    #[error("the Rust target {WASM_TARGET} is not installed; run `rustup target add {WASM_TARGET}`")]
    TargetMissing,
    #[error("cannot run cargo: {0}; is Rust installed (https://rustup.rs) and `cargo` on PATH?")]
    Spawn(std::io::Error),
    #[error("component `{name}`: cargo failed to build {} (its errors are above)", dir.display())]
    BuildFailed { name: String, dir: PathBuf },
    #[error("component `{name}`: cargo built {} but produced no .wasm file; is it a binary or a cdylib crate?", dir.display())]
    NoArtifact { name: String, dir: PathBuf },
    #[error("component `{name}`: {} produces several .wasm files ({}); keep one binary target", dir.display(), files.join(", "))]
    SeveralArtifacts { name: String, dir: PathBuf, files: Vec<String> },
}

/// Builds the crate in `dir` with `features` and returns the path of the component it produced.
/// A build with other than the default features goes to a target directory of its own
/// (`target/morgana-features/…` beside the crate), so that it never overwrites, or is
/// overwritten by, the default build's artifact of the same name.
pub fn build_crate(name: &str, dir: &Path, features: &CrateFeatures) -> Result<PathBuf, CargoError> {
    if !dir.exists() {
        return Err(CargoError::MissingCrate { name: name.into(), dir: dir.into() });
    }
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(CargoError::NotACrate { name: name.into(), dir: dir.into() });
    }
    if !target_installed(WASM_TARGET) {
        return Err(CargoError::TargetMissing);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--target", WASM_TARGET, "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest);
    if !features.is_default() {
        let mut label = if features.default_features { "default".to_string() } else { "no-default".to_string() };
        for feature in &features.features {
            label.push('+');
            label.push_str(feature);
        }
        command.arg("--target-dir").arg(dir.join("target/morgana-features").join(label));
        if !features.default_features {
            command.arg("--no-default-features");
        }
        if !features.features.is_empty() {
            command.arg("--features").arg(features.features.join(","));
        }
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .map_err(CargoError::Spawn)?;

    let canonical_manifest = manifest.canonicalize().unwrap_or(manifest);
    let mut artifacts = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout is piped")).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let from_this_crate = message["manifest_path"]
            .as_str()
            .is_some_and(|p| Path::new(p).canonicalize().ok().as_deref() == Some(&canonical_manifest));
        if !from_this_crate {
            continue;
        }
        for file in message["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
            if file.ends_with(".wasm") {
                artifacts.push(PathBuf::from(file));
            }
        }
    }
    let status = child.wait().map_err(CargoError::Spawn)?;
    if !status.success() {
        return Err(CargoError::BuildFailed { name: name.into(), dir: dir.into() });
    }
    artifacts.dedup();
    match artifacts.len() {
        0 => Err(CargoError::NoArtifact { name: name.into(), dir: dir.into() }),
        1 => Ok(artifacts.remove(0)),
        _ => Err(CargoError::SeveralArtifacts {
            name: name.into(),
            dir: dir.into(),
            files: artifacts.iter().map(|a| a.display().to_string()).collect(),
        }),
    }
}

/// Whether the standard library for the Rust target `triple` is present in rustc's sysroot
/// (when rustc cannot be asked, cargo will report what is wrong).
pub fn target_installed(triple: &str) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return true; // let cargo report what is wrong
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot).join("lib/rustlib").join(triple).exists()
}
