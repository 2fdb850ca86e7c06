//! `wasi:http/types.fields`: header and trailer fields, with wasmtime-wasi-http 48's rules.
//!
//! - Names are HTTP tokens, kept lowercase (`X-Custom` and `x-custom` are one name); values are
//!   bytes without control characters other than tab. A bad name or value is `invalid-syntax`.
//! - The hop-by-hop and connection-level names the host owns ([`FORBIDDEN`]) are `forbidden`
//!   to set, append or delete, and are removed from what arrives before the guest sees it.
//! - `Content-Length` takes a single value of digits only.
//! - Fields the guest made (`constructor`, `from-list`, `clone`) are mutable; those the host
//!   gives (a request's headers, a response's after `outgoing-response` took them) are
//!   `immutable`.
//! - A mutable map holds at most [`SIZE_LIMIT`] bytes; going beyond traps, as in wasmtime.
//!
//! Entries are grouped by name in the order each name first appeared, as `http::HeaderMap`
//! iterates them, so `entries` lists what wasmtime's would.

use alloc::string::String;
use alloc::vec::Vec;

use super::bindings::wasi::http::types::HeaderError;

/// The names the host owns (wasmtime-wasi-http's `DEFAULT_FORBIDDEN_HEADERS`).
pub const FORBIDDEN: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// The most bytes a mutable field map may hold (wasmtime-wasi-http's default field size limit).
pub const SIZE_LIMIT: usize = 128 * 1024;

/// What each name and each value costs beside its bytes, standing in for the size of
/// `http::HeaderName` and `http::HeaderValue` in wasmtime's accounting.
const ENTRY_OVERHEAD: usize = 32;

/// Why a change to fields failed: an error the guest receives, or a trap.
#[derive(Debug)]
pub enum FieldsError {
    Guest(HeaderError),
    /// The map would grow beyond [`SIZE_LIMIT`].
    TooLarge,
}

impl From<HeaderError> for FieldsError {
    fn from(error: HeaderError) -> Self {
        FieldsError::Guest(error)
    }
}

/// A `Content-Length` that is not a single number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadContentLength;

/// A field map.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    /// Lowercase names, each with its values in order.
    entries: Vec<(String, Vec<Vec<u8>>)>,
    mutable: bool,
    size: usize,
}

impl Fields {
    /// An empty map the guest may change.
    pub fn new_mutable() -> Fields {
        Fields { entries: Vec::new(), mutable: true, size: 0 }
    }

