//! A directory tree as bytes: how `morgana build` bakes a `[dirs]` directory into an image, and
//! how `morgana run --dir` sends one over the console channel. The kernel reads it in place
//! (file contents are borrowed from it) into the in-memory filesystem it preopens.
//!
//! ```text
//! u32                 entry count
//! per entry:
//!   u8                kind: 1 directory, 2 file, 3 symbolic link
//!   u32 + bytes       path, UTF-8, relative, `/`-separated (no empty, `.` or `..` component)
//!   u64, u32          modification time: seconds since 1970, nanoseconds
//!   u64 + bytes       contents (a file), target (a symbolic link), nothing (a directory)
//! ```
//!
//! Entries come in any order; a parent directory need not have its own entry. Integers are
//! little endian. Reading never panics, whatever the bytes.

use alloc::vec::Vec;
use core::fmt;

use crate::wire::Reader;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
    Symlink,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Directory => 1,
            Kind::File => 2,
            Kind::Symlink => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Kind::Directory),
            2 => Some(Kind::File),
            3 => Some(Kind::Symlink),
            _ => None,
        }
    }
}

/// One entry: read from an archive (borrowing from it), or to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub kind: Kind,
    pub path: &'a str,
    /// Seconds since 1970 and nanoseconds.
    pub modified: (u64, u32),
    pub data: &'a [u8],
}

/// Why bytes are not an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The bytes end inside an entry.
    Truncated,
    /// An entry of an unknown kind.
    BadKind(u8),
    /// A path that is not UTF-8, absolute, empty, or has `.`/`..`/empty components.
    BadPath,
    /// A directory entry with contents, or a nanosecond count of a second or more.
    Malformed,
    /// Bytes after the last entry.
    TrailingBytes,
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Truncated => f.write_str("a directory archive is truncated"),
            ArchiveError::BadKind(kind) => write!(f, "a directory archive has an entry of unknown kind {kind}"),
            ArchiveError::BadPath => f.write_str("a directory archive has an entry whose path is not a relative path"),
            ArchiveError::Malformed => f.write_str("a directory archive has a malformed entry"),
            ArchiveError::TrailingBytes => f.write_str("a directory archive has bytes after its last entry"),
        }
    }
}

impl core::error::Error for ArchiveError {}

/// Whether `path` is a relative `/`-separated path of plain names.
pub fn is_relative_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Encodes entries; the caller checks paths with [`is_relative_path`] (a bad one is refused
/// by the reader).
pub fn encode(entries: &[Entry<'_>]) -> Vec<u8> {
    let size: usize = entries.iter().map(|e| 25 + e.path.len() + e.data.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for entry in entries {
        out.push(entry.kind.code());
        out.extend_from_slice(&(entry.path.len() as u32).to_le_bytes());
        out.extend_from_slice(entry.path.as_bytes());
        out.extend_from_slice(&entry.modified.0.to_le_bytes());
        out.extend_from_slice(&entry.modified.1.to_le_bytes());
        out.extend_from_slice(&(entry.data.len() as u64).to_le_bytes());
        out.extend_from_slice(entry.data);
    }
    out
}

/// Reads every entry, checking each; the entries borrow from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry<'_>>, ArchiveError> {
    let mut reader = Reader(bytes);
    let count = reader.u32().ok_or(ArchiveError::Truncated)? as usize;
    // Every entry takes at least 25 bytes: a larger count is a lie.
    if count > reader.remaining() / 25 {
        return Err(ArchiveError::Truncated);
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = reader.take(1).ok_or(ArchiveError::Truncated)?[0];
        let kind = Kind::from_code(kind).ok_or(ArchiveError::BadKind(kind))?;
        let path = reader.bytes().ok_or(ArchiveError::Truncated)?;
        let path = core::str::from_utf8(path).map_err(|_| ArchiveError::BadPath)?;
        if !is_relative_path(path) {
            return Err(ArchiveError::BadPath);
        }
        let seconds = reader.u64().ok_or(ArchiveError::Truncated)?;
        let nanoseconds = reader.u32().ok_or(ArchiveError::Truncated)?;
        if nanoseconds >= 1_000_000_000 {
            return Err(ArchiveError::Malformed);
        }
        let data_len = reader.u64().and_then(|len| usize::try_from(len).ok()).ok_or(ArchiveError::Truncated)?;
        let data = reader.take(data_len).ok_or(ArchiveError::Truncated)?;
        if kind == Kind::Directory && !data.is_empty() {
            return Err(ArchiveError::Malformed);
        }
        entries.push(Entry { kind, path, modified: (seconds, nanoseconds), data });
    }
    if !reader.is_empty() {
        return Err(ArchiveError::TrailingBytes);
    }
    Ok(entries)
}

/// The total size of the files in an archive's entries.
pub fn file_bytes(entries: &[Entry<'_>]) -> u64 {
    entries.iter().filter(|e| e.kind == Kind::File).map(|e| e.data.len() as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_round_trip() {
        let entries = [
            Entry { kind: Kind::Directory, path: "empty", modified: (1, 2), data: &[] },
            Entry { kind: Kind::File, path: "a/b.txt", modified: (1_700_000_000, 999_999_999), data: b"hello" },
            Entry { kind: Kind::Symlink, path: "a/link", modified: (0, 0), data: b"b.txt" },
        ];
        let bytes = encode(&entries);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded, entries);
        assert_eq!(file_bytes(&decoded), 5);
        assert_eq!(decode(&encode(&[])).unwrap(), []);
    }

    #[test]
    fn bad_archives_are_refused() {
        let good = encode(&[Entry { kind: Kind::File, path: "f", modified: (0, 0), data: b"x" }]);
        assert_eq!(decode(&good[..good.len() - 1]), Err(ArchiveError::Truncated));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(ArchiveError::TrailingBytes));
        for path in ["", "/etc", "a/../b", "a//b", "./a", "a/"] {
            let bytes = encode(&[Entry { kind: Kind::File, path, modified: (0, 0), data: b"" }]);
            assert_eq!(decode(&bytes), Err(ArchiveError::BadPath), "{path:?}");
        }
        let mut bad_kind = good.clone();
        bad_kind[4] = 9;
        assert_eq!(decode(&bad_kind), Err(ArchiveError::BadKind(9)));
        let directory_with_data = encode(&[Entry { kind: Kind::Directory, path: "d", modified: (0, 0), data: b"x" }]);
        assert_eq!(decode(&directory_with_data), Err(ArchiveError::Malformed));
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff]), Err(ArchiveError::Truncated));
    }
}
