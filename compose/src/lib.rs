//! Morgana's first pipeline stage: a `unikernel.toml` manifest in, one composed WebAssembly
//! component out.
//!
//! Layers, from the outside in:
//! - [`manifest`]: the manifest as typed structs; unknown keys and contradictions are rejected
//!   when it is read, so everything after works on a [`Manifest`] that makes sense.
//! - [`cargo`], [`kv`]: getting each part's bytes — building a crate for `wasm32-wasip2`, or
//!   baking a directory into a generated `morgana:kv/store` component.
//! - [`component`], [`wiring`]: reading what each part imports and exports, and deciding who
//!   satisfies each import (explicit wires, then the unique exporter, then the target's host).
//!   Pure; every way this can fail has its own [`wiring::WiringError`] that names the fix.
//! - [`graph`]: encoding the decided wiring (or a user's `.wac` document) with wac.
//! - [`appinfo`]: the baked environment and run settings, carried in a custom section.
//!
//! This crate never runs a component: which host interfaces may stay imported is told to it
//! as [`HostInterfaces`] by the target that will run the result.

#![forbid(unsafe_code)]

pub mod appinfo;
pub mod cargo;
pub mod component;
pub mod dirs;
pub mod graph;
pub mod host;
pub mod keys;
pub mod kv;
pub mod manifest;
pub mod wiring;

use std::path::{Path, PathBuf};

pub use appinfo::AppInfo;
pub use component::ComponentInfo;
pub use host::HostInterfaces;
pub use manifest::{Manifest, Source};