    /// A map of what arrived from a peer, read-only to the guest: invalid entries and those
    /// with a [`FORBIDDEN`] name are left out.
    pub fn received(pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Fields {
        let mut fields = Fields::new_mutable();
        for (name, value) in pairs {
            let Some(name) = parse_name(&name) else { continue };
            if is_forbidden(&name) || !is_valid_value(&value) {
                continue;
            }
            fields.push_value(name, value);
        }
        fields.mutable = false;
        fields
    }

    /// No longer changeable (a response or request took it).
    pub fn freeze(&mut self) {
        self.mutable = false;
    }

    /// A changeable copy (`clone`).
    pub fn thawed_copy(&self) -> Fields {
        Fields { mutable: true, ..self.clone() }
    }

    /// The values of `name` (none for a name that is not valid).
    pub fn get(&self, name: &str) -> Vec<Vec<u8>> {
        parse_name(name).and_then(|name| self.values(&name).map(<[_]>::to_vec)).unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        parse_name(name).is_some_and(|name| self.values(&name).is_some())
    }

    /// Replaces the values of `name` (no values: removes it).
    pub fn set(&mut self, name: &str, values: Vec<Vec<u8>>) -> Result<(), FieldsError> {
        let name = self.checked_name(name)?;
        self.check_mutable()?;
        if name == "content-length" && values.len() > 1 {
            return Err(HeaderError::InvalidSyntax.into());
        }
        for value in &values {
            check_value(&name, value)?;
        }
        let old = self.values(&name).map_or(0, value_bytes);
        let new = value_bytes(&values);
        let name_cost = name.len() + ENTRY_OVERHEAD;
        let size = match (self.values(&name).is_some(), values.is_empty()) {
            (true, true) => self.size - old - name_cost,
            (true, false) => self.size - old + new,
            (false, true) => return Ok(()),
            (false, false) => self.size + name_cost + new,
        };
        self.check_size(size)?;
        self.size = size;
        match self.entries.iter().position(|(n, _)| *n == name) {
            Some(at) if values.is_empty() => {
                self.entries.remove(at);
            }
            Some(at) => self.entries[at].1 = values,
            None => self.entries.push((name, values)),
        }
        Ok(())
    }

    /// Removes every value of `name`.
    pub fn delete(&mut self, name: &str) -> Result<(), FieldsError> {
        let name = self.checked_name(name)?;
        self.check_mutable()?;
        if let Some(at) = self.entries.iter().position(|(n, _)| *n == name) {
            let (name, values) = self.entries.remove(at);
            self.size -= name.len() + ENTRY_OVERHEAD + value_bytes(&values);
        }
        Ok(())
    }

    /// Adds one value to `name`.
    pub fn append(&mut self, name: &str, value: Vec<u8>) -> Result<(), FieldsError> {
        let name = self.checked_name(name)?;
        check_value(&name, &value)?;
        if name == "content-length" && self.values(&name).is_some() {
            return Err(HeaderError::InvalidSyntax.into());
        }
        self.check_mutable()?;
        let name_cost = if self.values(&name).is_some() { 0 } else { name.len() + ENTRY_OVERHEAD };
        let size = self.size + name_cost + value.len() + ENTRY_OVERHEAD;
        self.check_size(size)?;
        self.size = size;
        self.push_value(name, value);
        Ok(())
    }

    /// Every (name, value) pair, grouped by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().flat_map(|(name, values)| values.iter().map(move |v| (name.as_str(), v.as_slice())))
    }

    /// The single `Content-Length`, if there is one: `Err` when it is not one number.
    pub fn content_length(&self) -> Result<Option<u64>, BadContentLength> {
        match self.values("content-length") {
            None => Ok(None),
            Some([value]) => {
                core::str::from_utf8(value).ok().and_then(|s| s.parse().ok()).map(Some).ok_or(BadContentLength)
            }
            Some(_) => Err(BadContentLength),
        }
    }

    fn values(&self, name: &str) -> Option<&[Vec<u8>]> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, values)| values.as_slice())
    }

    fn push_value(&mut self, name: String, value: Vec<u8>) {
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => self.entries.push((name, alloc::vec![value])),
        }
    }

    /// The name, lowercased, unless it is not a token (`invalid-syntax`) or the host's
    /// (`forbidden`): checked in wasmtime's order, before mutability.
    fn checked_name(&self, name: &str) -> Result<String, FieldsError> {
        let name = parse_name(name).ok_or(HeaderError::InvalidSyntax)?;
        if is_forbidden(&name) {
            return Err(HeaderError::Forbidden.into());
        }
        Ok(name)
    }

    fn check_mutable(&self) -> Result<(), FieldsError> {
        if self.mutable { Ok(()) } else { Err(HeaderError::Immutable.into()) }
    }

    fn check_size(&self, size: usize) -> Result<(), FieldsError> {
        if size > SIZE_LIMIT { Err(FieldsError::TooLarge) } else { Ok(()) }
    }
}

fn value_bytes(values: &[Vec<u8>]) -> usize {
    values.iter().map(|v| v.len() + ENTRY_OVERHEAD).sum()
}

fn is_forbidden(lowercase_name: &str) -> bool {
    FORBIDDEN.contains(&lowercase_name)
}

/// A header name as `http::HeaderName::from_bytes` accepts it (a token, case folded), or `None`.
fn parse_name(name: &str) -> Option<String> {
    let valid = !name.is_empty() && name.len() <= u16::MAX as usize && name.bytes().all(is_tchar);
    valid.then(|| name.to_ascii_lowercase())
}

