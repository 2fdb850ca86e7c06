//! `unikernel.toml`: the application manifest.
//!
//! The file is read into [`RawManifest`] (serde, unknown keys rejected) and then turned into a
//! [`Manifest`] whose types can no longer express a contradiction: every component has exactly
//! one source, names are valid and unique, and every path is absolute.
//!
//! ```toml
//! name = "kv-demo"                 # the application's name
//! # main = "app"                   # whose exports the application exports (inferred when unique)
//! # wac = "app.wac"                # compose with a WAC document instead of automatic wiring
//!
//! [components.app]
//! path = "app"                     # a cargo crate, built for wasm32-wasip2 in release
//! # features = ["x"]               # with these cargo features
//! # default-features = false       # and without its default ones
//! # wasm = "lib.wasm"              # or a prebuilt component
//! [components.app.wire]            # explicit wiring, where automatic wiring is ambiguous
//! "morgana:kv/store" = "site"      # import → component name, or "host"
//!
//! [kv.site]
//! dir = "site"                     # baked into a generated morgana:kv/store component
//!
//! [dirs]                           # preopened directories, by the path the app sees
//! "/data" = { path = "data" }      # a directory of this machine, read-only unless
//!                                  # read-only = false (unix target only)
//! "/tmp" = { scratch = "8M" }      # an empty writable one, at most this big
//!
//! [keys.site]                      # a TLS key the host holds (components never see it):
//! certificate = "site.crt"         # its PEM certificate chain, leaf first, and
//! key = "site.key"                 # its PEM private key; or instead
//! # self-signed = ["localhost"]    # a development certificate morgana makes and keeps
//!
//! [env]
//! GREETING = "hello"               # baked environment variables
//!
//! [net]                            # a static network configuration (hypervisor targets)
//! address = "10.0.0.2/24"          # instead of DHCP, with
//! gateway = "10.0.0.1"             # a gateway and
//! dns = ["10.0.0.1"]               # DNS servers
//!
//! [run]
//! network = false                  # let the app reach the host's network (unix target)
//! timeout = "30s"                  # stop a runaway app
//! memory = "64M"                   # the VM's memory (hypervisor targets)
//! ports = ["8080:80"]              # host ports forwarded to the VM (hypervisor targets)
//! stdin = "inherit"                # or "null": the app's standard input
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name `morgana` looks for in a directory.
pub const MANIFEST_FILE: &str = "unikernel.toml";

/// The provider name that, in a `wire` table, leaves an import to the target's host.
pub const HOST_PROVIDER: &str = "host";

/// The manifest exactly as written, before any check beyond the shape of the TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    pub name: String,
    pub main: Option<String>,
    pub wac: Option<PathBuf>,
    #[serde(default)]
    pub components: BTreeMap<String, RawComponent>,
    #[serde(default)]
    pub kv: BTreeMap<String, RawKv>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub run: RunSettings,
    pub net: Option<NetSettings>,
    #[serde(default)]
    pub dirs: BTreeMap<String, RawDir>,
    #[serde(default)]
    pub keys: BTreeMap<String, RawKey>,
}

/// A `[keys.NAME]` entry as written: `certificate` and `key`, or `self-signed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawKey {
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub self_signed: Option<Vec<String>>,
}

/// A private key the host holds for the application's TLS component, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    pub name: String,
    pub source: KeySource,
}

/// Where a host key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// PEM files of the build machine (absolute paths): the certificate chain, leaf first, and
    /// the private key (which may be the same file).
    Files { certificate: PathBuf, key: PathBuf },
    /// A self-signed development certificate for these DNS names and IP addresses, made by
    /// `morgana build` and kept beside the build's output.
    SelfSigned { names: Vec<String> },
}

/// A `[dirs]` entry as written: `"/data" = { path = "data" }` or `"/tmp" = { scratch = "8M" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDir {
    pub path: Option<PathBuf>,
    pub read_only: Option<bool>,
    pub scratch: Option<String>,
}