/// Anything that stops a build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error(transparent)]
    Cargo(#[from] cargo::CargoError),
    #[error(transparent)]
    Kv(#[from] kv::KvError),
    #[error(transparent)]
    Dir(#[from] dirs::DirError),
    #[error(transparent)]
    Key(#[from] keys::KeyFileError),
    #[error("component `{name}`: {error}")]
    Component { name: String, error: component::FileError },
    #[error(transparent)]
    Wiring(#[from] wiring::WiringError),
    #[error(transparent)]
    Graph(#[from] graph::GraphError),
    #[error("the composition imports `{import}`, which the `{target}` target does not provide: {hint}")]
    HostLacks { import: String, target: String, hint: String },
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: std::io::Error },
}

/// A component of the manifest with its bytes at hand.
pub struct LoadedPart {
    pub name: String,
    pub source: Source,
    pub bytes: Vec<u8>,
    pub info: ComponentInfo,
    /// The built or baked file, where there is one on disk.
    pub file: Option<PathBuf>,
}

/// How one import of one part is satisfied, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WiringLine {
    pub consumer: String,
    pub import: String,
    /// `component.export`, or `host`.
    pub provider: String,
    pub explicit: bool,
}

/// The result of composing a manifest.
pub struct Composition {
    pub bytes: Vec<u8>,
    pub info: AppInfo,
    pub main: String,
    pub wiring: Vec<WiringLine>,
    /// Components left out because nothing uses them.
    pub unused: Vec<String>,
    /// Whether the wiring came from a `.wac` document.
    pub from_wac: bool,
}

/// Builds or reads every part of the manifest, reporting each step through `progress` as a
/// status word and a message (`"Building"`, `` "`app` from cargo crate app" ``).
pub fn load_parts(
    manifest: &Manifest,
    progress: &mut dyn FnMut(&str, String),
) -> Result<Vec<LoadedPart>, ComposeError> {
    let mut parts = Vec::new();
    for spec in &manifest.components {
        let shown = display_path(&manifest.dir, spec.source.path());
        let (bytes, file) = match &spec.source {
            Source::Crate(dir, features) => {
                let mut with = String::new();
                if !features.default_features {
                    with.push_str(", no default features");
                }
                if !features.features.is_empty() {
                    with.push_str(&format!(", features {}", features.features.join(", ")));
                }
                progress(
                    "Building",
                    format!("`{}` from cargo crate {shown} ({}{with})", spec.name, cargo::WASM_TARGET),
                );
                let file = cargo::build_crate(&spec.name, dir, features)?;
                (read_component_file(&spec.name, &file)?.0, Some(file))
            }
            Source::Prebuilt(file) => (read_component_file(&spec.name, file)?.0, Some(file.clone())),
            Source::KvDir(dir) => {
                let entries = kv::read_dir(&spec.name, dir)?;
                let total: usize = entries.iter().map(|e| e.value.len()).sum();
                progress(
                    "Baking",
                    format!("`{}` from {shown} ({} files, {})", spec.name, entries.len(), human_size(total as u64)),
                );
                (kv::generate(&spec.name, &entries)?, None)
            }
        };
        let info = ComponentInfo::read(&bytes).map_err(|reason| ComposeError::Component {
            name: spec.name.clone(),
            error: component::FileError::NotAComponent { path: file.clone().unwrap_or_default(), reason },
        })?;
        parts.push(LoadedPart { name: spec.name.clone(), source: spec.source.clone(), bytes, info, file });
    }
    Ok(parts)
}

fn read_component_file(name: &str, file: &Path) -> Result<(Vec<u8>, ComponentInfo), ComposeError> {
    ComponentInfo::read_file(file).map_err(|error| ComposeError::Component { name: name.into(), error })
}

/// Wires and encodes the parts of a manifest for a target whose host provides `host`.
pub fn compose(manifest: &Manifest, parts: &[LoadedPart], host: &HostInterfaces) -> Result<Composition, ComposeError> {
    let graph_parts: Vec<graph::Part<'_>> = parts
        .iter()
        .map(|p| graph::Part {
            name: &p.name,
            bytes: &p.bytes,
            exports: p.info.exports.iter().map(|e| e.name.clone()).collect(),
        })
        .collect();

    let (mut bytes, main, wiring, unused, used) = if let Some(wac) = &manifest.wac {
        let bytes = graph::encode_wac(wac, &graph_parts)?;
        let main = manifest.main.clone().unwrap_or_default();
        (bytes, main, Vec::new(), Vec::new(), (0..parts.len()).collect::<Vec<_>>())
    } else {
        let nodes: Vec<wiring::Node<'_>> = parts
            .iter()
            .zip(&manifest.components)
            .map(|(p, spec)| wiring::Node { name: &p.name, info: &p.info, wire: &spec.wire })
            .collect();
        let plan = wiring::resolve(&nodes, manifest.main.as_deref(), host)?;
        let bytes = graph::encode_plan(&graph_parts, &plan)?;
        let lines = plan
            .wires
            .iter()
            .map(|w| WiringLine {
                consumer: parts[w.consumer].name.clone(),
                import: w.import.clone(),
                provider: match &w.provider {
                    wiring::Provider::Component { node, export } => format!("{}.{export}", parts[*node].name),
                    wiring::Provider::Host => manifest::HOST_PROVIDER.to_string(),
                },
                explicit: w.explicit,
            })
            .collect();
        let unused = plan.unused.iter().map(|&i| parts[i].name.clone()).collect();
        (bytes, parts[plan.main].name.clone(), lines, unused, plan.order.clone())
    };

    // Whatever the wiring, only host interfaces may stay imported.
    let composed = ComponentInfo::read(&bytes).map_err(|e| graph::GraphError::Encode(e.to_string()))?;
    if let Some(import) = composed.imports.iter().find(|i| !host.provides(&i.name)) {
        let nodes: Vec<wiring::Node<'_>> = Vec::new();
        return Err(ComposeError::HostLacks {
            import: import.name.clone(),
            target: host.target.to_string(),
            hint: wiring::unsatisfied_hint(&nodes, &import.name, host),
        });
    }

    for dir in &manifest.dirs {
        if let manifest::DirSource::Host { path, .. } = &dir.source {
            dirs::check(&dir.guest, path)?;
        }
    }
    let info = AppInfo {
        name: manifest.name.clone(),
        env: manifest.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        network: manifest.run.network,
        timeout_ms: manifest.run.timeout,
        memory_mib: manifest.run.memory,
        ports: manifest.run.ports.iter().map(|p| p.to_string()).collect(),
        net: manifest.net.clone(),
        stdin: manifest.run.stdin,
        dirs: manifest.dirs.clone(),
        keys: keys::resolve(manifest)?,
        parts: used
            .iter()
            .map(|&i| appinfo::Part {
                name: parts[i].name.clone(),
                origin: describe_source(&manifest.dir, &parts[i].source),
                size: parts[i].info.size,
            })
            .collect(),
    };
    info.append_to(&mut bytes);
    Ok(Composition { bytes, info, main, wiring, unused, from_wac: manifest.wac.is_some() })
}

/// Where `morgana build` puts the composed component of a manifest.
pub fn output_path(manifest: &Manifest) -> PathBuf {
    manifest.dir.join("target").join("morgana").join(format!("{}.wasm", manifest.name))
}

/// Writes `bytes` to `path` through a temporary file, so that a failed write never leaves a
/// half-written component where a good one was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ComposeError> {
    let write_err = |error| ComposeError::Write { path: path.to_path_buf(), error };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let temporary = path.with_extension(format!("wasm.partial-{}", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        write_err(e)
    })?;
    std::fs::rename(&temporary, path).map_err(write_err)
}

/// A part's origin for people: `cargo crate app`, `kv store of site`.
pub fn describe_source(base: &Path, source: &Source) -> String {
    let shown = display_path(base, source.path());
    match source {
        Source::Crate(..) => format!("cargo crate {shown}"),
        Source::Prebuilt(_) => format!("component file {shown}"),
        Source::KvDir(_) => format!("kv store of {shown}"),
    }
}

/// A path relative to `base` when it lies below it.
pub fn display_path(base: &Path, path: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_string(),
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
