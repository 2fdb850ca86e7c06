//! Sans-IO authoritative DNS server: zone files in, DNS messages out.
//!
//! [`Catalog`] holds the zones a server is authoritative for, parsed from RFC 1035 master files
//! ([`Zone::parse`]) and checked on load (one SOA at the apex, CNAME exclusivity, no out-of-zone
//! data, glue for in-bailiwick delegations); every error names the file and the line.
//! [`Catalog::handle_udp`] and [`Catalog::handle_tcp`] turn one query message into the response
//! message(s); [`TcpFramer`] splits a TCP byte stream into messages.
//!
//! What it promises:
//! - **No I/O, no clock, no randomness.** Bytes in, bytes out; the caller owns the sockets.
//! - **No panic on any input.** Truncated or garbage packets, compression loops, over-long
//!   labels and names and arbitrary zone-file text give an error, a FORMERR response or a silent
//!   drop (see [`Catalog::handle_udp`] for which), never a panic. Fuzzed (`fuzz/`).
//! - **NSD's answers.** Where the RFCs leave a choice (section contents, additional-section
//!   processing, truncation, ANY, AXFR/IXFR fallbacks, error responses) the responses follow NSD
//!   4.6 with its default configuration, so that the two can be compared query by query.
//!
//! The wire types (names, record data) are `hickory-proto`'s; the message encoder is our own,
//! because NSD's truncation rules need RRset-granular rollback and case-insensitive compression.
#![forbid(unsafe_code)]

mod answer;
mod catalog;
mod framing;
mod name;
mod query;
mod server;
mod wire;
mod zone;
mod zonefile;

#[cfg(test)]
mod tests;

pub use catalog::{Catalog, Options};
pub use framing::{FrameError, TcpFramer, frame};
pub use name::NameError;
pub use server::{Reply, Responses};
pub use zone::{Zone, ZoneError, ZoneErrorKind};

/// Re-exported wire types of `hickory-proto`, which the public API uses.
pub use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The UDP payload size this server advertises in its OPT record and the most it sends over UDP
/// (NSD's default, the DNS Flag Day 2020 value).
pub const EDNS_UDP_PAYLOAD: u16 = 1232;
