//! The interfaces a target's host provides, which is what may stay imported after composition.

use crate::component::split_version;

/// The WASI version line every host provides: any 0.2.x, as wasmtime's linker matches them.
pub const WASI_VERSION_LINE: &str = "0.2";

/// A package a host can provide: its interfaces and the version line it provides them at.
#[derive(Debug, Clone, Copy)]
pub struct HostPackage {
    pub name: &'static str,
    /// Any version on this line is provided: `0.2` covers `0.2.0` to `0.2.x`.
    pub line: &'static str,
    pub interfaces: &'static [&'static str],
}

/// Every package some target's host provides. A host provides a package whole.
pub const KNOWN_PACKAGES: &[HostPackage] = &[
    HostPackage {
        name: "wasi:cli",
        line: WASI_VERSION_LINE,
        interfaces: &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    },
    HostPackage { name: "wasi:clocks", line: WASI_VERSION_LINE, interfaces: &["monotonic-clock", "wall-clock"] },
    HostPackage { name: "wasi:filesystem", line: WASI_VERSION_LINE, interfaces: &["types", "preopens"] },
    HostPackage { name: "wasi:io", line: WASI_VERSION_LINE, interfaces: &["error", "poll", "streams"] },
    HostPackage { name: "wasi:random", line: WASI_VERSION_LINE, interfaces: &["random", "insecure", "insecure-seed"] },
    HostPackage {
        name: "wasi:sockets",
        line: WASI_VERSION_LINE,
        interfaces: &[
            "network",
            "instance-network",
            "tcp",
            "tcp-create-socket",
            "udp",
            "udp-create-socket",
            "ip-name-lookup",
        ],
    },
    // HTTP, as wasmtime-wasi-http provides it: what a wasi:http/proxy component imports.
    HostPackage { name: "wasi:http", line: WASI_VERSION_LINE, interfaces: &["types", "outgoing-handler"] },
    // The host's private keys and native AEAD, used by the TLS component (wit/crypto/).
    HostPackage { name: "morgana:crypto", line: "0.1", interfaces: &["signing", "aead"] },
];

fn known_package(name: &str) -> Option<&'static HostPackage> {
    KNOWN_PACKAGES.iter().find(|p| p.name == name)
}

/// The host interfaces of one target, e.g. WASI 0.2 as wasmtime-wasi provides it on `unix`.
#[derive(Debug, Clone, Copy)]
pub struct HostInterfaces {
    /// The target's name as the CLI spells it (`unix`, `qemu`).
    pub target: &'static str,
    /// The packages it provides, e.g. `wasi:cli` (names from [`KNOWN_PACKAGES`]).
    pub packages: &'static [&'static str],
}

impl HostInterfaces {
    /// Whether the host provides an import of this name.
    pub fn provides(&self, import: &str) -> bool {
        let (base, version) = split_version(import);
        let line = base.split_once('/').and_then(|(package, _)| known_package(package)).map(|p| p.line);
        matches!((version, line), (Some(v), Some(line)) if same_line(v, line)) && self.provides_interface(base)
    }

    /// Whether the host provides some version of this interface, but not the one imported.
    pub fn provides_other_version(&self, import: &str) -> bool {
        self.provides_interface(split_version(import).0) && !self.provides(import)
    }

    fn provides_interface(&self, base: &str) -> bool {
        let Some((package, interface)) = base.split_once('/') else { return false };
        self.packages.contains(&package) && known_package(package).is_some_and(|p| p.interfaces.contains(&interface))
    }

    /// Every interface the host provides, `package/interface`, without version.
    pub fn interfaces(&self) -> Vec<String> {
        interfaces_of(self.packages)
    }

    /// The host's packages, for messages.
    pub fn packages(&self) -> Vec<&'static str> {
        self.packages.to_vec()
    }

    /// The version line the host provides `package` at, e.g. `0.2` for `wasi:cli`.
    pub fn line_of(&self, package: &str) -> &'static str {
        known_package(package).map_or(WASI_VERSION_LINE, |p| p.line)
    }

    /// The packages with their lines, for messages: "wasi:cli 0.2.x, …, morgana:crypto 0.1.x".
    pub fn described(&self) -> String {
        self.packages.iter().map(|p| format!("{p} {}.x", self.line_of(p))).collect::<Vec<_>>().join(", ")
    }
}

/// The interfaces of some host packages, `package/interface`, without version.
pub fn interfaces_of(packages: &[&str]) -> Vec<String> {
    KNOWN_PACKAGES
        .iter()
        .filter(|package| packages.contains(&package.name))
        .flat_map(|package| package.interfaces.iter().map(move |i| format!("{}/{i}", package.name)))
        .collect()
}

/// `0.2.3` is on line `0.2`; `1.4.0` is on line `1`.
fn same_line(version: &str, line: &str) -> bool {
    let version = version.split(['-', '+']).next().unwrap_or(version);
    version == line || version.strip_prefix(line).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: HostInterfaces = HostInterfaces { target: "test", packages: &["wasi:cli", "wasi:io"] };

    #[test]
    fn any_patch_release_of_the_line_is_provided() {
        assert!(HOST.provides("wasi:cli/environment@0.2.0"));
        assert!(HOST.provides("wasi:io/streams@0.2.12"));
        assert!(!HOST.provides("wasi:io/streams@0.3.0"));
        assert!(!HOST.provides("wasi:io/streams@0.20.0"));
        assert!(!HOST.provides("wasi:io/streams"));
        assert!(!HOST.provides("wasi:io/nonsense@0.2.0"));
        assert!(!HOST.provides("wasi:http/types@0.2.0"));
        assert!(!HOST.provides("wasi:random/random@0.2.0"));
        assert!(HOST.provides_other_version("wasi:io/streams@0.3.0"));
        assert_eq!(HOST.packages(), vec!["wasi:cli", "wasi:io"]);
        assert_eq!(HOST.interfaces().len(), 13);
        assert!(HOST.interfaces().contains(&"wasi:io/poll".to_string()));
    }

    #[test]
    fn each_package_is_provided_on_its_own_line() {
        let host = HostInterfaces { target: "test", packages: &["wasi:cli", "morgana:crypto"] };
        assert!(host.provides("morgana:crypto/signing@0.1.0"));
        assert!(host.provides("morgana:crypto/signing@0.1.3"));
        assert!(!host.provides("morgana:crypto/signing@0.2.0"));
        assert!(!host.provides("wasi:cli/stdout@0.1.0"));
        assert!(host.provides_other_version("morgana:crypto/signing@0.2.0"));
        assert_eq!(host.described(), "wasi:cli 0.2.x, morgana:crypto 0.1.x");
        assert!(!HOST.provides("morgana:crypto/signing@0.1.0"));
    }
}