/// A directory the application finds preopened, at `guest` (an absolute path such as
/// `/data`), as `wasmtime run --dir` gives one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirSpec {
    pub guest: String,
    pub source: DirSource,
}

/// What a preopened directory is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirSource {
    /// A directory of the build machine (absolute path): read-only unless `read_only` is
    /// false. The unix target opens it; an image carries a copy, read-only.
    Host { path: PathBuf, read_only: bool },
    /// An empty, writable directory that holds at most this many bytes of files: in memory
    /// in the VM, a fresh temporary directory on unix (where the size is not enforced).
    Scratch { bytes: u64 },
}

/// A static network configuration for hypervisor targets (instead of DHCP).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetSettings {
    /// The VM's address with its prefix length: `"10.0.0.2/24"`.
    pub address: String,
    pub gateway: Option<String>,
    #[serde(default)]
    pub dns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "kebab-case")]
pub struct RawComponent {
    pub path: Option<PathBuf>,
    pub wasm: Option<PathBuf>,
    #[serde(default)]
    pub features: Vec<String>,
    pub default_features: Option<bool>,
    #[serde(default)]
    pub wire: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKv {
    pub dir: PathBuf,
}

/// How the application is run; the same on every target.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Whether the application may use the network of the machine it runs on.
    #[serde(default)]
    pub network: bool,
    /// Stop the application after this long: `"500ms"`, `"30s"`, `"5m"`.
    #[serde(default, deserialize_with = "duration_ms")]
    pub timeout: Option<u64>,
    /// The VM's memory on hypervisor targets: `"64M"`, `"1G"`.
    #[serde(default, deserialize_with = "size_mib")]
    pub memory: Option<u64>,
    /// Ports published by default on hypervisor targets: `"8080:80"`, `"5353:53/udp"`.
    #[serde(default, deserialize_with = "port_forwards")]
    pub ports: Vec<PortForward>,
    /// The application's standard input: `"inherit"` (morgana's own, the default) or `"null"`.
    #[serde(default)]
    pub stdin: StdinMode,
}

/// Where the application's standard input comes from.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StdinMode {
    /// The standard input `morgana run` itself has, as under `wasmtime run`.
    #[default]
    Inherit,
    /// An empty input: the application reads its end at once.
    Null,
}

/// A host port that reaches a guest port: `[ADDRESS:]HOST:GUEST[/udp]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortForward {
    pub udp: bool,
    /// The host address to listen on; loopback unless given.
    pub host_address: String,
    pub host_port: u16,
    pub guest_port: u16,
}

impl PortForward {
    pub fn parse(text: &str) -> Option<Self> {
        let (spec, udp) = match text.rsplit_once('/') {
            Some((spec, "udp")) => (spec, true),
            Some((spec, "tcp")) => (spec, false),
            Some(_) => return None,
            None => (text, false),
        };
        let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
        let (guest, host, address) = match parts.as_slice() {
            [guest, host] => (guest, host, "127.0.0.1"),
            [guest, host, address] if !address.is_empty() => (guest, host, *address),
            _ => return None,
        };
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
        Some(PortForward { udp, host_address: address.to_string(), host_port: port(host)?, guest_port: port(guest)? })
    }
}

impl fmt::Display for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}{}", self.host_address, self.host_port, self.guest_port, if self.udp { "/udp" } else { "" })
    }
}

fn port_forwards<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PortForward>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| {
            PortForward::parse(text).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a port forward; write e.g. \"8080:80\" or \"5353:53/udp\""
                ))
            })
        })
        .collect()
}

fn duration_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration_ms(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("`{text}` is not a duration; write e.g. \"500ms\", \"30s\" or \"5m\""))
    })
}

fn size_mib<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_size_mib(&text)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a memory size; write e.g. \"64M\" or \"1G\"")))
}

/// `"500ms"`, `"30s"`, `"5m"` → milliseconds (at least 1).
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let value: u64 = number.parse().ok()?;
    let ms = match unit {
        "ms" => value,
        "s" => value.checked_mul(1000)?,
        "m" => value.checked_mul(60_000)?,
        _ => return None,
    };
    (ms > 0).then_some(ms)
}

