//! What the user pointed `morgana` at: a manifest or a component file.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use morgana_compose::manifest::MANIFEST_FILE;
use morgana_compose::{ComponentInfo, Manifest};

use crate::report;

/// The application run when there is no manifest anywhere in sight.
const DEFAULT_EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello");

pub enum Input {
    Manifest(Manifest),
    Component(PathBuf),
    /// A bootable image made by `morgana build --target qemu`.
    Image(PathBuf),
}

impl Input {
    /// Resolves a path given on the command line, or the default when there is none.
    pub fn locate(path: Option<&Path>) -> Result<Self> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None if Path::new(MANIFEST_FILE).is_file() => PathBuf::from(MANIFEST_FILE),
            None => {
                let example = Path::new(DEFAULT_EXAMPLE).join(MANIFEST_FILE);
                if !example.is_file() {
                    bail!(
                        "no {MANIFEST_FILE} in this directory; name a manifest, a directory holding one, or a component file"
                    );
                }
                report::note(&format!("no {MANIFEST_FILE} here; using the default example {DEFAULT_EXAMPLE}"));
                example
            }
        };
        if path.is_dir() {
            let manifest = path.join(MANIFEST_FILE);
            if !manifest.is_file() {
                bail!(
                    "{} holds no {MANIFEST_FILE}; write one there (see the README's manifest reference)",
                    path.display()
                );
            }
            return Ok(Input::Manifest(Manifest::load(&manifest)?));
        }
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
        if looks_like_elf(&path) {
            Ok(Input::Image(path))
        } else if looks_like_wasm(&path) {
            Ok(Input::Component(path))
        } else {
            Ok(Input::Manifest(Manifest::load(&path)?))
        }
    }
}

impl Input {
    /// `argv[0]` as `wasmtime run` would give it for the component this input runs: the file
    /// name of the composed component (`NAME.wasm`) or of the component file. An image keeps
    /// the one it was built with.
    pub fn default_argv0(&self) -> Option<String> {
        match self {
            Input::Manifest(manifest) => Some(format!("{}.wasm", manifest.name)),
            Input::Component(path) => path.file_name().map(|name| name.to_string_lossy().into_owned()),
            Input::Image(_) => None,
        }
    }
}

/// Reads a component file, binary or in the WebAssembly text format (`.wat`), as wasmtime does.
pub fn read_component(path: &Path) -> Result<(Vec<u8>, ComponentInfo)> {
    Ok(ComponentInfo::read_file(path)?)
}

/// A `.wasm` or `.wat` name or the wasm magic number: treat it as a component (and say so if
/// it is not one).
fn looks_like_wasm(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "wasm" || e == "wat") {
        return true;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\0asm"
}

fn looks_like_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}