/// RFC 9110's `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// As `http::HeaderValue`: visible bytes, spaces, tabs and obs-text; no other control bytes.
fn is_valid_value(value: &[u8]) -> bool {
    value.iter().all(|&b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

fn check_value(name: &str, value: &[u8]) -> Result<(), HeaderError> {
    let valid = match name {
        // RFC 9110: `1*DIGIT`, no sign, no spaces.
        "content-length" => !value.is_empty() && value.iter().all(u8::is_ascii_digit) && value.len() <= 20,
        _ => is_valid_value(value),
    };
    if valid { Ok(()) } else { Err(HeaderError::InvalidSyntax) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn names_fold_case_and_values_group_by_name_in_first_arrival_order() {
        let mut fields = Fields::new_mutable();
        fields.append("X-A", b"1".to_vec()).unwrap();
        fields.append("x-b", b"2".to_vec()).unwrap();
        fields.append("x-a", b"3".to_vec()).unwrap();
        let entries: Vec<_> = fields.entries().collect();
        assert_eq!(entries, [("x-a", &b"1"[..]), ("x-a", b"3"), ("x-b", b"2")]);
        assert_eq!(fields.get("X-a"), vec![b"1".to_vec(), b"3".to_vec()]);
        assert!(fields.has("X-B") && !fields.has("x-c") && !fields.has("bad name"));
    }

    #[test]
    fn the_hosts_names_are_forbidden_and_checked_before_mutability() {
        let mut fields = Fields::new_mutable();
        for name in ["Connection", "transfer-encoding", "HOST", "upgrade"] {
            assert!(matches!(fields.append(name, b"x".to_vec()), Err(FieldsError::Guest(HeaderError::Forbidden))));
        }
        assert!(matches!(fields.set("bad:name", vec![]), Err(FieldsError::Guest(HeaderError::InvalidSyntax))));
        assert!(matches!(fields.append("x", b"a\nb".to_vec()), Err(FieldsError::Guest(HeaderError::InvalidSyntax))));
        fields.freeze();
        assert!(matches!(fields.delete("host"), Err(FieldsError::Guest(HeaderError::Forbidden))));
        assert!(matches!(fields.delete("x-a"), Err(FieldsError::Guest(HeaderError::Immutable))));
    }

    #[test]
    fn content_length_is_one_run_of_digits() {
        let mut fields = Fields::new_mutable();
        assert!(fields.append("content-length", b"+5".to_vec()).is_err());
        assert!(fields.set("content-length", vec![b"1".to_vec(), b"1".to_vec()]).is_err());
        fields.append("content-length", b"12".to_vec()).unwrap();
        assert!(fields.append("content-length", b"12".to_vec()).is_err());
        assert_eq!(fields.content_length(), Ok(Some(12)));
    }

    #[test]
    fn received_fields_leave_out_the_hosts_and_cannot_be_changed() {
        let mut fields = Fields::received([
            ("Host".into(), b"a".to_vec()),
            ("X-Custom".into(), b"yes".to_vec()),
            ("Connection".into(), b"close".to_vec()),
        ]);
        assert_eq!(fields.entries().collect::<Vec<_>>(), [("x-custom", &b"yes"[..])]);
        assert!(matches!(fields.append("x-more", b"1".to_vec()), Err(FieldsError::Guest(HeaderError::Immutable))));
        assert!(fields.thawed_copy().append("x-more", b"1".to_vec()).is_ok());
    }

    #[test]
    fn a_map_that_grows_beyond_the_limit_is_refused() {
        let mut fields = Fields::new_mutable();
        let big = vec![b'a'; SIZE_LIMIT / 2];
        fields.append("x-a", big.clone()).unwrap();
        assert!(matches!(fields.append("x-b", big), Err(FieldsError::TooLarge)));
        fields.set("x-a", vec![]).unwrap();
        assert_eq!(fields.size, 0);
    }
}