/// `"64M"`, `"1G"`, `"512"` (MiB) → MiB (at least 1).
pub fn parse_size_mib(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().ok()?;
    let mib = match unit {
        "" | "M" | "MiB" | "m" => value,
        "G" | "GiB" | "g" => value.checked_mul(1024)?,
        _ => return None,
    };
    (mib > 0).then_some(mib)
}

/// A checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file this was read from.
    pub file: PathBuf,
    /// The directory that relative paths in the manifest are relative to.
    pub dir: PathBuf,
    pub name: String,
    pub main: Option<String>,
    pub wac: Option<PathBuf>,
    /// Components in the order of their names; kv stores included.
    pub components: Vec<ComponentSpec>,
    pub env: BTreeMap<String, String>,
    pub run: RunSettings,
    pub net: Option<NetSettings>,
    /// Preopened directories, by guest path.
    pub dirs: Vec<DirSpec>,
    /// The host's TLS keys, by name.
    pub keys: Vec<KeySpec>,
}

#[derive(Debug, Clone)]
pub struct ComponentSpec {
    pub name: String,
    pub source: Source,
    /// Import name (with or without `@version`) → provider name or [`HOST_PROVIDER`].
    pub wire: BTreeMap<String, String>,
}

/// Where a component's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A cargo crate built for `wasm32-wasip2` in release, with these features.
    Crate(PathBuf, CrateFeatures),
    /// A component file built elsewhere.
    Prebuilt(PathBuf),
    /// A directory baked into a generated `morgana:kv/store` component.
    KvDir(PathBuf),
}

/// The cargo features a crate is built with: `features = [...]` and `default-features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateFeatures {
    pub features: Vec<String>,
    pub default_features: bool,
}

impl Default for CrateFeatures {
    fn default() -> Self {
        CrateFeatures { features: Vec::new(), default_features: true }
    }
}

impl CrateFeatures {
    /// Whether these are the crate's own defaults (a plain `cargo build`).
    pub fn is_default(&self) -> bool {
        self.features.is_empty() && self.default_features
    }
}

impl Source {
    /// The crate directory, component file or kv directory.
    pub fn path(&self) -> &Path {
        match self {
            Source::Crate(p, _) | Source::Prebuilt(p) | Source::KvDir(p) => p,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Crate(p, _) => write!(f, "cargo crate {}", p.display()),
            Source::Prebuilt(p) => write!(f, "component file {}", p.display()),
            Source::KvDir(p) => write!(f, "kv store of {}", p.display()),
        }
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("cannot read {}: {error}", file.display())]
    Read { file: PathBuf, error: std::io::Error },
    #[error("{}: {message}", file.display())]
    Syntax { file: PathBuf, message: String },
    #[error(
        "{}: component `{name}` has both `path` and `wasm`; keep `path` for a cargo crate or `wasm` for a prebuilt component",
        file.display()
    )]
    TwoSources { file: PathBuf, name: String },
    #[error(
        "{}: component `{name}` has no source; add `path = \"DIR\"` (a cargo crate) or `wasm = \"FILE\"` (a prebuilt component) to [components.{name}]",
        file.display()
    )]
    NoSource { file: PathBuf, name: String },
    #[error(
        "{}: `{name}` is not a valid {what} name; use lowercase letters, digits and single dashes, starting with a letter (e.g. `my-app`)",
        file.display()
    )]
    BadName { file: PathBuf, name: String, what: &'static str },
    #[error("{}: `{name}` names both a [components.{name}] and a [kv.{name}] table; names must be unique", file.display())]
    DuplicateName { file: PathBuf, name: String },
    #[error("{}: `{HOST_PROVIDER}` is reserved (it names the target's host in `wire` tables); rename the component", file.display())]
    ReservedName { file: PathBuf },
    #[error(
        "{}: component `{name}` has `features`/`default-features` but no `path`: cargo features apply to a crate, not to a prebuilt `wasm` file",
        file.display()
    )]
    FeaturesWithoutCrate { file: PathBuf, name: String },
    #[error("{}: `main = \"{main}\"` names no component; the components are: {}", file.display(), known.join(", "))]
    UnknownMain { file: PathBuf, main: String, known: Vec<String> },
    #[error("{}: the manifest lists no components; add a [components.NAME] table", file.display())]
    Empty { file: PathBuf },
    #[error("{}: environment variable name `{key}` is empty or contains `=`", file.display())]
    BadEnvKey { file: PathBuf, key: String },
    #[error("{}: [dirs] \"{guest}\": {reason}", file.display())]
    BadDir { file: PathBuf, guest: String, reason: String },
    #[error("{}: [keys.{name}]: {reason}", file.display())]
    BadKey { file: PathBuf, name: String, reason: String },
}

