//! The TLS keys a run holds for `morgana:crypto/signing`: the application's `[keys]` (baked as
//! paths), with `--key NAME=CERT[,KEY]` added or laid over them, each read and checked.

use anyhow::{Result, bail};
use morgana_compose::manifest::{KeySource, KeySpec};

/// `NAME=CERT[,KEY]`: PEM files of this machine; without KEY, CERT holds the key too.
fn parse_key_option(text: &str) -> Result<KeySpec> {
    let usage = "write --key NAME=CERT.pem,KEY.pem (or --key NAME=BOTH.pem for one file holding both)";
    let Some((name, files)) = text.split_once('=') else { bail!("--key {text}: no `=`; {usage}") };
    if name.is_empty() || files.is_empty() {
        bail!("--key {text}: the name or the files are missing; {usage}");
    }
    let (certificate, key) = files.split_once(',').unwrap_or((files, files));
    let absolute = |p: &str| std::path::absolute(p).unwrap_or_else(|_| p.into());
    Ok(KeySpec {
        name: name.into(),
        source: KeySource::Files { certificate: absolute(certificate), key: absolute(key) },
    })
}

/// The baked keys with the command line's laid over them (same name: the command line wins).
pub fn specs(baked: &[KeySpec], options: &[String]) -> Result<Vec<KeySpec>> {
    let mut keys = baked.to_vec();
    for option in options {
        let spec = parse_key_option(option)?;
        keys.retain(|k| k.name != spec.name);
        keys.push(spec);
    }
    Ok(keys)
}

/// Reads and checks every key: the run stops (status 2) on one that cannot be used.
pub fn load(specs: &[KeySpec]) -> Result<Vec<morgana_keys::Key>> {
    specs
        .iter()
        .map(|spec| match &spec.source {
            KeySource::Files { certificate, key } => Ok(morgana_compose::keys::load(&spec.name, certificate, key)?),
            KeySource::SelfSigned { .. } => {
                bail!("key `{}` is still a self-signed request; build the application first", spec.name)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_keys_are_added_or_replace_baked_ones() {
        let baked = vec![
            KeySpec {
                name: "a".into(),
                source: KeySource::Files { certificate: "/a.crt".into(), key: "/a.key".into() },
            },
            KeySpec {
                name: "b".into(),
                source: KeySource::Files { certificate: "/b.crt".into(), key: "/b.key".into() },
            },
        ];
        let keys = specs(&baked, &["b=/new.pem".into(), "c=/c.crt,/c.key".into()]).unwrap();
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(keys[1].source, KeySource::Files { certificate: "/new.pem".into(), key: "/new.pem".into() });
        assert_eq!(keys[2].source, KeySource::Files { certificate: "/c.crt".into(), key: "/c.key".into() });
        for bad in ["nothing", "=x.pem", "a="] {
            let err = specs(&[], &[bad.into()]).unwrap_err().to_string();
            assert!(err.contains("--key NAME=CERT.pem,KEY.pem"), "{err}");
        }
    }
}
