//! Building the kernel with only the host interfaces a component imports.
//!
//! The kernel is its own cargo workspace (`host-kernel/kernel`, target `x86_64-unknown-none`).
//! Each WASI package it implements is a cargo feature, `wasi-PACKAGE`; the image builder turns
//! a component's imports into that feature list, so an application that never touches the
//! clocks gets a kernel without them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The packages the kernel implements, each a cargo feature: the WASI 0.2 ones (any 0.2.x
/// version) `wasi-NAME`, and `morgana:crypto` (0.1.x) `morgana-crypto`.
pub const HOST_PACKAGES: &[&str] = &[
    "wasi:cli",
    "wasi:clocks",
    "wasi:filesystem",
    "wasi:http",
    "wasi:io",
    "wasi:random",
    "wasi:sockets",
    "morgana:crypto",
];

/// The cargo feature of a host package (`wasi:cli` → `wasi-cli`) and the version line the
/// kernel provides it at.
fn feature_of(package: &str) -> Option<(String, &'static str)> {
    if !HOST_PACKAGES.contains(&package) {
        return None;
    }
    let line = if package.starts_with("wasi:") { "0.2" } else { "0.1" };
    Some((package.replace(':', "-"), line))
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    #[error(
        "the kernel cannot provide `{import}`; the qemu target provides WASI 0.2 cli, clocks, filesystem, http (types and outgoing-handler, and serving incoming-handler), io, random and sockets, and morgana:crypto 0.1 (the host's keys and AEAD)"
    )]
    Unsupported { import: String },
    #[error("the kernel sources are not at {}; morgana must run from its source tree", dir.display())]
    Missing { dir: PathBuf },
    #[error("cannot run cargo to build the kernel: {0}")]
    Spawn(std::io::Error),
    #[error("building the kernel failed (cargo's errors are above)")]
    BuildFailed,
    #[error("cargo built the kernel but reported no executable")]
    NoExecutable,
    #[error("cannot read the built kernel {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("cannot take the kernel build lock {}: {error}; the kernel's target directory must be writable", path.display())]
    Lock { path: PathBuf, error: std::io::Error },
}

/// The kernel's cargo features for a component with these imports, sorted and deduplicated.
pub fn features_for<'a>(imports: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, KernelError> {
    // wasi:io is always linked: every other package's streams and pollables are its resources.
    let mut features = vec!["wasi-io".to_string()];
    for import in imports {
        let (base, version) = import.split_once('@').unwrap_or((import, ""));
        let package = base.split('/').next().unwrap_or_default();
        let Some((feature, _)) = feature_of(package).filter(|(_, line)| {
            version == *line || version.strip_prefix(line).is_some_and(|rest| rest.starts_with('.'))
        }) else {
            return Err(KernelError::Unsupported { import: import.to_string() });
        };
        features.push(feature);
        // TCP and UDP are compiled in only for a component that imports them.
        match base {
            "wasi:sockets/tcp" | "wasi:sockets/tcp-create-socket" => features.push("wasi-sockets-tcp".into()),
            "wasi:sockets/udp" | "wasi:sockets/udp-create-socket" => features.push("wasi-sockets-udp".into()),
            _ => {}
        }
    }
    features.sort();
    features.dedup();
    Ok(features)
}

/// The packages compiled in with `features`.
pub fn packages_of(features: &[String]) -> Vec<&'static str> {
    // `wasi-sockets-tcp` and `-udp` refine `wasi-sockets`; packages are named by the base feature.
    HOST_PACKAGES
        .iter()
        .copied()
        .filter(|p| feature_of(p).is_some_and(|(feature, _)| features.contains(&feature)))
        .collect()
}

/// Builds the kernel in `dir` with `features` (cargo profile `profile`) and returns its bytes.
///
/// Builds of different feature sets share one target directory; a lock file keeps two
/// concurrent `morgana` processes from reading each other's kernel.
pub fn build(dir: &Path, features: &[String], profile: &str) -> Result<Vec<u8>, KernelError> {
    if !dir.join("Cargo.toml").is_file() {
        return Err(KernelError::Missing { dir: dir.to_path_buf() });
    }
    let target_dir = dir.join("target");
    std::fs::create_dir_all(&target_dir).map_err(|error| KernelError::Lock { path: target_dir.clone(), error })?;
    let lock_path = target_dir.join("morgana-build.lock");
    let lock =
        std::fs::File::create(&lock_path).map_err(|error| KernelError::Lock { path: lock_path.clone(), error })?;
    lock.lock().map_err(|error| KernelError::Lock { path: lock_path, error })?;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(dir) // the kernel's .cargo/config.toml sets its target and linker script
        .args(["build", "--message-format=json-render-diagnostics", "--no-default-features", "--profile", profile])
        .arg("--features")
        .arg(features.join(","))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .map_err(KernelError::Spawn)?;
    let mut executable = None;
    for line in BufReader::new(child.stdout.take().expect("stdout is piped")).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if message["reason"] == "compiler-artifact" {
            if let Some(path) = message["executable"].as_str() {
                executable = Some(PathBuf::from(path));
            }
        }
    }
    let status = child.wait().map_err(KernelError::Spawn)?;
    if !status.success() {
        return Err(KernelError::BuildFailed);
    }
    let path = executable.ok_or(KernelError::NoExecutable)?;
    let bytes = std::fs::read(&path).map_err(|error| KernelError::Read { path, error })?;
    drop(lock);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_become_features() {
        let features =
            features_for(["wasi:cli/stdout@0.2.6", "wasi:io/streams@0.2.0", "wasi:cli/environment@0.2.6"]).unwrap();
        assert_eq!(features, vec!["wasi-cli", "wasi-io"]);
        assert_eq!(features_for([]).unwrap(), vec!["wasi-io"]);
        assert_eq!(packages_of(&features), vec!["wasi:cli", "wasi:io"]);
        let udp_only = features_for(["wasi:sockets/udp@0.2.0", "wasi:sockets/network@0.2.0"]).unwrap();
        assert_eq!(udp_only, vec!["wasi-io", "wasi-sockets", "wasi-sockets-udp"]);
        let proxy = features_for(["wasi:http/types@0.2.0", "wasi:io/streams@0.2.0"]).unwrap();
        assert_eq!(proxy, vec!["wasi-http", "wasi-io"]);
        assert_eq!(packages_of(&proxy), vec!["wasi:http", "wasi:io"]);
        let client = features_for(["wasi:http/outgoing-handler@0.2.0"]).unwrap();
        assert_eq!(client, vec!["wasi-http", "wasi-io"]);
        let err = features_for(["wasi:http/types@0.3.0"]).unwrap_err();
        assert!(err.to_string().contains("wasi:http/types@0.3.0"), "{err}");
        assert!(features_for(["wasi:cli/stdout@0.3.0"]).is_err());
        let signing = features_for(["morgana:crypto/signing@0.1.0"]).unwrap();
        assert_eq!(signing, vec!["morgana-crypto", "wasi-io"]);
        assert_eq!(packages_of(&signing), vec!["wasi:io", "morgana:crypto"]);
        assert!(features_for(["morgana:crypto/signing@0.2.0"]).is_err());
        assert!(features_for(["morgana:crypto/signing@0.10.0"]).is_err());
    }
}
