//! The errors this crate's host functions produce besides WIT error codes.

use core::fmt;

use crate::bindings::wasi::filesystem::types::ErrorCode;
use crate::bindings::wasi::sockets::network::ErrorCode as SocketErrorCode;

/// The guest called `wasi:cli/exit`: `exit(ok)` is status 0, `exit(err)` is 1 (WASI 0.2's `exit`
/// carries only ok or err), and `exit-with-code(n)` is `n`. Host functions return it as a
/// `wasmtime::Error`, which unwinds the guest like a trap; the embedder recognises it with
/// `error.downcast_ref::<ExitStatus>()`. It is wasmtime-wasi's `I32Exit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(pub i32);

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the component exited with status {}", self.0)
    }
}

impl core::error::Error for ExitStatus {}

/// The error of a `wasi:filesystem/types` function: a code the guest receives, or a trap.
#[derive(Debug)]
#[non_exhaustive]
pub enum FsError {
    /// Returned to the guest as its `error-code`.
    Code(ErrorCode),
    /// Aborts the guest: a host bug, such as a resource missing from the table.
    Trap(wasmtime::Error),
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::Code(code) => write!(f, "filesystem error: {code:?}"),
            FsError::Trap(error) => write!(f, "filesystem host trap: {error}"),
        }
    }
}

impl core::error::Error for FsError {}

impl From<ErrorCode> for FsError {
    fn from(code: ErrorCode) -> Self {
        FsError::Code(code)
    }
}

impl From<wasmtime::component::ResourceTableError> for FsError {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        FsError::Trap(error.into())
    }
}

impl From<wasmtime::Error> for FsError {
    fn from(error: wasmtime::Error) -> Self {
        FsError::Trap(error)
    }
}

/// The error of a `wasi:sockets` function: a code the guest receives, or a trap. Like
/// wasmtime-wasi's `SocketError`.
#[derive(Debug)]
#[non_exhaustive]
pub enum SocketError {
    /// Returned to the guest as its `error-code`.
    Code(SocketErrorCode),
    /// Aborts the guest: a host bug, or a guest breaking a rule wasmtime-wasi also traps on
    /// (such as sending more datagrams than `check-send` allowed).
    Trap(wasmtime::Error),
}

impl SocketError {
    /// A trap with this message.
    pub fn trap(message: &str) -> Self {
        SocketError::Trap(wasmtime::format_err!("{message}"))
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::Code(code) => write!(f, "socket error: {code:?}"),
            SocketError::Trap(error) => write!(f, "socket host trap: {error}"),
        }
    }
}

impl core::error::Error for SocketError {}

impl From<SocketErrorCode> for SocketError {
    fn from(code: SocketErrorCode) -> Self {
        SocketError::Code(code)
    }
}

impl From<wasmtime::component::ResourceTableError> for SocketError {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        SocketError::Trap(error.into())
    }
}

impl From<wasmtime::Error> for SocketError {
    fn from(error: wasmtime::Error) -> Self {
        SocketError::Trap(error)
    }
}

/// A `wasi:sockets` error code as a Rust error: what a failed socket stream operation carries
/// (`stream-error.last-operation-failed`), and what `network-error-code` recovers from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFailure(pub SocketErrorCode);

impl fmt::Display for StreamFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl core::error::Error for StreamFailure {}
