//! Deciding who satisfies every import: the manifest's explicit `wire` entries first, then
//! automatic wiring where exactly one other component exports the imported interface, then the
//! target's host. Pure: it looks at names only, and leaves type checking to the encoder.

use std::collections::BTreeMap;
use std::fmt;

use crate::component::{ComponentInfo, ItemKind, names_match, split_version};
use crate::host::HostInterfaces;
use crate::manifest::HOST_PROVIDER;

/// One component as the resolver sees it.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub name: &'a str,
    pub info: &'a ComponentInfo,
    pub wire: &'a BTreeMap<String, String>,
}

/// Who satisfies an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// The export `export` of node `node`.
    Component { node: usize, export: String },
    /// The target's host.
    Host,
}

/// One satisfied import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub consumer: usize,
    pub import: String,
    pub provider: Provider,
    /// Whether the manifest named this provider.
    pub explicit: bool,
}

/// The resolved wiring of a composition.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The components that take part, providers before their consumers.
    pub order: Vec<usize>,
    /// The component whose exports the composition exports.
    pub main: usize,
    pub wires: Vec<Wire>,
    /// Components that nothing uses; they are left out.
    pub unused: Vec<usize>,
}

/// Why the components cannot be wired together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WiringError {
    #[error(
        "component `{component}` imports `{import}`, which {providers_list} each export; say which one to use in the manifest:\n\n    [components.{component}.wire]\n    \"{base}\" = \"{first}\"\n",
        providers_list = and_list(providers),
        base = split_version(import).0,
        first = providers[0]
    )]
    Ambiguous { component: String, import: String, providers: Vec<String> },

    #[error("component `{component}` imports {kind} `{import}`, which nothing provides: {hint}")]
    Unsatisfied { component: String, import: String, kind: ItemKind, hint: String },

    #[error(
        "component `{component}` wires `{key}`, but it imports no such interface; its imports are: {}",
        if imports.is_empty() { "(none)".to_string() } else { imports.join(", ") }
    )]
    WireToUnknownImport { component: String, key: String, imports: Vec<String> },

    #[error(
        "component `{component}` wires `{import}` to `{provider}`, but there is no component `{provider}`; the components are: {}",
        known.join(", ")
    )]
    UnknownProvider { component: String, import: String, provider: String, known: Vec<String> },

    #[error(
        "component `{component}` wires `{import}` to `{provider}`, but `{provider}` does not export it; `{provider}` exports: {}",
        if exports.is_empty() { "(nothing)".to_string() } else { exports.join(", ") }
    )]
    ProviderLacksExport { component: String, import: String, provider: String, exports: Vec<String> },

    #[error(
        "component `{component}` wires `{import}` to the host, but the `{target}` target does not provide it; the `{target}` host provides {packages}"
    )]
    HostLacksInterface { component: String, import: String, target: String, packages: String },

    #[error("component `{component}` wires `{import}` to itself")]
    WireToSelf { component: String, import: String },

    #[error("the components import each other in a cycle: {}; a component cannot be instantiated before the ones it imports from", path.join(" → "))]
    Cycle { path: Vec<String> },

    #[error(
        "cannot tell which component is the application: {} are each used by no other component; add `main = \"NAME\"` to the manifest",
        and_list(candidates)
    )]
    NoMain { candidates: Vec<String> },
}

