//! Sans-IO syslog: formats RFC 5424 messages and frames them for a transport, with no I/O and
//! no clock of its own (the caller passes the time in).
//!
//! - [`Message`] renders `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`: header fields
//!   are made PRINTUSASCII (other characters become `_`) and cut to the RFC's lengths, empty
//!   ones become the NILVALUE `-`. MSG is UTF-8 *without* a BOM (RFC 5424's `MSG-ANY`): rsyslog
//!   and journald show it cleanly, while a BOM would end up in their output as three bytes.
//! - [`Timestamp`] formats unix seconds + nanoseconds as RFC 3339 UTC with microseconds.
//! - [`udp_datagram`] (RFC 5426: one message per datagram, cut on a UTF-8 boundary) and
//!   [`octet_counted`] (RFC 6587 over TCP, RFC 5425 over TLS: `LEN SP MSG`) frame a formatted
//!   message.
//! - [`Target`] parses `SYSLOG=udp://HOST[:PORT]` / `tcp://HOST[:PORT]` / `tls://HOST[:PORT]`;
//!   [`Config`] gathers the `SYSLOG*` environment variables (with [`TlsSettings`] for TLS),
//!   refuses a transport the caller was built without, and turns a `wasi:logging` call into a
//!   frame.
//!
//! Nothing here panics on any input.
#![forbid(unsafe_code)]

mod config;
mod frame;
mod message;
mod time;

pub use config::{
    Config, ConfigError, DEFAULT_APP_NAME, DEFAULT_PORT, DEFAULT_TLS_PORT, Host, ParseTargetError, Target, TlsSettings,
    Transport,
};
pub use frame::{DEFAULT_UDP_MAX, octet_counted, udp_datagram};
pub use message::{
    APP_NAME_MAX, Facility, HOSTNAME_MAX, Level, MSGID_MAX, Message, PROCID_MAX, ParseFacilityError, Severity,
    header_field, stderr_line,
};
pub use time::Timestamp;
