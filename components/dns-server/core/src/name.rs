//! Domain names: presentation-format parsing and canonical lookup keys.

use core::fmt;

use hickory_proto::rr::Name;

/// A name as its lowercased labels, root-most first. Ordering these vectors is the canonical DNS
/// name order of RFC 4034 section 6.1, so a `BTreeMap` keyed by them iterates a zone the way
/// AXFR (and NSD) lists it, and a prefix of a key is the key of an ancestor.
pub(crate) type Key = Vec<Box<[u8]>>;

/// The canonical key of `name`.
pub(crate) fn key(name: &Name) -> Key {
    let mut key: Key = name.iter().map(|label| label.to_ascii_lowercase().into_boxed_slice()).collect();
    key.reverse();
    key
}

/// Why a name in a zone file is not a valid domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// Two dots in a row, or an empty name.
    EmptyLabel,
    /// A label longer than 63 octets.
    LabelTooLong,
    /// A name longer than 255 octets in wire format.
    NameTooLong,
    /// A backslash at the end, or `\DDD` above 255.
    BadEscape,
    /// A relative name (or `@`) and no origin to complete it.
    NoOrigin,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::EmptyLabel => "empty label",
            NameError::LabelTooLong => "label longer than 63 octets",
            NameError::NameTooLong => "name longer than 255 octets",
            NameError::BadEscape => "bad escape sequence",
            NameError::NoOrigin => "relative name but no $ORIGIN",
        })
    }
}

/// Parses a name in presentation format (RFC 1035 section 5.1: `\X` and `\DDD` escapes, `@` for
/// the origin, relative names completed with `origin`).
pub(crate) fn parse_name(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
    if text == "@" {
        return origin.cloned().ok_or(NameError::NoOrigin);
    }
    if text == "." {
        return Ok(Name::root());
    }
    let bytes = text.as_bytes();
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut absolute = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let digits = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = digits {
                    let value = d.iter().fold(0u32, |v, c| v * 10 + u32::from(c - b'0'));
                    current.push(u8::try_from(value).map_err(|_| NameError::BadEscape)?);
                    i += 4;
                } else if let Some(&c) = bytes.get(i + 1) {
                    current.push(c);
                    i += 2;
                } else {
                    return Err(NameError::BadEscape);
                }
            }
            b'.' => {
                if current.is_empty() {
                    return Err(NameError::EmptyLabel);
                }
                labels.push(core::mem::take(&mut current));
                i += 1;
                absolute = i == bytes.len();
            }
            c => {
                current.push(c);
                i += 1;
            }
        }
        if current.len() > 63 {
            return Err(NameError::LabelTooLong);
        }
    }
    if !current.is_empty() {
        labels.push(current);
    }
    if labels.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    if !absolute {
        let origin = origin.ok_or(NameError::NoOrigin)?;
        labels.extend(origin.iter().map(<[u8]>::to_vec));
    }
    let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire_len > 255 {
        return Err(NameError::NameTooLong);
    }
    Name::from_labels(labels).map_err(|_| NameError::NameTooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn relative_absolute_and_origin() {
        let origin = n("example.com.");
        assert_eq!(parse_name("www", Some(&origin)).unwrap(), n("www.example.com."));
        assert_eq!(parse_name("www.example.org.", Some(&origin)).unwrap(), n("www.example.org."));
        assert_eq!(parse_name("@", Some(&origin)).unwrap(), origin);
        assert!(parse_name(".", None).unwrap().is_root());
        assert_eq!(parse_name("www", None), Err(NameError::NoOrigin));
    }

    #[test]
    fn escapes() {
        let name = parse_name("a\\.b.c\\065.", None).unwrap();
        let labels: Vec<&[u8]> = name.iter().collect();
        assert_eq!(labels, vec![&b"a.b"[..], &b"cA"[..]]);
        assert_eq!(parse_name("a\\256.", None), Err(NameError::BadEscape));
        assert_eq!(parse_name("a\\", None), Err(NameError::BadEscape));
    }

    #[test]
    fn limits() {
        let long_label = "a".repeat(64);
        assert_eq!(parse_name(&format!("{long_label}."), None), Err(NameError::LabelTooLong));
        let ok = format!("{0}.{0}.{0}.{1}.", "a".repeat(63), "a".repeat(61));
        assert!(parse_name(&ok, None).is_ok());
        let too_long = format!("{0}.{0}.{0}.{1}.", "a".repeat(63), "a".repeat(62));
        assert_eq!(parse_name(&too_long, None), Err(NameError::NameTooLong));
        assert_eq!(parse_name("a..b.", None), Err(NameError::EmptyLabel));
        assert_eq!(parse_name("", None), Err(NameError::EmptyLabel));
    }

    #[test]
    fn canonical_order() {
        let mut names = [n("z.example."), n("example."), n("*.z.example."), n("a.example."), n("YljkjljK.a.example.")];
        names.sort_by_key(key);
        let sorted: Vec<String> = names.iter().map(|n| n.to_ascii()).collect();
        assert_eq!(sorted, ["example.", "a.example.", "YljkjljK.a.example.", "z.example.", "*.z.example."]);
    }
}
