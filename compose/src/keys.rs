//! The host's TLS keys of a manifest (`[keys.NAME]`): checked at build time, so a key that does
//! not match its certificate, or a certificate that has expired, stops the build with a message;
//! and development certificates (`self-signed`) made on first use and kept beside the build's
//! output, so every build and run of the application serves the same one.
//!
//! Only paths travel on from here: the keys themselves are read by the host that runs the
//! application (the unix host, or the image builder for the kernel), never by a component.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::manifest::{KeySource, KeySpec, Manifest};

/// How long a development certificate is valid; it is made anew once expired.
const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a key of the manifest cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("[keys.{name}]: cannot read {}: {error}", path.display())]
    Read { name: String, path: PathBuf, error: std::io::Error },
    #[error("[keys.{name}]: {} and {}: {error}", certificate.display(), key.display())]
    Invalid { name: String, certificate: PathBuf, key: PathBuf, error: morgana_keys::KeyError },
    #[error("[keys.{name}]: cannot make a self-signed certificate: {reason}")]
    SelfSigned { name: String, reason: String },
    #[error("[keys.{name}]: cannot write {}: {error}", path.display())]
    Write { name: String, path: PathBuf, error: std::io::Error },
}

/// The manifest's keys as PEM files, each checked: self-signed ones made (or reused) under
/// `target/morgana/keys/` beside the manifest.
pub fn resolve(manifest: &Manifest) -> Result<Vec<KeySpec>, KeyFileError> {
    let keys_dir = manifest.dir.join("target").join("morgana").join("keys");
    manifest
        .keys
        .iter()
        .map(|spec| {
            let (certificate, key) = match &spec.source {
                KeySource::Files { certificate, key } => (certificate.clone(), key.clone()),
                KeySource::SelfSigned { names } => self_signed(&keys_dir, &spec.name, names)?,
            };
            load(&spec.name, &certificate, &key)?;
            Ok(KeySpec { name: spec.name.clone(), source: KeySource::Files { certificate, key } })
        })
        .collect()
}

/// Reads a key and its certificate chain from PEM files and checks that they belong together
/// and that the certificate is valid now.
pub fn load(name: &str, certificate: &Path, key: &Path) -> Result<morgana_keys::Key, KeyFileError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|error| KeyFileError::Read { name: name.into(), path: path.into(), error })
    };
    let invalid =
        |error| KeyFileError::Invalid { name: name.into(), certificate: certificate.into(), key: key.into(), error };
    let loaded = morgana_keys::Key::from_pem(name, &read(key)?, &read(certificate)?).map_err(invalid)?;
    loaded.check_validity(unix_now()).map_err(invalid)?;
    Ok(loaded)
}

/// `DIR/NAME.crt` and `DIR/NAME.key`: the ones made before when they are for the same names
/// and still valid, else new ones (an ECDSA P-256 key, a certificate valid for a year).
fn self_signed(dir: &Path, name: &str, names: &[String]) -> Result<(PathBuf, PathBuf), KeyFileError> {
    let certificate = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let names_file = dir.join(format!("{name}.names"));
    let wanted = names.join("\n");
    let same_names = std::fs::read_to_string(&names_file).is_ok_and(|kept| kept == wanted);
    if same_names && load(name, &certificate, &key).is_ok() {
        return Ok((certificate, key));
    }
    let fail = |reason: rcgen::Error| KeyFileError::SelfSigned { name: name.into(), reason: reason.to_string() };
    let pair = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(fail)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{} (Morgana development certificate)", names[0]));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + SELF_SIGNED_VALIDITY;
    let made = params.self_signed(&pair).map_err(fail)?;

    let write = |path: &Path, contents: &str, private: bool| {
        write_file(path, contents.as_bytes(), private).map_err(|error| KeyFileError::Write {
            name: name.into(),
            path: path.into(),
            error,
        })
    };
    std::fs::create_dir_all(dir).map_err(|error| KeyFileError::Write { name: name.into(), path: dir.into(), error })?;
    write(&key, &pair.serialize_pem(), true)?;
    write(&certificate, &made.pem(), false)?;
    write(&names_file, &wanted, false)?;
    Ok((certificate, key))
}

/// Writes through a temporary file (readable by the owner alone when `private`), so a failed
/// write never leaves half a key.
fn write_file(path: &Path, contents: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension(format!("partial-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options.open(&temporary).and_then(|mut file| file.write_all(contents));
    match result.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            Err(error)
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, keys: &str) -> Manifest {
        let text = format!("name = \"a\"\n[components.a]\npath = \".\"\n{keys}");
        Manifest::parse(&text, &dir.join("unikernel.toml")).unwrap()
    }

    #[test]
    fn a_self_signed_key_is_made_once_and_kept_for_the_same_names() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), "[keys.dev]\nself-signed = [\"localhost\", \"127.0.0.1\"]");
        let first = resolve(&m).unwrap();
        let KeySource::Files { certificate, key } = &first[0].source else { panic!("{first:?}") };
        assert_eq!(certificate, &dir.path().join("target/morgana/keys/dev.crt"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let loaded = load("dev", certificate, key).unwrap();
        assert!(loaded.not_after() - unix_now() > 360 * 24 * 3600);
        let pem = std::fs::read(certificate).unwrap();

        assert_eq!(resolve(&m).unwrap(), first);
        assert_eq!(std::fs::read(certificate).unwrap(), pem, "kept, not made anew");

        let other = manifest(dir.path(), "[keys.dev]\nself-signed = [\"example.test\"]");
        resolve(&other).unwrap();
        assert_ne!(std::fs::read(certificate).unwrap(), pem, "made anew for other names");
    }

    #[test]
    fn files_that_do_not_belong_together_are_refused_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), "[keys.a]\nself-signed = [\"a.test\"]\n[keys.b]\nself-signed = [\"b.test\"]");
        resolve(&m).unwrap();
        let mixed = manifest(
            dir.path(),
            "[keys.site]\ncertificate = \"target/morgana/keys/a.crt\"\nkey = \"target/morgana/keys/b.key\"",
        );
        let err = resolve(&mixed).unwrap_err().to_string();
        assert!(err.contains("[keys.site]") && err.contains("does not belong to this key"), "{err}");

        let missing = manifest(dir.path(), "[keys.site]\ncertificate = \"nope.crt\"\nkey = \"nope.key\"");
        let err = resolve(&missing).unwrap_err().to_string();
        assert!(err.contains("cannot read") && err.contains("nope.key"), "{err}");
    }
}
