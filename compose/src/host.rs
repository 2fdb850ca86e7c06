//! The interfaces a target's host provides, which is what may stay imported after composition.

use crate::component::split_version;

/// The WASI version line every host provides: any 0.2.x, as wasmtime's linker matches them.
pub const WASI_VERSION_LINE: &str = "0.2";

/// WASI 0.2's interfaces, by package. A host provides a package whole.
pub const WASI_0_2: &[(&str, &[&str])] = &[
    (
        "wasi:cli",
        &[
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
    ),
    ("wasi:clocks", &["monotonic-clock", "wall-clock"]),
    ("wasi:filesystem", &["types", "preopens"]),
    ("wasi:io", &["error", "poll", "streams"]),
    ("wasi:random", &["random", "insecure", "insecure-seed"]),
    (
        "wasi:sockets",
        &["network", "instance-network", "tcp", "tcp-create-socket", "udp", "udp-create-socket", "ip-name-lookup"],
    ),
];

/// The host interfaces of one target, e.g. WASI 0.2 as wasmtime-wasi provides it on `unix`.
#[derive(Debug, Clone, Copy)]
pub struct HostInterfaces {
    /// The target's name as the CLI spells it (`unix`, `qemu`).
    pub target: &'static str,
    /// The WASI packages it provides, e.g. `wasi:cli`.
    pub packages: &'static [&'static str],
}

impl HostInterfaces {
    /// Whether the host provides an import of this name.
    pub fn provides(&self, import: &str) -> bool {
        let (base, version) = split_version(import);
        version.is_some_and(|v| same_line(v, WASI_VERSION_LINE)) && self.provides_interface(base)
    }

    /// Whether the host provides some version of this interface, but not the one imported.
    pub fn provides_other_version(&self, import: &str) -> bool {
        self.provides_interface(split_version(import).0) && !self.provides(import)
    }

    fn provides_interface(&self, base: &str) -> bool {
        let Some((package, interface)) = base.split_once('/') else { return false };
        self.packages.contains(&package)
            && WASI_0_2.iter().any(|(p, interfaces)| *p == package && interfaces.contains(&interface))
    }

    /// Every interface the host provides, `package/interface`, without version.
    pub fn interfaces(&self) -> Vec<String> {
        interfaces_of(self.packages)
    }

    /// The host's packages, for messages.
    pub fn packages(&self) -> Vec<&'static str> {
        self.packages.to_vec()
    }
}

/// The interfaces of some WASI 0.2 packages, `package/interface`, without version.
pub fn interfaces_of(packages: &[&str]) -> Vec<String> {
    WASI_0_2
        .iter()
        .filter(|(package, _)| packages.contains(package))
        .flat_map(|(package, interfaces)| interfaces.iter().map(move |i| format!("{package}/{i}")))
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
}
