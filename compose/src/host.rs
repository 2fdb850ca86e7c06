//! The interfaces a target's host provides, which is what may stay imported after composition.

use crate::component::split_version;

/// The host interfaces of one target, e.g. WASI 0.2 as wasmtime-wasi provides it on `unix`.
#[derive(Debug, Clone, Copy)]
pub struct HostInterfaces {
    /// The target's name as the CLI spells it (`unix`, `qemu`).
    pub target: &'static str,
    /// Interface names without version, e.g. `wasi:cli/environment`.
    pub interfaces: &'static [&'static str],
    /// Which versions of those interfaces the host accepts: `major.minor` for 0.x packages
    /// (any patch release of it), as wasmtime's linker matches them.
    pub version_line: &'static str,
}

impl HostInterfaces {
    /// Whether the host provides an import of this name.
    pub fn provides(&self, import: &str) -> bool {
        let (base, version) = split_version(import);
        let Some(version) = version else { return false };
        self.interfaces.contains(&base) && same_line(version, self.version_line)
    }

    /// Whether the host provides some version of this interface, but not the one imported.
    pub fn provides_other_version(&self, import: &str) -> bool {
        let (base, _) = split_version(import);
        self.interfaces.contains(&base) && !self.provides(import)
    }

    /// The host's interfaces of one package (`wasi:cli`), for messages.
    pub fn packages(&self) -> Vec<&'static str> {
        let mut packages: Vec<&str> = self.interfaces.iter().filter_map(|i| i.split_once('/').map(|(p, _)| p)).collect();
        packages.dedup();
        packages
    }
}

/// `0.2.3` is on line `0.2`; `1.4.0` is on line `1`.
fn same_line(version: &str, line: &str) -> bool {
    let version = version.split(['-', '+']).next().unwrap_or(version);
    version == line || version.strip_prefix(line).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: HostInterfaces = HostInterfaces {
        target: "test",
        interfaces: &["wasi:cli/environment", "wasi:io/streams"],
        version_line: "0.2",
    };

    #[test]
    fn any_patch_release_of_the_line_is_provided() {
        assert!(HOST.provides("wasi:cli/environment@0.2.0"));
        assert!(HOST.provides("wasi:io/streams@0.2.12"));
        assert!(!HOST.provides("wasi:io/streams@0.3.0"));
        assert!(!HOST.provides("wasi:io/streams@0.20.0"));
        assert!(!HOST.provides("wasi:io/streams"));
        assert!(!HOST.provides("wasi:http/types@0.2.0"));
        assert!(HOST.provides_other_version("wasi:io/streams@0.3.0"));
        assert_eq!(HOST.packages(), vec!["wasi:cli", "wasi:io"]);
    }
}
