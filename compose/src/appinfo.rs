//! What `morgana build` bakes into a composed component besides code: the application's name,
//! its baked environment, its run settings and the parts it was made of. It travels as a custom
//! section, so the component stays a standard component that any runtime accepts, and every
//! target reads the same bytes.

use serde::{Deserialize, Serialize};
use wasm_encoder::Encode;
use wasmparser::{Parser, Payload};

/// The custom section's name.
pub const SECTION: &str = "morgana-app";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    pub name: String,
    /// Baked environment variables, in order; boot or command-line values override them.
    pub env: Vec<(String, String)>,
    /// Whether the application may use the network.
    pub network: bool,
    /// Stop the application after this many milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The VM's memory in MiB on hypervisor targets.
    #[serde(default)]
    pub memory_mib: Option<u64>,
    /// Host ports forwarded to the VM by default, `[ADDRESS:]HOST:GUEST[/udp]`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// A static network configuration, instead of DHCP.
    #[serde(default)]
    pub net: Option<crate::manifest::NetSettings>,
    /// Where standard input comes from.
    #[serde(default)]
    pub stdin: crate::manifest::StdinMode,
    /// Preopened directories, in the order the application sees them.
    #[serde(default)]
    pub dirs: Vec<crate::manifest::DirSpec>,
    /// The host's TLS keys, as PEM files of the build machine (never the keys themselves).
    #[serde(default)]
    pub keys: Vec<crate::manifest::KeySpec>,
    /// The components composed into this one.
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    /// Where it came from, for people (`cargo crate examples/hello`).
    pub origin: String,
    pub size: u64,
}

/// Baked information that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the `{SECTION}` section of this component is damaged ({0}); rebuild it with `morgana build`")]
pub struct DamagedAppInfo(String);

impl AppInfo {
    /// What a component built elsewhere runs with: its name, and no baked settings.
    pub fn unnamed(name: impl Into<String>) -> Self {
        AppInfo {
            name: name.into(),
            env: Vec::new(),
            network: false,
            timeout_ms: None,
            memory_mib: None,
            ports: Vec::new(),
            net: None,
            stdin: Default::default(),
            dirs: Vec::new(),
            keys: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Appends this information to a component binary as a custom section.
    pub fn append_to(&self, component: &mut Vec<u8>) {
        let data = serde_json::to_vec(self).expect("AppInfo always serializes");
        let section = wasm_encoder::CustomSection { name: SECTION.into(), data: data.into() };
        component.push(0); // custom section id
        section.encode(component);
    }

    /// Reads the information baked into a component, if any.
    pub fn read_from(component: &[u8]) -> Result<Option<Self>, DamagedAppInfo> {
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(component) {
            match payload.map_err(|e| DamagedAppInfo(e.to_string()))? {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::CustomSection(section) if depth == 0 && section.name() == SECTION => {
                    return serde_json::from_slice(section.data()).map(Some).map_err(|e| DamagedAppInfo(e.to_string()));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_round_trip_and_leaves_a_valid_component() {
        let info = AppInfo {
            name: "hello".into(),
            env: vec![("GREETING".into(), "hi".into())],
            network: true,
            timeout_ms: Some(100),
            memory_mib: None,
            ports: vec!["8080:80".into()],
            net: None,
            stdin: crate::manifest::StdinMode::Null,
            dirs: vec![crate::manifest::DirSpec {
                guest: "/tmp".into(),
                source: crate::manifest::DirSource::Scratch { bytes: 1 << 20 },
            }],
            keys: vec![crate::manifest::KeySpec {
                name: "site".into(),
                source: crate::manifest::KeySource::Files { certificate: "/c.pem".into(), key: "/k.pem".into() },
            }],
            parts: vec![Part { name: "app".into(), origin: "cargo crate .".into(), size: 42 }],
        };
        let mut component = wat::parse_str("(component)").unwrap();
        assert_eq!(AppInfo::read_from(&component).unwrap(), None);
        info.append_to(&mut component);
        wasmparser::Validator::new().validate_all(&component).unwrap();
        assert_eq!(AppInfo::read_from(&component).unwrap(), Some(info));
    }
}