fn and_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Resolves the wiring of `nodes` for a target whose host provides `host`.
pub fn resolve(nodes: &[Node<'_>], main: Option<&str>, host: &HostInterfaces) -> Result<Plan, WiringError> {
    let mut wires = Vec::new();
    for (consumer, node) in nodes.iter().enumerate() {
        check_explicit_keys(node)?;
        for import in &node.info.imports {
            wires.push(resolve_import(nodes, consumer, &import.name, import.kind, host)?);
        }
    }

    let edges: Vec<Vec<usize>> = (0..nodes.len())
        .map(|consumer| {
            let mut providers: Vec<usize> = wires
                .iter()
                .filter(|w| w.consumer == consumer)
                .filter_map(|w| match w.provider {
                    Provider::Component { node, .. } => Some(node),
                    Provider::Host => None,
                })
                .collect();
            providers.sort_unstable();
            providers.dedup();
            providers
        })
        .collect();
    if let Some(cycle) = find_cycle(&edges) {
        return Err(WiringError::Cycle { path: cycle.iter().map(|&i| nodes[i].name.to_string()).collect() });
    }

    let main = match main {
        Some(name) => nodes.iter().position(|n| n.name == name).expect("the manifest checks `main`"),
        None => infer_main(nodes, &edges)?,
    };

    // Everything `main` depends on, providers first.
    let mut order = Vec::new();
    let mut visited = vec![false; nodes.len()];
    post_order(main, &edges, &mut visited, &mut order);
    let unused = (0..nodes.len()).filter(|i| !visited[*i]).collect();
    wires.retain(|w| visited[w.consumer]);
    Ok(Plan { order, main, wires, unused })
}

fn check_explicit_keys(node: &Node<'_>) -> Result<(), WiringError> {
    for key in node.wire.keys() {
        if !node.info.imports.iter().any(|i| import_matches_key(&i.name, key)) {
            return Err(WiringError::WireToUnknownImport {
                component: node.name.to_string(),
                key: key.clone(),
                imports: node.info.imports.iter().map(|i| i.name.clone()).collect(),
            });
        }
    }
    Ok(())
}

/// A `wire` key names an import with or without its version.
fn import_matches_key(import: &str, key: &str) -> bool {
    import == key || split_version(import).0 == key
}

fn resolve_import(
    nodes: &[Node<'_>],
    consumer: usize,
    import: &str,
    kind: ItemKind,
    host: &HostInterfaces,
) -> Result<Wire, WiringError> {
    let node = &nodes[consumer];
    let wire = |provider, explicit| Wire { consumer, import: import.to_string(), provider, explicit };
    let explicit = node.wire.iter().find(|(key, _)| import_matches_key(import, key)).map(|(_, v)| v);

    if let Some(provider) = explicit {
        if provider == HOST_PROVIDER {
            if !host.provides(import) {
                return Err(WiringError::HostLacksInterface {
                    component: node.name.to_string(),
                    import: import.to_string(),
                    target: host.target.to_string(),
                    packages: host.described(),
                });
            }
            return Ok(wire(Provider::Host, true));
        }
        let Some(index) = nodes.iter().position(|n| n.name == provider) else {
            return Err(WiringError::UnknownProvider {
                component: node.name.to_string(),
                import: import.to_string(),
                provider: provider.clone(),
                known: nodes.iter().map(|n| n.name.to_string()).collect(),
            });
        };
        if index == consumer {
            return Err(WiringError::WireToSelf { component: node.name.to_string(), import: import.to_string() });
        }
        let Some(export) = nodes[index].info.exports.iter().find(|e| names_match(&e.name, import)) else {
            return Err(WiringError::ProviderLacksExport {
                component: node.name.to_string(),
                import: import.to_string(),
                provider: provider.clone(),
                exports: nodes[index].info.exports.iter().map(|e| e.name.clone()).collect(),
            });
        };
        return Ok(wire(Provider::Component { node: index, export: export.name.clone() }, true));
    }

    let candidates: Vec<(usize, &str)> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != consumer)
        .filter_map(|(i, n)| n.info.exports.iter().find(|e| names_match(&e.name, import)).map(|e| (i, e.name.as_str())))
        .collect();
    match candidates.as_slice() {
        [(index, export)] => Ok(wire(Provider::Component { node: *index, export: export.to_string() }, false)),
        [] if kind == ItemKind::Instance && host.provides(import) => Ok(wire(Provider::Host, false)),
        [] => Err(WiringError::Unsatisfied {
            component: node.name.to_string(),
            import: import.to_string(),
            kind,
            hint: unsatisfied_hint(nodes, import, host),
        }),
        _ => Err(WiringError::Ambiguous {
            component: node.name.to_string(),
            import: import.to_string(),
            providers: candidates.iter().map(|(i, _)| nodes[*i].name.to_string()).collect(),
        }),
    }
}

/// What could satisfy an import that nothing satisfies.
pub fn unsatisfied_hint(nodes: &[Node<'_>], import: &str, host: &HostInterfaces) -> String {
    let (base, _) = split_version(import);
    let other_versions: Vec<String> = nodes
        .iter()
        .flat_map(|n| {
            n.info.exports.iter().filter(|e| split_version(&e.name).0 == base).map(move |e| (n.name, &e.name))
        })
        .map(|(n, e)| format!("`{n}` exports `{e}`"))
        .collect();
    if !other_versions.is_empty() {
        return format!(
            "{}, an incompatible version; rebuild one side against the other's WIT",
            other_versions.join(", ")
        );
    }
    if host.provides_other_version(import) {
        return format!(
            "the `{}` target provides `{base}` only at version {}.x; rebuild the component against that version of its WIT",
            host.target,
            host.line_of(base.split('/').next().unwrap_or(base))
        );
    }
    if base == "morgana:kv/store" {
        return "add a key-value store to the manifest: `[kv.NAME]` with `dir = \"DIR\"`".to_string();
    }
    format!(
        "no component in the manifest exports it and the `{}` target does not provide it (it provides {}); add a component that exports it under [components]",
        host.target,
        host.described()
    )
}

/// What an application exports: a command's `run`, or a handler `morgana run` serves.
const APPLICATION_EXPORTS: [&str; 2] = ["wasi:cli/run", "wasi:http/incoming-handler"];

fn infer_main(nodes: &[Node<'_>], edges: &[Vec<usize>]) -> Result<usize, WiringError> {
    let used: Vec<bool> = (0..nodes.len()).map(|i| edges.iter().any(|e| e.contains(&i))).collect();
    let roots: Vec<usize> = (0..nodes.len()).filter(|i| !used[*i]).collect();
    if let [only] = roots.as_slice() {
        return Ok(*only);
    }
    // Among several roots, a single command (or served wasi:http handler) is the application.
    let commands: Vec<usize> = roots
        .iter()
        .copied()
        .filter(|&i| nodes[i].info.exports.iter().any(|e| APPLICATION_EXPORTS.contains(&split_version(&e.name).0)))
        .collect();
    if let [only] = commands.as_slice() {
        return Ok(*only);
    }
    Err(WiringError::NoMain { candidates: roots.iter().map(|&i| nodes[i].name.to_string()).collect() })
}

fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(n: usize, edges: &[Vec<usize>], marks: &mut [Mark], path: &mut Vec<usize>) -> Option<Vec<usize>> {
        marks[n] = Mark::OnPath;
        path.push(n);
        for &next in &edges[n] {
            match marks[next] {
                Mark::OnPath => {
                    let start = path.iter().position(|&p| p == next).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, edges, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[n] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; edges.len()];
    (0..edges.len())
        .find_map(|n| if marks[n] == Mark::New { visit(n, edges, &mut marks, &mut Vec::new()) } else { None })
}

fn post_order(n: usize, edges: &[Vec<usize>], visited: &mut [bool], order: &mut Vec<usize>) {
    if visited[n] {
        return;
    }
    visited[n] = true;
    for &dep in &edges[n] {
        post_order(dep, edges, visited, order);
    }
    order.push(n);
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Component { node, export } => write!(f, "#{node}.{export}"),
            Provider::Host => f.write_str(HOST_PROVIDER),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Item;

    const HOST: HostInterfaces = HostInterfaces { target: "unix", packages: &["wasi:cli"] };

    fn info(imports: &[&str], exports: &[&str]) -> ComponentInfo {
        let items =
            |names: &[&str]| names.iter().map(|n| Item { name: n.to_string(), kind: ItemKind::Instance }).collect();
        ComponentInfo { imports: items(imports), exports: items(exports), size: 0 }
    }

    fn nodes<'a>(specs: &'a [(&'a str, ComponentInfo, BTreeMap<String, String>)]) -> Vec<Node<'a>> {
        specs.iter().map(|(name, info, wire)| Node { name, info, wire }).collect()
    }

    fn wire(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn unique_provider_is_wired_automatically_and_ordered_first() {
        let specs = [
            ("app", info(&["morgana:kv/store@0.1.0", "wasi:cli/stdout@0.2.0"], &["wasi:cli/run@0.2.0"]), wire(&[])),
            ("site", info(&[], &["morgana:kv/store@0.1.0"]), wire(&[])),
        ];
        let plan = resolve(&nodes(&specs), None, &HOST).unwrap();
        assert_eq!(plan.main, 0);
        assert_eq!(plan.order, vec![1, 0]);
        assert_eq!(plan.wires[0].provider, Provider::Component { node: 1, export: "morgana:kv/store@0.1.0".into() });
        assert_eq!(plan.wires[1].provider, Provider::Host);
    }

    #[test]
    fn two_providers_need_an_explicit_wire() {
        let mut specs = [
            ("app", info(&["morgana:kv/store@0.1.0"], &["wasi:cli/run@0.2.0"]), wire(&[])),
            ("a", info(&[], &["morgana:kv/store@0.1.0"]), wire(&[])),
            ("b", info(&[], &["morgana:kv/store@0.1.0"]), wire(&[])),
        ];
        let err = resolve(&nodes(&specs), None, &HOST).unwrap_err();
        assert!(matches!(&err, WiringError::Ambiguous { providers, .. } if providers == &["a", "b"]));
        assert!(err.to_string().contains("[components.app.wire]"), "{err}");

        specs[0].2 = wire(&[("morgana:kv/store", "b")]);
        let plan = resolve(&nodes(&specs), None, &HOST).unwrap();
        assert_eq!(plan.order, vec![2, 0]);
        assert_eq!(plan.unused, vec![1]);
        assert!(plan.wires[0].explicit);
    }

    #[test]
    fn missing_provider_says_what_could_provide_it() {
        let specs = [("app", info(&["morgana:kv/store@0.1.0"], &["wasi:cli/run@0.2.0"]), wire(&[]))];
        let err = resolve(&nodes(&specs), None, &HOST).unwrap_err();
        assert!(err.to_string().contains("[kv.NAME]"), "{err}");

        let specs = [("app", info(&["wasi:cli/stdout@0.3.0"], &[]), wire(&[]))];
        let err = resolve(&nodes(&specs), None, &HOST).unwrap_err();
        assert!(err.to_string().contains("only at version 0.2.x"), "{err}");

        let specs = [("app", info(&["wasi:http/types@0.2.0"], &[]), wire(&[]))];
        let err = resolve(&nodes(&specs), None, &HOST).unwrap_err();
        assert!(matches!(err, WiringError::Unsatisfied { .. }));
        assert!(err.to_string().contains("does not provide it"), "{err}");
    }

    #[test]
    fn explicit_wires_are_checked() {
        let app = |w| {
            [
                ("app", info(&["wasi:http/types@0.2.0", "wasi:cli/stdout@0.2.0"], &[]), w),
                ("lib", info(&[], &["x:y/z"]), wire(&[])),
            ]
        };
        let specs = app(wire(&[("wasi:http/types", "host")]));
        assert!(matches!(resolve(&nodes(&specs), None, &HOST), Err(WiringError::HostLacksInterface { .. })));
        let specs = app(wire(&[("wasi:http/types", "lib")]));
        assert!(matches!(resolve(&nodes(&specs), None, &HOST), Err(WiringError::ProviderLacksExport { .. })));
        let specs = app(wire(&[("wasi:http/types", "nobody")]));
        assert!(matches!(resolve(&nodes(&specs), None, &HOST), Err(WiringError::UnknownProvider { .. })));
        let specs = app(wire(&[("wasi:nothing/here", "lib")]));
        assert!(matches!(resolve(&nodes(&specs), None, &HOST), Err(WiringError::WireToUnknownImport { .. })));
        let specs = app(wire(&[("wasi:cli/stdout@0.2.0", "host"), ("wasi:http/types", "app")]));
        assert!(matches!(resolve(&nodes(&specs), None, &HOST), Err(WiringError::WireToSelf { .. })));
    }

    #[test]
    fn cycles_are_named() {
        let specs = [
            ("a", info(&["t:c/ping"], &["t:c/pong"]), wire(&[])),
            ("b", info(&["t:c/pong"], &["t:c/ping"]), wire(&[])),
        ];
        let err = resolve(&nodes(&specs), None, &HOST).unwrap_err();
        assert_eq!(err, WiringError::Cycle { path: vec!["a".into(), "b".into(), "a".into()] });
        assert!(err.to_string().contains("a → b → a"));
    }

    #[test]
    fn main_is_inferred_or_asked_for() {
        let specs = [("x", info(&[], &["a:b/c"]), wire(&[])), ("y", info(&[], &["a:b/d"]), wire(&[]))];
        let err = resolve(&nodes(&specs), None, &HOST).unwrap_err();
        assert!(err.to_string().contains("main = \"NAME\""), "{err}");
        let plan = resolve(&nodes(&specs), Some("y"), &HOST).unwrap();
        assert_eq!((plan.main, plan.unused), (1, vec![0]));

        let specs = [("x", info(&[], &["a:b/c"]), wire(&[])), ("y", info(&[], &["wasi:cli/run@0.2.0"]), wire(&[]))];
        assert_eq!(resolve(&nodes(&specs), None, &HOST).unwrap().main, 1);
    }
}