impl Manifest {
    /// Reads and checks the manifest at `file`.
    pub fn load(file: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(file).map_err(|error| ManifestError::Read { file: file.to_path_buf(), error })?;
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        Self::parse(&text, &file)
    }

    /// Parses manifest text as if read from `file` (which anchors relative paths).
    pub fn parse(text: &str, file: &Path) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::check(raw, file.to_path_buf(), dir)
    }

    fn check(raw: RawManifest, file: PathBuf, dir: PathBuf) -> Result<Self, ManifestError> {
        let bad_name = |name: &str, what| ManifestError::BadName { file: file.clone(), name: name.to_string(), what };
        if !is_valid_name(&raw.name) {
            return Err(bad_name(&raw.name, "application"));
        }
        let mut components = Vec::new();
        for (name, c) in raw.components {
            if !is_valid_name(&name) {
                return Err(bad_name(&name, "component"));
            }
            let features = CrateFeatures { features: c.features, default_features: c.default_features.unwrap_or(true) };
            let source = match (c.path, c.wasm) {
                (Some(_), Some(_)) => return Err(ManifestError::TwoSources { file, name }),
                (None, None) => return Err(ManifestError::NoSource { file, name }),
                (Some(path), None) => Source::Crate(dir.join(path), features),
                (None, Some(_)) if !features.is_default() || c.default_features.is_some() => {
                    return Err(ManifestError::FeaturesWithoutCrate { file, name });
                }
                (None, Some(wasm)) => Source::Prebuilt(dir.join(wasm)),
            };
            components.push(ComponentSpec { name, source, wire: c.wire });
        }
        for (name, kv) in raw.kv {
            if !is_valid_name(&name) {
                return Err(bad_name(&name, "kv store"));
            }
            if components.iter().any(|c| c.name == name) {
                return Err(ManifestError::DuplicateName { file, name });
            }
            components.push(ComponentSpec { name, source: Source::KvDir(dir.join(kv.dir)), wire: BTreeMap::new() });
        }
        if components.iter().any(|c| c.name == HOST_PROVIDER) {
            return Err(ManifestError::ReservedName { file });
        }
        if components.is_empty() {
            return Err(ManifestError::Empty { file });
        }
        if let Some(main) = &raw.main {
            if !components.iter().any(|c| &c.name == main) {
                let known = components.iter().map(|c| c.name.clone()).collect();
                return Err(ManifestError::UnknownMain { file, main: main.clone(), known });
            }
        }
        if let Some(key) = raw.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            return Err(ManifestError::BadEnvKey { file, key: key.clone() });
        }
        let mut dirs = Vec::new();
        for (guest, spec) in raw.dirs {
            let source = check_dir(&guest, spec, &dir).map_err(|reason| ManifestError::BadDir {
                file: file.clone(),
                guest: guest.clone(),
                reason,
            })?;
            dirs.push(DirSpec { guest, source });
        }
        let mut keys = Vec::new();
        for (name, spec) in raw.keys {
            if !is_valid_name(&name) {
                return Err(bad_name(&name, "key"));
            }
            let source = check_key(spec, &dir).map_err(|reason| ManifestError::BadKey {
                file: file.clone(),
                name: name.clone(),
                reason,
            })?;
            keys.push(KeySpec { name, source });
        }
        Ok(Manifest {
            wac: raw.wac.map(|w| dir.join(w)),
            file,
            dir,
            name: raw.name,
            main: raw.main,
            components,
            env: raw.env,
            run: raw.run,
            net: raw.net,
            dirs,
            keys,
        })
    }
}

