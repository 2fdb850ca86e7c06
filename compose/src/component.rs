//! What a component file says about itself: whether it is a component at all, its top-level
//! imports and exports, and its size. Reads the binary; never instantiates it.

use std::fmt;
use std::path::Path;

use wasmparser::{ComponentExternalKind, ComponentTypeRef, Parser, Payload};

/// The kind of an imported or exported item, as the component model names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Instance,
    Func,
    Type,
    Value,
    Module,
    Component,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Instance => "interface",
            ItemKind::Func => "function",
            ItemKind::Type => "type",
            ItemKind::Value => "value",
            ItemKind::Module => "core module",
            ItemKind::Component => "component",
        })
    }
}

/// One named import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub kind: ItemKind,
}

/// The outside of a component.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub imports: Vec<Item>,
    pub exports: Vec<Item>,
    pub size: u64,
}

/// Why bytes could not be read as a component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotAComponent {
    #[error(
        "it is a core WebAssembly module, not a component; build it for the wasm32-wasip2 target, or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    #[error("it is not a WebAssembly file (it does not start with the `\\0asm` magic number)")]
    NotWasm,
    #[error("it is a damaged WebAssembly component: {0}")]
    Malformed(String),
}

impl ComponentInfo {
    /// Reads the top-level imports and exports of a component binary.
    pub fn read(bytes: &[u8]) -> Result<Self, NotAComponent> {
        if Parser::is_core_wasm(bytes) {
            return Err(NotAComponent::CoreModule);
        }
        if !Parser::is_component(bytes) {
            return Err(NotAComponent::NotWasm);
        }
        let malformed = |e: wasmparser::BinaryReaderError| NotAComponent::Malformed(e.to_string());
        let mut info = ComponentInfo { imports: Vec::new(), exports: Vec::new(), size: bytes.len() as u64 };
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(malformed)? {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(reader) if depth == 0 => {
                    for import in reader {
                        let import = import.map_err(malformed)?;
                        info.imports.push(Item { name: import.name.name.to_string(), kind: type_ref_kind(import.ty) });
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 0 => {
                    for export in reader {
                        let export = export.map_err(malformed)?;
                        info.exports
                            .push(Item { name: export.name.name.to_string(), kind: external_kind(export.kind) });
                    }
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Reads a component file, binary or in the text format (`.wat`), naming the file in the
    /// error.
    pub fn read_file(path: &Path) -> Result<(Vec<u8>, Self), FileError> {
        let bytes = std::fs::read(path).map_err(|error| FileError::Read { path: path.to_path_buf(), error })?;
        let bytes = if path.extension().is_some_and(|e| e == "wat") {
            wat::parse_bytes(&bytes)
                .map_err(|e| FileError::Text { path: path.to_path_buf(), message: e.to_string() })?
                .into_owned()
        } else {
            bytes
        };
        let info =
            Self::read(&bytes).map_err(|reason| FileError::NotAComponent { path: path.to_path_buf(), reason })?;
        Ok((bytes, info))
    }

    pub fn exports_named(&self, name: &str) -> bool {
        self.exports.iter().any(|e| e.name == name)
    }
}

/// A component file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: std::path::PathBuf, error: std::io::Error },
    #[error("{}: {message}", path.display())]
    Text { path: std::path::PathBuf, message: String },
    #[error("{} cannot be used: {reason}", path.display())]
    NotAComponent { path: std::path::PathBuf, reason: NotAComponent },
}

fn type_ref_kind(ty: ComponentTypeRef) -> ItemKind {
    match ty {
        ComponentTypeRef::Module(_) => ItemKind::Module,
        ComponentTypeRef::Func(_) => ItemKind::Func,
        ComponentTypeRef::Value(_) => ItemKind::Value,
        ComponentTypeRef::Type(_) => ItemKind::Type,
        ComponentTypeRef::Instance(_) => ItemKind::Instance,
        ComponentTypeRef::Component(_) => ItemKind::Component,
    }
}

fn external_kind(kind: ComponentExternalKind) -> ItemKind {
    match kind {
        ComponentExternalKind::Module => ItemKind::Module,
        ComponentExternalKind::Func => ItemKind::Func,
        ComponentExternalKind::Value => ItemKind::Value,
        ComponentExternalKind::Type => ItemKind::Type,
        ComponentExternalKind::Instance => ItemKind::Instance,
        ComponentExternalKind::Component => ItemKind::Component,
    }
}

/// Splits `ns:pkg/iface@1.2.3` into (`ns:pkg/iface`, `Some("1.2.3")`).
pub fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Whether an export can satisfy an import of the given name: the same interface, at the same
/// version or at a semver-compatible one (as wac and wasmtime's linker match them).
pub fn names_match(export: &str, import: &str) -> bool {
    wac_types::are_semver_compatible(export, import)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_top_level_imports_and_exports_only() {
        let bytes = wat::parse_str(
            r#"(component
                (import "test:x/a@0.1.0" (instance))
                (import "f" (func))
                (component $inner (import "inner:only/i" (instance)))
                (instance $e)
                (export "test:x/b@0.1.0" (instance $e)))"#,
        )
        .unwrap();
        let info = ComponentInfo::read(&bytes).unwrap();
        assert_eq!(
            info.imports,
            vec![
                Item { name: "test:x/a@0.1.0".into(), kind: ItemKind::Instance },
                Item { name: "f".into(), kind: ItemKind::Func }
            ]
        );
        assert_eq!(info.exports, vec![Item { name: "test:x/b@0.1.0".into(), kind: ItemKind::Instance }]);
    }

    #[test]
    fn core_modules_and_garbage_are_told_apart() {
        let module = wat::parse_str("(module)").unwrap();
        assert!(matches!(ComponentInfo::read(&module), Err(NotAComponent::CoreModule)));
        assert!(matches!(ComponentInfo::read(b"hello world"), Err(NotAComponent::NotWasm)));
        let mut truncated = wat::parse_str("(component (import \"a:b/c\" (instance)))").unwrap();
        truncated.truncate(truncated.len() - 3);
        assert!(matches!(ComponentInfo::read(&truncated), Err(NotAComponent::Malformed(_))));
    }

    #[test]
    fn semver_compatible_names_match() {
        assert!(names_match("wasi:cli/run@0.2.3", "wasi:cli/run@0.2.0"));
        assert!(names_match("a:b/c", "a:b/c"));
        assert!(!names_match("wasi:cli/run@0.3.0", "wasi:cli/run@0.2.0"));
        assert!(!names_match("a:b/c", "a:b/d"));
        assert_eq!(split_version("a:b/c@1.0.0"), ("a:b/c", Some("1.0.0")));
    }
}
