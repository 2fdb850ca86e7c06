//! Encoding a composition with wac: from a resolved [`Plan`], or from a user's `.wac` document.

use std::error::Error;
use std::path::Path;

use indexmap::IndexMap;
use wac_graph::types::{BorrowedPackageKey, Package};
use wac_graph::{CompositionGraph, EncodeOptions};

use crate::wiring::{Plan, Provider};

/// The package name a manifest component has inside a composition: `local:NAME`.
pub fn package_name(component: &str) -> String {
    format!("local:{component}")
}

/// Why wac could not build the composition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    #[error("component `{component}` cannot be composed: {message}")]
    Package { component: String, message: String },
    #[error(
        "component `{consumer}` imports `{import}`, but what `{provider}` exports under that name has a different type: {message}; rebuild them against the same WIT"
    )]
    Mismatch { consumer: String, import: String, provider: String, message: String },
    #[error("encoding the composition failed: {0}")]
    Encode(String),
    #[error("{}: {message}", file.display())]
    Wac { file: std::path::PathBuf, message: String },
}

/// One component to compose: its manifest name and its bytes.
pub struct Part<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    pub exports: Vec<String>,
}

/// Composes `parts` as `plan` says, exporting everything `plan.main` exports.
pub fn encode_plan(parts: &[Part<'_>], plan: &Plan) -> Result<Vec<u8>, GraphError> {
    if let [only] = plan.order.as_slice() {
        return Ok(parts[*only].bytes.to_vec());
    }
    let mut graph = CompositionGraph::new();
    let mut instances = vec![None; parts.len()];
    for &index in &plan.order {
        let part = &parts[index];
        let package_err = |e: &dyn Error| GraphError::Package { component: part.name.into(), message: chain(e) };
        let package = Package::from_bytes(&package_name(part.name), None, part.bytes.to_vec(), graph.types_mut())
            .map_err(|e| package_err(e.as_ref()))?;
        let id = graph.register_package(package).map_err(|e| package_err(&e))?;
        instances[index] = Some(graph.instantiate(id));
    }
    let instance = |i: usize| instances[i].expect("every planned part is instantiated");
    for wire in &plan.wires {
        let Provider::Component { node, export } = &wire.provider else { continue };
        let mismatch = |e: &dyn Error| GraphError::Mismatch {
            consumer: parts[wire.consumer].name.into(),
            import: wire.import.clone(),
            provider: parts[*node].name.into(),
            message: chain(e),
        };
        let alias = graph.alias_instance_export(instance(*node), export).map_err(|e| mismatch(&e))?;
        graph.set_instantiation_argument(instance(wire.consumer), &wire.import, alias).map_err(|e| mismatch(&e))?;
    }
    for export in &parts[plan.main].exports {
        let encode_err = |e: &dyn Error| GraphError::Encode(chain(e));
        let alias = graph.alias_instance_export(instance(plan.main), export).map_err(|e| encode_err(&e))?;
        graph.export(alias, export.clone()).map_err(|e| encode_err(&e))?;
    }
    graph.encode(EncodeOptions::default()).map_err(|e| GraphError::Encode(chain(&e)))
}

/// Composes `parts` as the WAC document in `file` says; each part is the package `local:NAME`.
pub fn encode_wac(file: &Path, parts: &[Part<'_>]) -> Result<Vec<u8>, GraphError> {
    let wac_err = |message: String| GraphError::Wac { file: file.to_path_buf(), message };
    let source = std::fs::read_to_string(file).map_err(|e| wac_err(format!("cannot read it: {e}")))?;
    let document = wac_parser::Document::parse(&source).map_err(|e| wac_err(located(&source, &e)))?;
    let names: Vec<String> = parts.iter().map(|p| package_name(p.name)).collect();
    let packages: IndexMap<BorrowedPackageKey<'_>, Vec<u8>> = names
        .iter()
        .zip(parts)
        .map(|(name, part)| (BorrowedPackageKey { name, version: None }, part.bytes.to_vec()))
        .collect();
    let resolution = document.resolve(packages).map_err(|e| wac_err(located(&source, &e)))?;
    resolution.encode(EncodeOptions::default()).map_err(|e| wac_err(located(&source, &e)))
}

/// An error with its causes, one after the other.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A wac error, with the line it points at when it has a source span.
fn located<E: miette::Diagnostic>(source: &str, error: &E) -> String {
    let text = chain(error);
    let offset = error.labels().and_then(|mut labels| labels.next()).map(|label| label.offset());
    match offset {
        Some(offset) if offset <= source.len() => {
            let line = source[..offset].matches('\n').count() + 1;
            format!("line {line}: {text}")
        }
        _ => text,
    }
}
