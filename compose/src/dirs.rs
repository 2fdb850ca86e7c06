//! Preopened directories of the build machine (`[dirs]`, `morgana run --dir`): checked before a
//! run, and archived (`morgana_image::archive`) for an image or the console channel.
//!
//! An archive keeps directories (empty ones too), regular files and symbolic links as they are
//! (a link is not followed: the guest resolves it in the VM, as cap-std would on the host), with
//! their modification times. Anything else (sockets, devices, FIFOs) is left out with a warning,
//! since a preopened host directory would show it but nothing in the VM could serve it.

use std::path::{Path, PathBuf};

use morgana_image::archive::{self, Entry, Kind};

/// Why a directory cannot be preopened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirError {
    #[error("preopened directory \"{guest}\": {} does not exist; create it or fix the path", path.display())]
    Missing { guest: String, path: PathBuf },
    #[error("preopened directory \"{guest}\": {} is not a directory; the path must name one", path.display())]
    NotADirectory { guest: String, path: PathBuf },
    #[error("preopened directory \"{guest}\": cannot read {}: {error}; make it readable or move it out of the directory", path.display())]
    Read { guest: String, path: PathBuf, error: std::io::Error },
    #[error("preopened directory \"{guest}\": the name {} is not UTF-8, which WASI paths must be; rename it", path.display())]
    NonUtf8 { guest: String, path: PathBuf },
}

/// Checks that `path` is a directory that can be opened.
pub fn check(guest: &str, path: &Path) -> Result<(), DirError> {
    let meta = std::fs::metadata(path).map_err(|_| DirError::Missing { guest: guest.into(), path: path.into() })?;
    if !meta.is_dir() {
        return Err(DirError::NotADirectory { guest: guest.into(), path: path.into() });
    }
    std::fs::read_dir(path).map_err(|error| DirError::Read { guest: guest.into(), path: path.into(), error })?;
    Ok(())
}

/// A file left out of an archive, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: &'static str,
}

/// Everything below `root` as an archive (entries sorted by path), and what was left out.
pub fn archive_dir(guest: &str, root: &Path) -> Result<(Vec<u8>, Vec<Skipped>), DirError> {
    check(guest, root)?;
    struct Owned {
        kind: Kind,
        path: String,
        modified: (u64, u32),
        data: Vec<u8>,
    }
    let read_error = |path: &Path, error| DirError::Read { guest: guest.into(), path: path.into(), error };
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for child in std::fs::read_dir(&dir).map_err(|e| read_error(&dir, e))? {
            let child = child.map_err(|e| read_error(&dir, e))?;
            let path = child.path();
            let name = child
                .file_name()
                .into_string()
                .map_err(|_| DirError::NonUtf8 { guest: guest.into(), path: path.clone() })?;
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let meta = std::fs::symlink_metadata(&path).map_err(|e| read_error(&path, e))?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()));
            let file_type = meta.file_type();
            let (kind, data) = if file_type.is_dir() {
                pending.push((path.clone(), relative.clone()));
                (Kind::Directory, Vec::new())
            } else if file_type.is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| read_error(&path, e))?;
                let target = target
                    .into_os_string()
                    .into_string()
                    .map_err(|_| DirError::NonUtf8 { guest: guest.into(), path: path.clone() })?;
                (Kind::Symlink, target.into_bytes())
            } else if file_type.is_file() {
                (Kind::File, std::fs::read(&path).map_err(|e| read_error(&path, e))?)
            } else {
                skipped.push(Skipped { path, reason: "neither a file, a directory nor a symbolic link" });
                continue;
            };
            entries.push(Owned { kind, path: relative, modified, data });
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let borrowed: Vec<Entry<'_>> =
        entries.iter().map(|e| Entry { kind: e.kind, path: &e.path, modified: e.modified, data: &e.data }).collect();
    Ok((archive::encode(&borrowed), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_archived_with_its_links_and_empty_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/empty")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "hello").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", dir.path().join("link")).unwrap();
        let (bytes, skipped) = archive_dir("/data", dir.path()).unwrap();
        assert!(skipped.is_empty());
        let entries = archive::decode(&bytes).unwrap();
        let listed: Vec<(Kind, &str, &[u8])> = entries.iter().map(|e| (e.kind, e.path, e.data)).collect();
        assert_eq!(
            listed,
            [
                (Kind::Symlink, "link", &b"sub/a.txt"[..]),
                (Kind::Directory, "sub", &b""[..]),
                (Kind::File, "sub/a.txt", &b"hello"[..]),
                (Kind::Directory, "sub/empty", &b""[..]),
            ]
        );
        assert!(matches!(archive_dir("/x", &dir.path().join("nope")), Err(DirError::Missing { .. })));
        assert!(matches!(archive_dir("/x", &dir.path().join("sub/a.txt")), Err(DirError::NotADirectory { .. })));
    }
}
