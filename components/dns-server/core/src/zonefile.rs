//! RFC 1035 master-file parsing: the lexer (comments, parentheses, quoted strings, escapes) and
//! the record syntax (`$ORIGIN`, `$TTL`, `@`, relative and omitted owners, omitted TTL/class).
//!
//! Follows NSD's zone parser where RFC 1035 is loose: names are lowercased, a record without a
//! TTL gets `$TTL` (3600 until a `$TTL` is seen), and a first record without an owner takes the
//! origin.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::name::parse_name;
use crate::zone::ZoneErrorKind;

/// NSD's TTL for records when the file has no `$TTL`.
const DEFAULT_TTL: u32 = 3600;

/// A zone-file error: the line and what is wrong.
pub(crate) type LineError = (usize, ZoneErrorKind);

/// One record of a zone file.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRecord {
    pub line: usize,
    pub owner: Name,
    pub ttl: u32,
    pub rdata: RData,
}

/// A parsed file: its apex (the first `$ORIGIN` before any record, else the origin the caller
/// gave) and its records in file order.
#[derive(Debug)]
pub(crate) struct ParsedFile {
    pub apex: Name,
    pub records: Vec<ParsedRecord>,
}

#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    quoted: bool,
}

/// One logical entry: the tokens of a line, or of several joined by parentheses.
#[derive(Debug)]
struct Entry<'a> {
    line: usize,
    blank_owner: bool,
    tokens: Vec<Token<'a>>,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0, line: 1 }
    }

    /// Length of the escape starting at `at` (a backslash): the backslash and one character.
    fn escape_len(&self, at: usize) -> usize {
        1 + self.text[at + 1..].chars().next().map_or(0, char::len_utf8)
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, LineError> {
        let bytes = self.text.as_bytes();
        let mut entry = Entry { line: 0, blank_owner: false, tokens: Vec::new() };
        let mut depth = 0usize;
        let mut paren_line = 0;
        let mut line_start = self.pos == 0 || bytes.get(self.pos - 1) == Some(&b'\n');
        let mut line_blank = false;
        loop {
            let Some(&c) = bytes.get(self.pos) else {
                if depth > 0 {
                    return Err((paren_line, ZoneErrorKind::UnbalancedParentheses));
                }
                return Ok((!entry.tokens.is_empty()).then_some(entry));
            };
            if line_start {
                line_blank = c == b' ' || c == b'\t';
                line_start = false;
            }
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    line_start = true;
                    if depth == 0 && !entry.tokens.is_empty() {
                        return Ok(Some(entry));
                    }
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => {
                    while self.pos < bytes.len() && bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    depth += 1;
                    paren_line = self.line;
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        return Err((self.line, ZoneErrorKind::UnbalancedParentheses));
                    }
                    depth -= 1;
                    self.pos += 1;
                }
                b'"' => {
                    let start_line = self.line;
                    self.pos += 1;
                    let start = self.pos;
                    loop {
                        match bytes.get(self.pos) {
                            None => return Err((start_line, ZoneErrorKind::UnterminatedString)),
                            Some(b'"') => break,
                            Some(b'\\') => {
                                if bytes.get(self.pos + 1) == Some(&b'\n') {
                                    self.line += 1;
                                }
                                self.pos += self.escape_len(self.pos);
                            }
                            Some(b'\n') => {
                                self.line += 1;
                                self.pos += 1;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                    let text = &self.text[start..self.pos];
                    self.pos += 1;
                    self.push(&mut entry, Token { text, quoted: true }, start_line, line_blank);
                }
                _ => {
                    let start = self.pos;
                    let start_line = self.line;
                    while let Some(&c) = bytes.get(self.pos) {
                        match c {
                            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                            b'\\' => {
                                if bytes.get(self.pos + 1) == Some(&b'\n') {
                                    self.line += 1;
                                }
                                self.pos += self.escape_len(self.pos);
                            }
                            _ => self.pos += 1,
                        }
                    }
                    let text = &self.text[start..self.pos];
                    self.push(&mut entry, Token { text, quoted: false }, start_line, line_blank);
                }
            }
        }
    }

    fn push(&self, entry: &mut Entry<'a>, token: Token<'a>, line: usize, line_blank: bool) {
        if entry.tokens.is_empty() {
            entry.line = line;
            entry.blank_owner = line_blank;
        }
        entry.tokens.push(token);
    }
}

/// Parses a whole file. `origin` completes relative names until a `$ORIGIN`.
pub(crate) fn parse(text: &str, origin: Option<&Name>) -> Result<ParsedFile, LineError> {
    let mut lexer = Lexer::new(text);
    let given = origin.cloned();
    let mut origin = origin.cloned();
    let mut apex: Option<Name> = None;
    let mut default_ttl = DEFAULT_TTL;
    let mut previous_owner: Option<Name> = None;
    let mut records = Vec::new();
    while let Some(entry) = lexer.next_entry()? {
        let line = entry.line;
        let tokens = &entry.tokens;
        let first = &tokens[0];
        if !first.quoted && first.text.starts_with('$') && !entry.blank_owner {
            let directive = first.text.to_ascii_uppercase();
            let mut fields = Fields { tokens: &tokens[1..], next: 0 };
            match directive.as_str() {
                "$ORIGIN" => {
                    let name = fields.name("origin", origin.as_ref()).map_err(|k| (line, k))?;
                    fields.end().map_err(|k| (line, k))?;
                    if records.is_empty() && apex.is_none() {
                        apex = Some(name.clone());
                    }
                    origin = Some(name);
                }
                "$TTL" => {
                    default_ttl = fields.ttl("ttl").map_err(|k| (line, k))?;
                    fields.end().map_err(|k| (line, k))?;
                }
                _ => return Err((line, ZoneErrorKind::UnknownDirective(first.text.to_string()))),
            }
            continue;
        }
        let record =
            parse_record(&entry, origin.as_ref(), previous_owner.as_ref(), default_ttl).map_err(|kind| (line, kind))?;
        previous_owner = Some(record.owner.clone());
        records.push(record);
    }
    let apex = apex.or(given).ok_or((0, ZoneErrorKind::NoOrigin))?;
    Ok(ParsedFile { apex, records })
}

fn parse_record(
    entry: &Entry<'_>,
    origin: Option<&Name>,
    previous_owner: Option<&Name>,
    default_ttl: u32,
) -> Result<ParsedRecord, ZoneErrorKind> {
    let tokens = &entry.tokens;
    let mut next = 0;
    let owner = if entry.blank_owner {
        previous_owner.or(origin).cloned().ok_or(ZoneErrorKind::NoOrigin)?
    } else {
        next = 1;
        name_of(&tokens[0], origin)?
    };
    let mut ttl = None;
    let mut class_seen = false;
    let type_token = loop {
        let token = tokens.get(next).ok_or(ZoneErrorKind::MissingField("type"))?;
        next += 1;
        if !token.quoted && token.text.starts_with(|c: char| c.is_ascii_digit()) && ttl.is_none() {
            ttl = Some(parse_ttl(token.text)?);
        } else if !class_seen && !token.quoted && is_class(token.text) {
            if !token.text.eq_ignore_ascii_case("IN") {
                return Err(ZoneErrorKind::UnsupportedClass(token.text.to_string()));
            }
            class_seen = true;
        } else {
            break token;
        }
    };
    let mut fields = Fields { tokens: &tokens[next..], next: 0 };
    let rdata = parse_rdata(type_token, &mut fields, origin)?;
    fields.end()?;
    Ok(ParsedRecord { line: entry.line, owner, ttl: ttl.unwrap_or(default_ttl), rdata })
}

fn is_class(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    matches!(upper.as_str(), "IN" | "CH" | "CS" | "HS" | "NONE" | "ANY")
        || upper.strip_prefix("CLASS").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A name of the file, lowercased as NSD stores them (answers still spell the question's part of
/// a name as the client did, through compression).
fn name_of(token: &Token<'_>, origin: Option<&Name>) -> Result<Name, ZoneErrorKind> {
    parse_name(token.text, origin)
        .map(|name| name.to_lowercase())
        .map_err(|error| ZoneErrorKind::BadName { text: token.text.to_string(), error })
}

/// A TTL or SOA timer: seconds, or BIND's units (`1w2d3h4m5s`).
fn parse_ttl(text: &str) -> Result<u32, ZoneErrorKind> {
    let bad = || ZoneErrorKind::BadTtl(text.to_string());
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u32>().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.bytes() {
        if c.is_ascii_digit() {
            let n = number.unwrap_or(0) * 10 + u64::from(c - b'0');
            if n > u64::from(u32::MAX) {
                return Err(bad());
            }
            number = Some(n);
        } else {
            let unit = match c.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86400,
                b'w' => 604_800,
                _ => return Err(bad()),
            };
            total += number.take().ok_or_else(bad)? * unit;
            if total > u64::from(u32::MAX) {
                return Err(bad());
            }
        }
    }
    if number.is_some() {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Decodes a `<character-string>` (quoted or not): `\X` and `\DDD` escapes.
fn decode_string(text: &str) -> Result<Vec<u8>, ZoneErrorKind> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
            if let Some(d) = digits {
                let value = d.iter().fold(0u32, |v, c| v * 10 + u32::from(c - b'0'));
                out.push(
                    u8::try_from(value)
                        .map_err(|_| ZoneErrorKind::BadField { field: "string", text: text.to_string() })?,
                );
                i += 4;
            } else if let Some(&c) = bytes.get(i + 1) {
                out.push(c);
                i += 2;
            } else {
                return Err(ZoneErrorKind::BadField { field: "string", text: text.to_string() });
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

struct Fields<'t, 'a> {
    tokens: &'t [Token<'a>],
    next: usize,
}

impl<'t, 'a> Fields<'t, 'a> {
    fn next(&mut self, field: &'static str) -> Result<&'t Token<'a>, ZoneErrorKind> {
        let token = self.tokens.get(self.next).ok_or(ZoneErrorKind::MissingField(field))?;
        self.next += 1;
        Ok(token)
    }

    fn more(&self) -> bool {
        self.next < self.tokens.len()
    }

    fn end(&self) -> Result<(), ZoneErrorKind> {
        match self.tokens.get(self.next) {
            Some(token) => Err(ZoneErrorKind::TrailingData(token.text.to_string())),
            None => Ok(()),
        }
    }

    fn name(&mut self, field: &'static str, origin: Option<&Name>) -> Result<Name, ZoneErrorKind> {
        let token = self.next(field)?;
        name_of(token, origin)
    }

    fn number<T: FromStr>(&mut self, field: &'static str) -> Result<T, ZoneErrorKind> {
        let token = self.next(field)?;
        token.text.parse().map_err(|_| ZoneErrorKind::BadField { field, text: token.text.to_string() })
    }

    fn ttl(&mut self, field: &'static str) -> Result<u32, ZoneErrorKind> {
        let token = self.next(field)?;
        parse_ttl(token.text)
    }

    fn parsed<T: FromStr>(&mut self, field: &'static str) -> Result<T, ZoneErrorKind> {
        self.number(field)
    }
}

fn parse_rdata(type_token: &Token<'_>, f: &mut Fields<'_, '_>, origin: Option<&Name>) -> Result<RData, ZoneErrorKind> {
    let rtype = type_token.text.to_ascii_uppercase();
    Ok(match rtype.as_str() {
        "A" => RData::A(A(f.parsed::<Ipv4Addr>("address")?)),
        "AAAA" => RData::AAAA(AAAA(f.parsed::<Ipv6Addr>("address")?)),
        "NS" => RData::NS(NS(f.name("nsdname", origin)?)),
        "CNAME" => RData::CNAME(CNAME(f.name("target", origin)?)),
        "PTR" => RData::PTR(PTR(f.name("ptrdname", origin)?)),
        "MX" => {
            let preference = f.number("preference")?;
            RData::MX(MX::new(preference, f.name("exchange", origin)?))
        }
        "SOA" => {
            let mname = f.name("mname", origin)?;
            let rname = f.name("rname", origin)?;
            let serial = f.number("serial")?;
            let refresh = f.ttl("refresh")?;
            let retry = f.ttl("retry")?;
            let expire = f.ttl("expire")?;
            let minimum = f.ttl("minimum")?;
            // The wire fields are unsigned 32-bit; hickory keeps three of them as i32.
            RData::SOA(SOA::new(mname, rname, serial, refresh as i32, retry as i32, expire as i32, minimum))
        }
        "SRV" => {
            let priority = f.number("priority")?;
            let weight = f.number("weight")?;
            let port = f.number("port")?;
            RData::SRV(SRV::new(priority, weight, port, f.name("target", origin)?))
        }
        "TXT" => {
            let mut strings = Vec::new();
            let mut total = 0usize;
            while f.more() {
                let token = f.next("text")?;
                let s = decode_string(token.text)?;
                if s.len() > 255 {
                    return Err(ZoneErrorKind::StringTooLong);
                }
                total += s.len() + 1;
                if total > 65535 {
                    return Err(ZoneErrorKind::RdataTooLong);
                }
                strings.push(s);
            }
            if strings.is_empty() {
                return Err(ZoneErrorKind::MissingField("text"));
            }
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        "CAA" => {
            let flags: u8 = f.number("flags")?;
            let tag = f.next("tag")?;
            let value = decode_string(f.next("value")?.text)?;
            let bad_tag = || ZoneErrorKind::BadField { field: "tag", text: tag.text.to_string() };
            if tag.text.is_empty() || tag.text.len() > 15 || !tag.text.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad_tag());
            }
            let mut wire = vec![flags, tag.text.len() as u8];
            wire.extend_from_slice(tag.text.as_bytes());
            wire.extend_from_slice(&value);
            let len = u16::try_from(wire.len()).map_err(|_| ZoneErrorKind::RdataTooLong)?;
            RData::read(&mut BinDecoder::new(&wire), RecordType::CAA, Restrict::new(len)).map_err(|_| bad_tag())?
        }
        _ => return Err(ZoneErrorKind::UnsupportedType(type_token.text.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::from_ascii("example.com.").unwrap()
    }

    fn parse_ok(text: &str) -> Vec<ParsedRecord> {
        parse(text, Some(&origin())).unwrap().records
    }

    #[test]
    fn owners_ttls_and_classes() {
        let records = parse_ok(
            "$TTL 300\n@ IN A 192.0.2.1\n  600 AAAA ::1\nwww IN 60 A 192.0.2.2\nftp A 192.0.2.3\n$TTL 1h\nx.example.org. A 192.0.2.4\n",
        );
        let got: Vec<(String, u32)> = records.iter().map(|r| (r.owner.to_ascii(), r.ttl)).collect();
        assert_eq!(
            got,
            [
                ("example.com.".to_string(), 300),
                ("example.com.".to_string(), 600),
                ("www.example.com.".to_string(), 60),
                ("ftp.example.com.".to_string(), 300),
                ("x.example.org.".to_string(), 3600),
            ]
        );
    }

    #[test]
    fn default_ttl_without_directive_is_nsds() {
        let records = parse_ok("www A 192.0.2.1\n");
        assert_eq!(records[0].ttl, 3600);
    }

    #[test]
    fn origin_directive_sets_apex_and_relative_names() {
        let file =
            parse("$ORIGIN example.net.\nwww A 192.0.2.1\n$ORIGIN sub.example.net.\nx A 192.0.2.2\n", None).unwrap();
        assert_eq!(file.apex, Name::from_ascii("example.net.").unwrap());
        assert_eq!(file.records[1].owner, Name::from_ascii("x.sub.example.net.").unwrap());
        let err = parse("www A 192.0.2.1\n", None).unwrap_err();
        assert_eq!(err.0, 1);
        assert!(matches!(err.1, ZoneErrorKind::BadName { error: crate::NameError::NoOrigin, .. }));
    }

    #[test]
    fn parentheses_comments_and_quotes() {
        let records = parse_ok(
            "@ SOA ns hostmaster ( ; comment (with parens)\n  1 ; serial\n  2h 1h 1w\n  300 )\nt TXT \"a ; b\" \"c (d)\" e\\ f \"q\\\"x\" \\065\n",
        );
        let RData::SOA(soa) = &records[0].rdata else { panic!() };
        assert_eq!((soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum), (1, 7200, 3600, 604800, 300));
        assert_eq!(soa.mname, Name::from_ascii("ns.example.com.").unwrap());
        let RData::TXT(txt) = &records[1].rdata else { panic!() };
        let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(strings, vec![&b"a ; b"[..], b"c (d)", b"e f", b"q\"x", b"A"]);
        assert_eq!(records[1].line, 5);
    }

    #[test]
    fn every_supported_type() {
        let records = parse_ok(
            "a A 192.0.2.1\na AAAA 2001:db8::1\n@ NS ns1\nc CNAME a\n@ MX 10 mail\n_s._tcp SRV 1 2 3 t\n@ CAA 128 issue \"ca.example; x=y\"\np PTR a.example.net.\n",
        );
        let types: Vec<RecordType> = records.iter().map(|r| r.rdata.record_type()).collect();
        use RecordType::*;
        assert_eq!(types, [A, AAAA, NS, CNAME, MX, SRV, CAA, PTR]);
        let RData::CAA(caa) = &records[6].rdata else { panic!() };
        assert!(caa.issuer_critical);
        assert_eq!(caa.value, b"ca.example; x=y");
    }

    #[test]
    fn errors_carry_lines() {
        let cases: &[(&str, usize)] = &[
            ("a A 192.0.2.1\nb A 300.1.1.1\n", 2),
            ("a A 192.0.2.1\n\n\nb TXT \"open\n", 4),
            ("a A 192.0.2.1\nb SOA ( ns h 1 2 3 4\n 5\n", 2),
            ("a A 192.0.2.1 extra\n", 1),
            ("a CH A 192.0.2.1\n", 1),
            ("a HINFO x y\n", 1),
            ("$INCLUDE other\n", 1),
            ("a MX 10\n", 1),
            ("a TXT \"\\256\"\n", 1),
            ("a )\n", 1),
            (&format!("{} A 192.0.2.1\n", "x".repeat(64)), 1),
            (&format!("a TXT \"{}\"\n", "x".repeat(256)), 1),
            ("a CAA 0 is-sue x\n", 1),
            ("a A\n", 1),
            ("$TTL 1x\n", 1),
        ];
        for (text, line) in cases {
            let err = parse(text, Some(&origin())).unwrap_err();
            assert_eq!(err.0, *line, "{text:?}: {err:?}");
        }
    }
}