/// A `[keys.NAME]` entry checked: both files, or a self-signed certificate's names.
fn check_key(spec: RawKey, dir: &Path) -> Result<KeySource, String> {
    match (spec.certificate, spec.key, spec.self_signed) {
        (Some(certificate), key, None) => {
            let certificate = dir.join(certificate);
            // A PEM file holding both the chain and the key serves as both.
            let key = key.map_or_else(|| certificate.clone(), |key| dir.join(key));
            Ok(KeySource::Files { certificate, key })
        }
        (None, None, Some(names)) => {
            if names.is_empty() {
                return Err("`self-signed` needs the names the certificate is for, e.g. [\"localhost\"]".into());
            }
            if let Some(bad) = names.iter().find(|n| !is_host_name(n)) {
                return Err(format!("`{bad}` is neither a DNS name nor an IP address"));
            }
            Ok(KeySource::SelfSigned { names })
        }
        (None, Some(_), None) => Err("`key` needs its `certificate = \"FILE\"` (the PEM chain, leaf first)".into()),
        (_, _, Some(_)) => Err("give `certificate` and `key` (PEM files) or `self-signed`, not both".into()),
        (None, None, None) => Err(
            "give `certificate = \"FILE\"` and `key = \"FILE\"` (PEM), or `self-signed = [\"localhost\"]` for a development certificate".into(),
        ),
    }
}

/// A DNS name (letters, digits, dashes, dots; a leading `*.` allowed) or an IP address.
fn is_host_name(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A `[dirs]` entry checked: an absolute guest path of plain names, and exactly one source.
fn check_dir(guest: &str, spec: RawDir, dir: &Path) -> Result<DirSource, String> {
    let names = guest.strip_prefix('/').ok_or("the guest path must be absolute, e.g. \"/data\"")?;
    if !names.is_empty() && !names.split('/').all(|n| !n.is_empty() && n != "." && n != "..") {
        return Err("the guest path must be plain names joined by `/`, without `.`, `..` or a trailing `/`".into());
    }
    match (spec.path, spec.scratch) {
        (Some(path), None) => Ok(DirSource::Host { path: dir.join(path), read_only: spec.read_only.unwrap_or(true) }),
        (None, Some(size)) => {
            if spec.read_only.is_some() {
                return Err("a scratch directory is writable; drop `read-only`".into());
            }
            let bytes = parse_size_bytes(&size)
                .ok_or_else(|| format!("`{size}` is not a size; write e.g. \"512K\", \"8M\" or \"1G\""))?;
            Ok(DirSource::Scratch { bytes })
        }
        (Some(_), Some(_)) => {
            Err("give either `path` (a directory to open) or `scratch` (an empty one), not both".into())
        }
        (None, None) => Err("give `path = \"DIR\"` (a directory to open) or `scratch = \"8M\"` (an empty one)".into()),
    }
}

/// `"512K"`, `"8M"`, `"1G"` (binary units) or `"4096"` (bytes) → bytes (at least 1).
pub fn parse_size_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().ok()?;
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KiB" | "k" => 10,
        "M" | "MiB" | "m" => 20,
        "G" | "GiB" | "g" => 30,
        _ => return None,
    };
    let bytes = value.checked_mul(1 << shift)?;
    (bytes > 0).then_some(bytes)
}

/// Names become package names (`local:NAME`) in compositions, so they follow WIT's rules:
/// lowercase words of letters and digits separated by single dashes, starting with a letter.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('-')
            .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && name.starts_with(|c: char| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("/app/unikernel.toml"))
    }

    #[test]
    fn full_manifest_is_read_with_paths_anchored_at_its_directory() {
        let m = parse(
            r#"
            name = "kv-demo"
            main = "app"
            [components.app]
            path = "app"
            [components.app.wire]
            "morgana:kv/store" = "site"
            [components.lib]
            wasm = "lib.wasm"
            [kv.site]
            dir = "site"
            [env]
            GREETING = "hi"
            [run]
            network = true
            timeout = "1500ms"
            memory = "1G"
            "#,
        )
        .unwrap();
        assert_eq!(m.name, "kv-demo");
        assert_eq!(m.components.len(), 3);
        assert_eq!(m.components[0].source, Source::Crate("/app/app".into(), CrateFeatures::default()));
        assert_eq!(m.components[0].wire["morgana:kv/store"], "site");
        assert_eq!(m.components[1].source, Source::Prebuilt("/app/lib.wasm".into()));
        assert_eq!(m.components[2].source, Source::KvDir("/app/site".into()));
        assert_eq!(m.env["GREETING"], "hi");
        assert!(m.run.network);
        assert_eq!((m.run.timeout, m.run.memory), (Some(1500), Some(1024)));
    }

    #[test]
    fn port_forwards_parse() {
        let f = PortForward::parse("8080:80").unwrap();
        assert_eq!((f.udp, f.host_address.as_str(), f.host_port, f.guest_port), (false, "127.0.0.1", 8080, 80));
        let f = PortForward::parse("0.0.0.0:5353:53/udp").unwrap();
        assert_eq!((f.udp, f.host_address.as_str(), f.host_port, f.guest_port), (true, "0.0.0.0", 5353, 53));
        for bad in ["80", "x:80", "8080:80/sctp", "0:80", "8080:70000", ":8080:80"] {
            assert_eq!(PortForward::parse(bad), None, "{bad}");
        }
        let err = parse("name = \"a\"\n[components.a]\npath = \".\"\n[run]\nports = [\"eighty\"]").unwrap_err();
        assert!(err.to_string().contains("not a port forward"), "{err}");
    }

    #[test]
    fn preopened_directories_are_checked() {
        let m = parse(
            "name = \"a\"\n[components.a]\npath = \".\"\n[dirs]\n\"/data\" = { path = \"d\" }\n\"/w\" = { path = \"w\", read-only = false }\n\"/tmp\" = { scratch = \"8M\" }",
        )
        .unwrap();
        assert_eq!(
            m.dirs,
            [
                DirSpec { guest: "/data".into(), source: DirSource::Host { path: "/app/d".into(), read_only: true } },
                DirSpec { guest: "/tmp".into(), source: DirSource::Scratch { bytes: 8 << 20 } },
                DirSpec { guest: "/w".into(), source: DirSource::Host { path: "/app/w".into(), read_only: false } },
            ]
        );
        for (dirs, needle) in [
            ("\"data\" = { path = \"d\" }", "must be absolute"),
            ("\"/a/../b\" = { path = \"d\" }", "plain names"),
            ("\"/a/\" = { path = \"d\" }", "plain names"),
            ("\"/a\" = { path = \"d\", scratch = \"1M\" }", "not both"),
            ("\"/a\" = {}", "give `path"),
            ("\"/a\" = { scratch = \"lots\" }", "not a size"),
            ("\"/a\" = { scratch = \"1M\", read-only = true }", "drop `read-only`"),
            ("\"/a\" = { dir = \"d\" }", "unknown field `dir`"),
        ] {
            let err = parse(&format!("name = \"a\"\n[components.a]\npath = \".\"\n[dirs]\n{dirs}")).unwrap_err();
            assert!(err.to_string().contains(needle), "{dirs}: {err}");
        }
        assert_eq!(parse_size_bytes("512K"), Some(512 << 10));
        assert_eq!(parse_size_bytes("4096"), Some(4096));
        assert_eq!(parse_size_bytes("0M"), None);
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("5m"), Some(300_000));
        assert_eq!(parse_duration_ms("0s"), None);
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_size_mib("64M"), Some(64));
        assert_eq!(parse_size_mib("2G"), Some(2048));
        assert_eq!(parse_size_mib("12X"), None);
        let err = parse("name = \"a\"\n[components.a]\npath = \".\"\n[run]\ntimeout = \"forever\"").unwrap_err();
        assert!(err.to_string().contains("not a duration"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = parse("name = \"a\"\ncolour = 1\n[components.a]\npath = \".\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        let err = parse("name = \"a\"\n[components.a]\npath = \".\"\npth = 1").unwrap_err();
        assert!(err.to_string().contains("unknown field `pth`"), "{err}");
    }

    #[test]
    fn contradictions_are_rejected() {
        let two = parse("name = \"a\"\n[components.a]\npath = \".\"\nwasm = \"x.wasm\"");
        assert!(matches!(two, Err(ManifestError::TwoSources { .. })));
        let none = parse("name = \"a\"\n[components.a]\n");
        assert!(matches!(none, Err(ManifestError::NoSource { .. })));
        let dup = parse("name = \"a\"\n[components.a]\npath = \".\"\n[kv.a]\ndir = \"d\"");
        assert!(matches!(dup, Err(ManifestError::DuplicateName { .. })));
        let host = parse("name = \"a\"\n[components.host]\npath = \".\"");
        assert!(matches!(host, Err(ManifestError::ReservedName { .. })));
        let features =
            parse("name = \"a\"\n[components.a]\npath = \"a\"\nfeatures = [\"x\"]\ndefault-features = false").unwrap();
        let expected = CrateFeatures { features: vec!["x".into()], default_features: false };
        assert!(matches!(&features.components[0].source, Source::Crate(_, f) if *f == expected));
        let prebuilt = parse("name = \"a\"\n[components.a]\nwasm = \"a.wasm\"\ndefault-features = false");
        assert!(matches!(prebuilt, Err(ManifestError::FeaturesWithoutCrate { .. })));
        let main = parse("name = \"a\"\nmain = \"b\"\n[components.a]\npath = \".\"");
        assert!(matches!(main, Err(ManifestError::UnknownMain { .. })));
        assert!(matches!(parse("name = \"a\""), Err(ManifestError::Empty { .. })));
    }

    #[test]
    fn names_follow_wit_rules() {
        for good in ["a", "my-app", "dns2", "a-b-c"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "A", "my_app", "-a", "a-", "a--b", "2a", "a.b"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn keys_are_files_or_self_signed_names() {
        let m = parse(
            "name = \"a\"\n[components.a]\npath = \".\"\n\
             [keys.site]\ncertificate = \"tls/site.crt\"\nkey = \"tls/site.key\"\n\
             [keys.both]\ncertificate = \"both.pem\"\n\
             [keys.dev]\nself-signed = [\"localhost\", \"127.0.0.1\", \"::1\", \"*.example.com\"]",
        )
        .unwrap();
        let names: Vec<&str> = m.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["both", "dev", "site"]);
        assert_eq!(
            m.keys[0].source,
            KeySource::Files { certificate: "/app/both.pem".into(), key: "/app/both.pem".into() }
        );
        assert_eq!(
            m.keys[2].source,
            KeySource::Files { certificate: "/app/tls/site.crt".into(), key: "/app/tls/site.key".into() }
        );
        assert!(matches!(&m.keys[1].source, KeySource::SelfSigned { names } if names.len() == 4));

        for (table, says) in [
            ("key = \"k.pem\"", "needs its `certificate"),
            ("certificate = \"c\"\nself-signed = [\"x\"]", "not both"),
            ("self-signed = []", "needs the names"),
            ("self-signed = [\"bad name\"]", "neither a DNS name"),
            ("", "give `certificate"),
        ] {
            let text = format!("name = \"a\"\n[components.a]\npath = \".\"\n[keys.k]\n{table}");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("[keys.k]") && err.contains(says), "{table}: {err}");
        }
        let bad = parse("name = \"a\"\n[components.a]\npath = \".\"\n[keys.Site]\nself-signed = [\"x\"]");
        assert!(matches!(bad, Err(ManifestError::BadName { what: "key", .. })));
    }
}
